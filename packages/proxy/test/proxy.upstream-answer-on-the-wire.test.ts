/**
 * What the proxy copies from a pluggable component to the device's response must be what HTTP allows. An `Upstream`
 * of one's own may resolve with any status, Content-Type and body, and reject with any `retryAfterSeconds`; a store
 * may throw a `StoreUnavailableError` with any `retryAfterSeconds`. Before:
 * - a `retryAfterSeconds` of NaN (or a string) went out as `Retry-After: NaN`; a store's Infinity or 1e21 as
 *   `Retry-After: Infinity` / `1e+21`;
 * - a status outside 200–599, a Content-Type holding CR/LF, NUL or a character past U+00FF, or content with a 204
 *   made the web `Response` throw: 502, and the logger saw "upstream call threw a non-UpstreamError" (an untyped
 *   failure, no reason for the MDM); a fractional status (200.5) or a status given as a string went out as 200;
 * - an undefined Content-Type went out as `content-type: undefined`, a body that was no `Uint8Array` (a string, none)
 *   as a 200 with that text or nothing;
 * - a resolved 3xx–5xx (an Upstream that does not reject) went to the device unchanged, with the CA's page.
 * Now: Retry-After is whole seconds within the bounds (a fraction rounded up, Infinity the maximum, a negative the
 * minimum, a non-number as none given: the default); a status 300–599 is the upstream's HTTP error (as if rejected
 * with reason `http`); anything else HTTP cannot carry is 502 `upstream failed`, event reason `other`, nothing
 * logged; a 204 without content passes as a 204.
 */
import { StoreUnavailableError } from "@scep/core";
import { beforeEach, describe, expect, it } from "vitest";
import { MemoryCaRegistry, MemoryProfileStore, UpstreamError, buildProxyUrl, createScepProxy, type ProxyEvent, type ScepProxy, type Upstream, type UpstreamResponse } from "../src/index.js";

const KEY = { hostId: "h1", profileId: "p1", caName: "ndes" } as const;
const URL_BASE = buildProxyUrl("http://proxy.test/scep", KEY);
const MSG = Buffer.from("MIIB+/+/abcd", "base64");
const CAPS = new TextEncoder().encode("POSTPKIOperation\nSHA-256\n");

/** What the custom Upstream does next, for every operation. */
let next: () => Promise<UpstreamResponse>;
const upstream: Upstream = { getCACaps: () => next(), getCACert: () => next(), pkiOperation: () => next() };

let profiles: MemoryProfileStore;
let events: ProxyEvent[];
let logged: string[];
let proxy: ScepProxy;

beforeEach(async () => {
  events = [];
  logged = [];
  profiles = new MemoryProfileStore();
  await profiles.put({ ...KEY, status: "pending", challengeRetrievedAt: Date.now(), updatedAt: 0 });
  proxy = createScepProxy({
    profiles,
    cas: new MemoryCaRegistry([{ name: "ndes", type: "ndes", url: "https://ndes.test/certsrv/mscep/mscep.dll" }]),
    upstream,
    onEvent: (e) => events.push(e),
    logger: { error: (m) => logged.push(m) },
  });
});

async function ask(operation: "GetCACaps" | "GetCACert" | "PKIOperation" = "GetCACaps"): Promise<{ status: number; headers: Headers; body: string }> {
  const res = await proxy.fetch(operation === "PKIOperation" ? new Request(`${URL_BASE}?operation=PKIOperation`, { method: "POST", body: MSG }) : new Request(`${URL_BASE}?operation=${operation}`));
  return { status: res.status, headers: res.headers, body: await res.text() };
}

describe("Retry-After from an Upstream's UpstreamError (a busy 503 or 429)", () => {
  it.each<[string, unknown, string]>([
    ["NaN: as none given, the default", Number.NaN, "30"],
    ["a string: as none given, the default", "soon", "30"],
    ["a numeric string: as none given, the default", "45", "30"],
    ["a fraction: rounded up", 1.2, "2"],
    ["a negative: the minimum", -5, "1"],
    ["0: the minimum", 0, "1"],
    ["-Infinity: the minimum", Number.NEGATIVE_INFINITY, "1"],
    ["Infinity: the maximum", Number.POSITIVE_INFINITY, "3600"],
    ["huge: the maximum", 1e21, "3600"],
    ["a whole number in range: as given", 120, "120"],
  ])("%s → Retry-After %s, digits only", async (_what, retryAfterSeconds, header) => {
    for (const status of [503, 429]) {
      next = () => Promise.reject(new UpstreamError("http", `upstream answered HTTP ${status}`, { status, retryAfterSeconds: retryAfterSeconds as number }));
      const res = await ask();
      expect([res.status, res.body, res.headers.get("retry-after")]).toEqual([502, "upstream failed", header]);
      expect(res.headers.get("retry-after")).toMatch(/^[1-9]\d*$/);
    }
    expect(logged).toEqual([]);
  });
});

describe("Retry-After from a store's StoreUnavailableError", () => {
  it.each<[string, unknown, string]>([
    ["Infinity: one day (MAX_RETRY_AFTER_SECONDS)", Number.POSITIVE_INFINITY, "86400"],
    ["1e21: one day", 1e21, "86400"],
    ["a fraction: rounded up", 2.5, "3"],
    ["NaN: the default", Number.NaN, "30"],
    ["a string: the default", "later", "30"],
    ["0: the least, 1 s (as @scep/core sends it)", 0, "1"],
    ["a negative number: 1 s", -3, "1"],
  ])("%s → 503 Retry-After %s", async (_what, retryAfterSeconds, header) => {
    profiles.get = () => Promise.reject(new StoreUnavailableError("profile store down", { retryAfterSeconds: retryAfterSeconds as number }));
    const res = await ask();
    expect([res.status, res.body, res.headers.get("retry-after")]).toEqual([503, "service unavailable", header]);
  });
});

