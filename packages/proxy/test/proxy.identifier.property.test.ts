/**
 * Property tests (fast-check) of PROXY.md "The URL and the identifier":
 * `parseIdentifier(buildIdentifier(x))` deep-equals `x` for every valid
 * input; every string, every byte sequence and every mix of tricky tokens
 * either parses to a valid identifier or is refused with one of the fixed
 * reasons (never another error); through the handler every such identifier
 * gets a fixed 400 body that never echoes it.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { IdentifierError, MAX_IDENTIFIER_LENGTH, MemoryCaRegistry, MemoryProfileStore, buildIdentifier, createScepProxy, parseIdentifier, type ProxyIdentifier } from "../src/index.js";

const RUNS = 3000;
const REASONS = ["empty", "too_long", "field_count", "empty_field", "bad_encoding", "control_character"];
const CONTROL = /[\u0000-\u001f\u007f]/;
/** Characters a built identifier may hold: encodeURIComponent's unreserved set, escapes, commas. */
const BUILT = /^[A-Za-z0-9\-_.!~*'()%,]*$/;

/** Real-looking identifiers (Fleet: host UUID, profile UUID, CA name, challenge) as the first examples. */
const REAL: ProxyIdentifier[] = [
  { hostId: "9f1c2d3e-4b5a-6789-abcd-ef0123456789", profileId: "a1b2c3d4-0000-1111-2222-333344445555", caName: "NDES_CORP" },
  { hostId: "C02XK0AAJGH5", profileId: "wifi-eap-tls", caName: "smallstep prod", challenge: "Zm9vYmFyYmF6cXV4cXV1eDEyMzQ1Njc4OTAxMjM0" },
  { hostId: "host,with,commas", profileId: "p/with/slashes", challenge: "a+b/c=" },
  { hostId: "100%", profileId: "ünïcødé ✓ 🚀" },
];

const text = (min = 0): fc.Arbitrary<string> => fc.string({ unit: "binary", minLength: min, maxLength: 60 }).filter((s) => !CONTROL.test(s));
const identifier: fc.Arbitrary<ProxyIdentifier> = fc.record(
  { hostId: text(1), profileId: text(1), caName: text(1), challenge: text() },
  { requiredKeys: ["hostId", "profileId"] },
).map((r) => ({ ...r })); // a plain object (fast-check's records have a null prototype)
/** Any UTF-16 string, lone surrogates and controls included. */
const anyUtf16 = fc.array(fc.integer({ min: 0, max: 0xffff }), { maxLength: 40 }).map((units) => String.fromCharCode(...units));
/** Strings assembled from the tokens that break naive parsers. */
const tricky = fc
  .array(fc.constantFrom(",", "%", "%2", "%zz", "%00", "%0A", "%C3", "%28", "%C3%A9", "%FF", "%ED%A0%80", "%C0%AF", "%E2%82%AC", "%2C", "%25", "a", "Z", "+", "/", " ", "\u0000", "\uD800", "é"), {
    maxLength: 30,
  })
  .map((parts) => parts.join(""));

function outcome(segment: string): ProxyIdentifier | string {
  try {
    return parseIdentifier(segment);
  } catch (e) {
    if (!(e instanceof IdentifierError)) throw e;
    expect(REASONS).toContain(e.reason);
    expect(e.message).toBe(new IdentifierError(e.reason).message); // fixed per reason: the input is never echoed
    return e.reason;
  }
}

function isValid(id: ProxyIdentifier): boolean {
  const fields = [id.hostId, id.profileId, id.caName ?? "x", id.challenge ?? ""];
  return id.hostId !== "" && id.profileId !== "" && id.caName !== "" && fields.every((f) => !CONTROL.test(f));
}

describe("identifier properties", () => {
  it("parse(build(x)) deep-equals x for every valid identifier; the built form is path-safe", () => {
    fc.assert(
      fc.property(identifier, (id) => {
        let built: string;
        try {
          built = buildIdentifier(id);
        } catch (e) {
          // Only length can refuse a valid identifier.
          expect(e).toMatchObject({ code: "ERR_PROXY_IDENTIFIER", reason: "too_long" });
          return;
        }
        expect(built).toMatch(BUILT);
        expect(built.length).toBeLessThanOrEqual(MAX_IDENTIFIER_LENGTH);
        expect(parseIdentifier(built)).toStrictEqual(id);
      }),
      { numRuns: RUNS, examples: REAL.map((r) => [r]) },
    );
  });

  it("build of any UTF-16 fields either round-trips or refuses with a fixed reason (controls, lone surrogates, empty fields)", () => {
    fc.assert(
      fc.property(anyUtf16, anyUtf16, fc.option(anyUtf16, { nil: undefined }), fc.option(anyUtf16, { nil: undefined }), (hostId, profileId, caName, challenge) => {
        const id: ProxyIdentifier = { hostId, profileId, ...(caName !== undefined ? { caName } : {}), ...(challenge !== undefined ? { challenge } : {}) };
        let built: string;
        try {
          built = buildIdentifier(id);
        } catch (e) {
          expect(e).toBeInstanceOf(IdentifierError);
          expect(REASONS).toContain((e as IdentifierError).reason);
          return;
        }
        expect(isValid(id)).toBe(true);
        expect(parseIdentifier(built)).toStrictEqual(id);
      }),
      { numRuns: RUNS },
    );
  });

  it("parse of any string or token soup: a valid identifier or a fixed reason, never another error", () => {
    fc.assert(
      fc.property(fc.oneof(anyUtf16, tricky, fc.string({ maxLength: 200 })), (segment) => {
        const r = outcome(segment);
        if (typeof r !== "string") expect(isValid(r)).toBe(true);
      }),
      { numRuns: RUNS },
    );
  });

  it("percent-encoded bytes: accepted exactly when they are UTF-8 without control characters", () => {
    // ignoreBOM: the oracle keeps a leading EF BB BF as U+FEFF, as the parser does (a WHATWG decoder drops it by
    // default, which made the oracle disagree whenever the random bytes began with it). Both BOM cases run every time.
    const fatal = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 24 }), (bytes) => {
        const segment = `host,${[...bytes].map((b) => `%${b.toString(16).padStart(2, "0")}`).join("")}`;
        let decoded: string | undefined;
        try {
          decoded = fatal.decode(bytes);
        } catch {
          decoded = undefined;
        }
        const r = outcome(segment);
        if (decoded === undefined) expect(r).toBe("bad_encoding");
        else if (CONTROL.test(decoded)) expect(r).toBe("control_character");
        else expect(r).toStrictEqual({ hostId: "host", profileId: decoded });
      }),
      { numRuns: RUNS, examples: [[Uint8Array.from([0xef, 0xbb, 0xbf, 0x61])], [Uint8Array.from([0xef, 0xbb, 0xbf])]] },
    );
  });

  it("huge identifiers are refused as too_long before any decoding", () => {
    fc.assert(
      fc.property(fc.integer({ min: MAX_IDENTIFIER_LENGTH + 1, max: 100_000 }), (n) => {
        expect(outcome(`a,${"%".repeat(n)}`)).toBe("too_long");
      }),
      { numRuns: 50 },
    );
  });
});

