/**
 * Every numeric option of @scep/intune's validators and API clients (timeouts in ms, TTLs in ms, counts) is
 * checked when the object is built: NaN, a negative, a fraction, a numeric string, Infinity or a value past the range
 * throws IntuneConfigError `ERR_INTUNE_CONFIG` with one line naming the option, its unit and range, and the value
 * given. Before, EntraTokenProvider took any `timeoutMs`, `retries` and `refreshBeforeMs` (NaN retries: no attempt),
 * timeouts had no 2^31 − 1 ms cap (a longer timer fires at once), and hooks were not checked.
 */
import { describe, expect, it } from "vitest";
import { EntraTokenProvider, IntuneRevocationClient, IntuneScepClient, IntuneValidator, MemoryRateLimiter, MemoryReplayCache, SignedTokenValidator } from "../src/index.js";

const API = { tenant: "contoso.onmicrosoft.com", clientId: "00000000-0000-0000-0000-000000000001", credential: { clientSecret: "s3cret" } };
const shown = (v: unknown): string => (typeof v === "string" ? JSON.stringify(v) : String(v));
const TIMER = { unit: "an integer number of milliseconds", min: 1, max: 2_147_483_647 };
const TTL = { unit: "an integer number of milliseconds", min: 1, max: 31_536_000_000 };
const COUNT = { unit: "an integer", min: 1, max: 100_000_000 };

const rows: { owner: string; name: string; unit: string; min: number; max: number; build(v: unknown): unknown }[] = [
  { owner: "SignedTokenValidator", name: "clockSkewMs", unit: "an integer number of milliseconds", min: 0, max: 86_400_000, build: (v) => new SignedTokenValidator({ clockSkewMs: v as number }) },
  { owner: "SignedTokenValidator", name: "maxValidityMs", ...TTL, build: (v) => new SignedTokenValidator({ maxValidityMs: v as number }) },
  { owner: "SignedTokenValidator", name: "replayTtlMs", ...TTL, build: (v) => new SignedTokenValidator({ replayTtlMs: v as number }) },
  { owner: "SignedTokenValidator", name: "rate limit max", unit: "an integer", min: 1, max: 1_000_000_000, build: (v) => new SignedTokenValidator({ rateLimit: { max: v as number, windowMs: 1000 } }) },
  { owner: "SignedTokenValidator", name: "rate limit windowMs", ...TTL, build: (v) => new SignedTokenValidator({ rateLimit: { max: 3, windowMs: v as number } }) },
  { owner: "IntuneValidator", name: "replayTtlMs", ...TTL, build: (v) => new IntuneValidator({ ...API, replayTtlMs: v as number }) },
  { owner: "IntuneScepClient", name: "timeoutMs", ...TIMER, build: (v) => new IntuneScepClient({ ...API, timeoutMs: v as number }) },
  { owner: "IntuneScepClient", name: "retries", unit: "an integer", min: 0, max: 5, build: (v) => new IntuneScepClient({ ...API, retries: v as number }) },
  { owner: "IntuneRevocationClient", name: "timeoutMs", ...TIMER, build: (v) => new IntuneRevocationClient({ ...API, timeoutMs: v as number }) },
  { owner: "EntraTokenProvider", name: "timeoutMs", ...TIMER, build: (v) => new EntraTokenProvider({ ...API, timeoutMs: v as number }) },
  { owner: "EntraTokenProvider", name: "retries", unit: "an integer", min: 0, max: 5, build: (v) => new EntraTokenProvider({ ...API, retries: v as number }) },
  { owner: "EntraTokenProvider", name: "refreshBeforeMs", unit: "an integer number of milliseconds", min: 0, max: 86_400_000, build: (v) => new EntraTokenProvider({ ...API, refreshBeforeMs: v as number }) },
];

describe("@scep/intune: numeric options are checked at construction", () => {
  for (const r of rows) {
    const bad = [Number.NaN, -1, r.min - 1, r.min + 0.5, String(r.min), Number.POSITIVE_INFINITY, r.max + 1];
    it(`${r.owner} ${r.name}: refuses ${bad.map(shown).join(", ")}; accepts ${r.min} and ${r.max}`, () => {
      for (const v of bad) {
        expect(() => r.build(v), `${r.name} = ${shown(v)}`).toThrow(
          expect.objectContaining({ name: "IntuneConfigError", code: "ERR_INTUNE_CONFIG", message: `${r.name} must be ${r.unit} from ${r.min} to ${r.max} (got ${shown(v)})` }),
        );
      }
      for (const good of [r.min, r.max]) expect(() => r.build(good)).not.toThrow();
    });
  }
});