describe("the status an Upstream resolves with", () => {
  it.each<[string, unknown]>([
    ["600", 600],
    ["99", 99],
    ["100 (an interim status as the answer)", 100],
    ["199", 199],
    ["a fraction (200.5)", 200.5],
    ["NaN", Number.NaN],
    ["a string", "200"],
    ["none", undefined],
  ])("%s → 502 upstream failed, event reason other, nothing logged", async (_what, status) => {
    next = async () => ({ status, contentType: "text/plain", body: CAPS }) as UpstreamResponse;
    const res = await ask();
    expect([res.status, res.body]).toEqual([502, "upstream failed"]);
    expect(events.at(-1)).toMatchObject({ outcome: "upstream_error", reason: "upstream_failed", upstream: { reason: "other" } });
    expect(logged).toEqual([]);
  });

  it("a 3xx–5xx is the upstream's HTTP error: 404 → 502, 400 → 400 upstream refused, 503 → 502 with Retry-After; never the CA's page", async () => {
    const answers: [number, number, string, string | null][] = [];
    for (const status of [302, 404, 400, 500, 503]) {
      next = async () => ({ status, contentType: "text/html", body: new TextEncoder().encode("<html>CA page</html>") });
      const res = await ask();
      answers.push([status, res.status, res.body, res.headers.get("retry-after")]);
      expect(events.at(-1)?.upstream).toEqual({ reason: "http", status });
    }
    expect(answers).toEqual([
      [302, 502, "upstream failed", null],
      [404, 502, "upstream failed", null],
      [400, 400, "upstream refused the request", null],
      [500, 502, "upstream failed", null],
      [503, 502, "upstream failed", "30"],
    ]);
    expect(logged).toEqual([]);
  });

  it("a 204 without content passes as a 204; a 204 or 205 with content → 502", async () => {
    next = async () => ({ status: 204, contentType: null, body: new Uint8Array(0) });
    const empty = await ask();
    expect([empty.status, empty.body, events.at(-1)?.outcome]).toEqual([204, "", "forwarded"]);
    for (const status of [204, 205]) {
      next = async () => ({ status, contentType: "text/plain", body: CAPS });
      const res = await ask();
      expect([res.status, res.body]).toEqual([502, "upstream failed"]);
      expect(events.at(-1)?.upstream).toEqual({ reason: "other" });
    }
    expect(logged).toEqual([]);
  });
});

describe("the Content-Type an Upstream resolves with", () => {
  it.each<[string, unknown]>([
    ["CR LF and another header", "text/plain\r\nX-Injected: 1"],
    ["a lone LF", "application/x-pki-message\nx"],
    ["NUL", "text/plain\u0000"],
    ["another control character", "text/plain\u0001"],
    ["DEL", "text/plain\u007f"],
    ["a character past U+00FF", "text/plain; charset=日本"],
    ["a number", 42],
  ])("%s → 502 upstream failed, event reason other, nothing logged (GetCACaps, GetCACert, PKIOperation)", async (_what, contentType) => {
    for (const operation of ["GetCACaps", "GetCACert", "PKIOperation"] as const) {
      next = async () => ({ status: 200, contentType, body: CAPS }) as UpstreamResponse;
      const res = await ask(operation);
      expect([operation, res.status, res.body, res.headers.get("x-injected")]).toEqual([operation, 502, "upstream failed", null]);
      expect(events.at(-1)).toMatchObject({ operation, upstream: { reason: "other" } });
    }
    expect(logged).toEqual([]);
  });

  it("null or undefined: no Content-Type at all (never `undefined`); a field value with a tab or Latin-1 goes out as given", async () => {
    for (const contentType of [null, undefined]) {
      next = async () => ({ status: 200, contentType, body: CAPS }) as UpstreamResponse;
      const res = await ask();
      expect([res.status, res.headers.get("content-type"), res.body]).toEqual([200, null, "POSTPKIOperation\nSHA-256\n"]);
    }
    next = async () => ({ status: 200, contentType: "text/plain;\tcharset=latin1; x=é", body: CAPS });
    const res = await ask();
    expect([res.status, res.headers.get("content-type")]).toEqual([200, "text/plain;\tcharset=latin1; x=é"]);
  });
});

describe("the body an Upstream resolves with", () => {
  it.each<[string, unknown]>([
    ["a string", "POSTPKIOperation\n"],
    ["none", undefined],
    ["null", null],
    ["an ArrayBuffer", new ArrayBuffer(4)],
    ["an array of numbers", [0x30, 0x00]],
  ])("%s → 502 upstream failed, event reason other, nothing logged", async (_what, body) => {
    for (const operation of ["GetCACaps", "GetCACert", "PKIOperation"] as const) {
      next = async () => ({ status: 200, contentType: "text/plain", body }) as UpstreamResponse;
      const res = await ask(operation);
      expect([operation, res.status, res.body]).toEqual([operation, 502, "upstream failed"]);
      expect(events.at(-1)).toMatchObject({ upstream: { reason: "other" } });
    }
    expect(logged).toEqual([]);
  });

  it("no answer at all (an Upstream resolving undefined) → 502, event reason other, nothing logged", async () => {
    next = async () => undefined as unknown as UpstreamResponse;
    const res = await ask();
    expect([res.status, res.body]).toEqual([502, "upstream failed"]);
    expect(events.at(-1)?.upstream).toEqual({ reason: "other" });
    expect(logged).toEqual([]);
  });
});