describe("identifiers of every shape through the handler", () => {
  const proxy = createScepProxy({
    profiles: new MemoryProfileStore(),
    cas: new MemoryCaRegistry([{ name: "ndes", type: "ndes", url: "http://127.0.0.1:9/never-called" }]),
    logger: { error: () => expect.unreachable("nothing is logged for a device's mistake") },
  });

  it("every segment gets 400 with a fixed body (invalid or unknown identifier), never echoed, never a 5xx", async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(anyUtf16, tricky, fc.string({ maxLength: 300 })), async (segment) => {
        // What a client can put on the wire: the URL parser escapes what is not allowed in a path.
        const url = `http://proxy.test/scep/${segment.replace(/[\/?#\\]/g, "_")}?operation=GetCACaps`;
        let request: Request;
        try {
          request = new Request(url);
        } catch {
          return; // not a URL any client could send
        }
        // "." and ".." segments (also as %2e) are dot segments: the URL parser removes them, the path leaves the base.
        if (!new URL(request.url).pathname.startsWith("/scep/")) return;
        const res = await proxy.fetch(request);
        const body = await res.text();
        expect(res.status).toBe(400);
        expect(["invalid identifier", "unknown identifier"]).toContain(body);
      }),
      { numRuns: Number(process.env.HANDLER_RUNS ?? 1000) },
    );
  });
});