describe("@scep/intune: hooks are checked at construction", () => {
  const config = (message: string) => expect.objectContaining({ name: "IntuneConfigError", code: "ERR_INTUNE_CONFIG", message });
  it("fetch, now, sleep, compliance and onError must be functions", () => {
    expect(() => new EntraTokenProvider({ ...API, fetch: "https://login.test" as never })).toThrow(config("fetch must be a function (got string)"));
    expect(() => new IntuneScepClient({ ...API, sleep: 5 as never })).toThrow(config("sleep must be a function (got number)"));
    expect(() => new SignedTokenValidator({ compliance: true as never })).toThrow(config("compliance must be a function (got boolean)"));
    expect(() => new IntuneValidator({ ...API, onError: "log" as never })).toThrow(config("onError must be a function (got string)"));
  });
});

/**
 * A base URL (Entra ID authority, Graph, the Intune resource) is checked when the client is built: a
 * `user:password@` in one went out over node:http as a Basic Authorization header to Microsoft and was quoted in
 * transport errors, and a typo or a non-http scheme failed only at the first enrollment. The message names the option
 * and never quotes the value.
 */
describe("@scep/intune: base URLs are checked at construction (no userinfo, http(s) only)", () => {
  const config = (message: string) => expect.objectContaining({ name: "IntuneConfigError", code: "ERR_INTUNE_CONFIG", message });
  const builders: [string, (name: string, url: unknown) => unknown][] = [
    ["EntraTokenProvider", (name, url) => new EntraTokenProvider({ ...API, [name]: url })],
    ["IntuneScepClient", (name, url) => new IntuneScepClient({ ...API, [name]: url })],
    ["IntuneRevocationClient", (name, url) => new IntuneRevocationClient({ ...API, [name]: url })],
    ["IntuneValidator", (name, url) => new IntuneValidator({ ...API, [name]: url })],
  ];
  for (const [owner, build] of builders) {
    const names = owner === "EntraTokenProvider" ? ["loginBaseUrl"] : ["loginBaseUrl", "graphBaseUrl", "intuneResource"];
    for (const name of names) {
      it(`${owner} ${name}: refuses userinfo, a non-http scheme and an unparseable value; accepts https and loopback http`, () => {
        for (const bad of ["https://admin:hunter2@login.test", "https://token@graph.test/"]) {
          let thrown: unknown;
          try {
            build(name, bad);
          } catch (e) {
            thrown = e;
          }
          expect(thrown, bad).toEqual(config(`${name} must not include credentials (user:password@): Entra ID and Graph authenticate with the credential option`));
          expect(String((thrown as Error).message)).not.toContain("hunter2");
        }
        expect(() => build(name, "ftp://login.test")).toThrow(config(`${name} must be an https: URL (got scheme ftp:)`));
        expect(() => build(name, "login.microsoftonline.com")).toThrow(config(`${name} must be an absolute https: URL (not parseable as a URL)`));
        expect(() => build(name, 443)).toThrow(config(`${name} must be an https: URL string (got number)`));
        expect(() => build(name, "https://login.microsoftonline.com")).not.toThrow();
        expect(() => build(name, "http://127.0.0.1:8080/")).not.toThrow();
      });
    }
  }
});

/**
 * The memory stores implement interfaces @scep/redis implements too (ReplayCache, RateLimiter), and every
 * implementation of one interface refuses a bad option with the same class, code and words: @scep/core's
 * InvalidArgumentError `ERR_INVALID_ARGUMENT`, as @scep/redis's stores and @scep/core's own. Before, these threw
 * IntuneConfigError `ERR_INTUNE_CONFIG` while RedisReplayCache and RedisRateLimiter threw InvalidArgumentError.
 */
describe("@scep/intune: the memory stores' options are @scep/core's InvalidArgumentError, as @scep/redis's stores'", () => {
  const invalid = (message: string) => expect.objectContaining({ name: "InvalidArgumentError", code: "ERR_INVALID_ARGUMENT", message });
  const stores = [
    { owner: "MemoryReplayCache", name: "replay cache capacity", build: (o: Record<string, unknown>) => new MemoryReplayCache(o) },
    { owner: "MemoryRateLimiter", name: "rate limiter maxKeys", build: (o: Record<string, unknown>) => new MemoryRateLimiter(o) },
  ];
  for (const s of stores) {
    it(`${s.owner}: ${s.name} and now`, () => {
      const key = s.owner === "MemoryReplayCache" ? "capacity" : "maxKeys";
      for (const v of [Number.NaN, -1, 0, 1.5, "1", Number.POSITIVE_INFINITY, 100_000_001]) {
        expect(() => s.build({ [key]: v }), `${key} = ${shown(v)}`).toThrow(invalid(`${s.name} must be an integer from 1 to 100000000 (got ${shown(v)})`));
      }
      for (const good of [1, 100_000_000]) expect(() => s.build({ [key]: good })).not.toThrow();
      expect(() => s.build({ now: new Date() })).toThrow(invalid("now must be a function returning a Date (got an object)"));
      expect(() => s.build({ now: "now" })).toThrow(invalid("now must be a function returning a Date (got a string)"));
      expect(() => s.build({ now: null })).toThrow(invalid("now must be a function returning a Date (got null)"));
    });
  }
});
