/**
 * Every numeric option of @scep/proxy's constructors and factory (timeouts in ms, body and response limits in bytes,
 * a CA's challenge TTL) is checked when the object is built: NaN, a negative, a fraction, a numeric string, Infinity
 * or a value past the range throws ProxyConfigError `ERR_PROXY_CONFIG` with one line naming the option, its unit and
 * range, and the value given. Timeouts run on timers, so they stop at 2 147 483 647 ms (a longer one fired at once);
 * before, only "a positive integer" was asked. The stores, registry, upstream and hooks `createScepProxy` calls must be
 * objects with their methods, or functions.
 */
import { describe, expect, it } from "vitest";
import {
  FetchHandlerUpstream,
  HttpUpstream,
  MemoryCaRegistry,
  MemoryChallengeSource,
  MemoryProfileStore,
  NdesChallengeSource,
  SmallstepChallengeSource,
  createScepProxy,
  type ScepProxyOptions,
} from "../src/index.js";

const NDES = { name: "corp", type: "ndes", url: "https://ndes.test/certsrv/mscep/mscep.dll" } as const;
const proxy = (over: Record<string, unknown> = {}) => createScepProxy({ profiles: new MemoryProfileStore(), cas: new MemoryCaRegistry([NDES]), ...over } as ScepProxyOptions);
const shown = (v: unknown): string => (typeof v === "string" ? JSON.stringify(v) : String(v));

const TIMER = { unit: "milliseconds", min: 1, max: 2_147_483_647 };
const BYTES = { unit: "bytes", min: 1, max: 1_073_741_824 };
const rows: { owner: string; name: string; unit: string; min: number; max: number; build(v: unknown): unknown }[] = [
  { owner: "createScepProxy", name: "upstreamTimeoutMs", ...TIMER, build: (v) => proxy({ upstreamTimeoutMs: v }) },
  { owner: "createScepProxy", name: "maxBodyBytes", ...BYTES, build: (v) => proxy({ maxBodyBytes: v }) },
  { owner: "HttpUpstream", name: "timeoutMs", ...TIMER, build: (v) => new HttpUpstream({ timeoutMs: v as number }) },
  { owner: "HttpUpstream", name: "capsTtlMs", ...TIMER, build: (v) => new HttpUpstream({ capsTtlMs: v as number }) },
  { owner: "HttpUpstream", name: "maxResponseBytes", ...BYTES, build: (v) => new HttpUpstream({ maxResponseBytes: v as number }) },
  { owner: "HttpUpstream", name: "maxRequestBytes", ...BYTES, build: (v) => new HttpUpstream({ maxRequestBytes: v as number }) },
  { owner: "FetchHandlerUpstream", name: "timeoutMs", ...TIMER, build: (v) => new FetchHandlerUpstream({ fetch: async () => new Response() }, { timeoutMs: v as number }) },
  { owner: "NdesChallengeSource", name: "timeoutMs", ...TIMER, build: (v) => new NdesChallengeSource({ timeoutMs: v as number }) },
  { owner: "NdesChallengeSource", name: "maxBodyBytes", ...BYTES, build: (v) => new NdesChallengeSource({ maxBodyBytes: v as number }) },
  { owner: "SmallstepChallengeSource", name: "timeoutMs", ...TIMER, build: (v) => new SmallstepChallengeSource({ timeoutMs: v as number }) },
  { owner: "SmallstepChallengeSource", name: "maxBodyBytes", ...BYTES, build: (v) => new SmallstepChallengeSource({ maxBodyBytes: v as number }) },
  { owner: "MemoryCaRegistry", name: "CA #1: challengeTtlMs", unit: "milliseconds", min: 1, max: 31_536_000_000, build: (v) => new MemoryCaRegistry([{ ...NDES, challengeTtlMs: v as number }]) },
];

describe("@scep/proxy: numeric options are checked at construction", () => {
  for (const r of rows) {
    const bad = [Number.NaN, -1, 0, 1.5, String(r.min), Number.POSITIVE_INFINITY, r.max + 1, null];
    it(`${r.owner} ${r.name}: refuses ${bad.map(shown).join(", ")}; accepts ${r.min} and ${r.max}`, () => {
      for (const v of bad) {
        expect(() => r.build(v), `${r.name} = ${shown(v)}`).toThrow(
          expect.objectContaining({ name: "ProxyConfigError", code: "ERR_PROXY_CONFIG", message: `${r.name} must be an integer number of ${r.unit} from ${r.min} to ${r.max} (got ${shown(v)})` }),
        );
      }
      for (const good of [r.min, r.max]) expect(() => r.build(good)).not.toThrow();
    });
  }
});

describe("@scep/proxy: stores, registry, upstream and hooks are checked at construction", () => {
  const config = (message: string) => expect.objectContaining({ name: "ProxyConfigError", code: "ERR_PROXY_CONFIG", message });
  it.each([
    ["no profiles", { profiles: undefined }, "profiles must be a ProfileStore (get, put, requeue, markFailed, delete, list)"],
    ["cas as an array", { cas: [NDES] }, "cas must be a CaRegistry (get, list)"],
    ["challenges without consume", { challenges: { issue: async () => "x" } }, "challenges must be a ChallengeStore (issue, consume)"],
    ["an upstream without pkiOperation", { upstream: { getCACaps() {}, getCACert() {} } }, "upstream must be an Upstream (getCACaps, getCACert, pkiOperation)"],
    ["a logger that is console.error", { logger: console.error }, "logger must be a ProxyLogger (error)"],
    ["a now that is a Date", { now: new Date() }, "now must be a function (got object)"],
    ["an onEvent array holding a string", { onEvent: ["log"] }, "onEvent[0] must be a function (got string)"],
  ])("createScepProxy with %s: ERR_PROXY_CONFIG", (_what, over, message) => {
    expect(() => proxy(over)).toThrow(config(message));
  });

  it("the sources, stores and upstreams refuse hooks that are not functions", () => {
    expect(() => new HttpUpstream({ fetch: "https://ca.test" as never })).toThrow(config("fetch must be a function (got string)"));
    expect(() => new SmallstepChallengeSource({ payloadIdentifier: "X" as never })).toThrow(config("payloadIdentifier must be a function (got string)"));
    expect(() => new NdesChallengeSource({ now: Date.now() as never })).toThrow(config("now must be a function (got number)"));
    // A store's option is @scep/core's InvalidArgumentError, in the words of @scep/redis's RedisProfileStore (same interface).
    expect(() => new MemoryProfileStore({ now: new Date() as never })).toThrow(expect.objectContaining({ name: "InvalidArgumentError", code: "ERR_INVALID_ARGUMENT", message: "now must be a function returning a Date (got an object)" }));
    expect(() => new MemoryChallengeSource({ challenge: 42 as never })).toThrow(config("challenge must be a function (got number)"));
    expect(() => new FetchHandlerUpstream({} as never)).toThrow(config("handler must be a FetchHandler (fetch)"));
  });
});

describe("@scep/proxy: the upstream's User-Agent is checked at construction", () => {
  // fetch sends a header value as bytes and refuses a newline or a character past U+00FF: before, the upstream was
  // built, and every call failed as an upstream fault (UpstreamError `other`, the device 502, the MDM told the CA failed).
  const message = "userAgent must be an HTTP field value: ASCII or Latin-1 characters (up to U+00FF), no control character but a tab (RFC 9110 section 5.5)";
  it.each([
    ["a line feed", "mdm/1.0\nX-Injected: 1"],
    ["a carriage return", "mdm/1.0\r"],
    ["NUL", "mdm\u00001.0"],
    ["DEL", "mdm\u007f"],
    ["a character past U+00FF", "MDM 日本"],
    ["a number", 42 as unknown as string],
  ])("HttpUpstream and FetchHandlerUpstream refuse %s with ProxyConfigError (ERR_PROXY_CONFIG)", (_what, userAgent) => {
    const config = expect.objectContaining({ name: "ProxyConfigError", code: "ERR_PROXY_CONFIG", message });
    expect(() => new HttpUpstream({ userAgent })).toThrow(config);
    expect(() => new FetchHandlerUpstream({ fetch: async () => new Response() }, { userAgent })).toThrow(config);
  });

  it("visible ASCII, Latin-1, spaces and tabs, and the empty string are accepted, and sent as given", async () => {
    for (const userAgent of ["scep-sdk/1.0 (MDM; +https://mdm.example)", "Société\tMDM", ""]) {
      let sent: string | null = null;
      const upstream = new HttpUpstream({
        userAgent,
        fetch: async (input, init) => {
          sent = new Request(input, init).headers.get("user-agent");
          return new Response("POSTPKIOperation\n", { headers: { "content-type": "text/plain" } });
        },
      });
      await upstream.getCACaps({ name: "corp", type: "custom", url: "https://ca.test/scep" });
      expect(sent).toBe(userAgent);
    }
  });
});
