/**
 * Every numeric option of the Redis stores (the shared `commandTimeoutMs` and `retryAfterSeconds`, the counter store's
 * flush interval, retention and label bound, the profile store's retention, the challenge store's default TTL) is
 * checked when the store is built, against a real redis-server's client: NaN, a negative, a fraction, a numeric string,
 * Infinity or a value past the range throws InvalidArgumentError `ERR_INVALID_ARGUMENT` with one line naming the
 * option, its unit and range, and the value given. Before, `commandTimeoutMs: NaN` was refused but a fraction or
 * 2^31 ms (a timer that fires at once) was not, and the counter and challenge stores' messages named no value.
 */
import { describe, expect, it } from "vitest";
import { keyPrefixProblem, RedisChallengeStore, RedisCounterStore, RedisProfileStore, RedisRateLimiter, RedisReplayCache, RedisRevocationStore, RedisTransactionStore } from "../src/index.js";
import type { RedisClient, RedisStoreOptions } from "../src/index.js";
import { usePrivateRedis } from "./support/private-redis.js";

const redis = usePrivateRedis();
const shown = (v: unknown): string => (typeof v === "string" ? JSON.stringify(v) : String(v));
const STORES: [string, (client: RedisClient, options: RedisStoreOptions) => unknown][] = [
  ["RedisTransactionStore", (c, o) => new RedisTransactionStore(c, o)],
  ["RedisChallengeStore", (c, o) => new RedisChallengeStore(c, o)],
  ["RedisCounterStore", (c, o) => new RedisCounterStore(c, o)],
  ["RedisRevocationStore", (c, o) => new RedisRevocationStore(c, o)],
  ["RedisReplayCache", (c, o) => new RedisReplayCache(c, o)],
  ["RedisRateLimiter", (c, o) => new RedisRateLimiter(c, o)],
  ["RedisProfileStore", (c, o) => new RedisProfileStore(c, o)],
];

interface Row {
  owner: string;
  name: string;
  kind: string;
  min: number;
  max: number;
  build(v: unknown): unknown;
}
const TIMER = { kind: "an integer number of milliseconds", min: 1, max: 2_147_483_647 };
const KEY_TTL = { kind: "an integer number of milliseconds", min: 1, max: 31_536_000_000 };
const rows = (): Row[] => [
  ...STORES.flatMap(([owner, make]): Row[] => [
    { owner, name: "commandTimeoutMs", ...TIMER, build: (v) => make(redis.client, { commandTimeoutMs: v as number }) },
    { owner, name: "retryAfterSeconds", kind: "an integer number of seconds", min: 0, max: 86_400, build: (v) => make(redis.client, { retryAfterSeconds: v as number }) },
  ]),
  { owner: "RedisCounterStore", name: "flushIntervalMs", ...TIMER, build: (v) => new RedisCounterStore(redis.client, { flushIntervalMs: v as number }) },
  { owner: "RedisCounterStore", name: "retentionMs", ...KEY_TTL, build: (v) => new RedisCounterStore(redis.client, { retentionMs: v as number }) },
  { owner: "RedisCounterStore", name: "maxBufferedLabels", kind: "an integer", min: 1, max: 1_000_000, build: (v) => new RedisCounterStore(redis.client, { maxBufferedLabels: v as number }) },
  { owner: "RedisProfileStore", name: "retentionMs", ...KEY_TTL, build: (v) => new RedisProfileStore(redis.client, { retentionMs: v as number }) },
  { owner: "RedisChallengeStore", name: "defaultTtlMs", ...KEY_TTL, build: (v) => new RedisChallengeStore(redis.client, { defaultTtlMs: v as number }) },
];

describe("@scep/redis: numeric store options are checked at construction", () => {
  it("every store refuses NaN, negatives, fractions, strings, Infinity and values past the range, with the value in the message; accepts both ends", () => {
    for (const r of rows()) {
      for (const v of [Number.NaN, -1, r.min - 1, r.min + 0.5, String(r.min), Number.POSITIVE_INFINITY, r.max + 1]) {
        expect(() => r.build(v), `${r.owner} ${r.name} = ${shown(v)}`).toThrow(
          expect.objectContaining({ name: "InvalidArgumentError", code: "ERR_INVALID_ARGUMENT", message: `${r.name} must be ${r.kind} from ${r.min} to ${r.max} (got ${shown(v)})` }),
        );
      }
      for (const good of [r.min, r.max]) expect(() => r.build(good), `${r.owner} ${r.name} = ${good}`).not.toThrow();
    }
  });

  it("RedisChallengeStore.issue refuses a ttlMs out of range; a store built with a valid one issues against the real server", async () => {
    const store = new RedisChallengeStore(redis.client, { keyPrefix: "optcheck:" });
    for (const bad of [Number.NaN, 0, 1.5, "60000", 31_536_000_001]) {
      await expect(store.issue({ profile: "p", ttlMs: bad as number })).rejects.toMatchObject({ code: "ERR_INVALID_ARGUMENT", message: `ttlMs must be an integer number of milliseconds from 1 to 31536000000 (got ${shown(bad)})` });
    }
    await expect(store.issue({ profile: "p", ttlMs: 60_000 })).resolves.toMatch(/^[A-Za-z0-9-]{32}$/);
  });

  it("a client without callBuffer, a clock or an onError that is not a function: ERR_INVALID_ARGUMENT", () => {
    for (const [owner, make] of STORES) {
      expect(() => make({} as RedisClient, {}), owner).toThrow(expect.objectContaining({ code: "ERR_INVALID_ARGUMENT", message: "client must be an ioredis Redis or Cluster (an object with callBuffer)" }));
      // The words (and class) of the memory stores of @scep/core, @scep/intune and @scep/proxy, for the same option.
      expect(() => make(redis.client, { now: new Date() as never }), owner).toThrow(expect.objectContaining({ name: "InvalidArgumentError", code: "ERR_INVALID_ARGUMENT", message: "now must be a function returning a Date (got an object)" }));
      expect(() => make(redis.client, { now: "now" as never }), owner).toThrow(expect.objectContaining({ name: "InvalidArgumentError", code: "ERR_INVALID_ARGUMENT", message: "now must be a function returning a Date (got a string)" }));
    }
    expect(() => new RedisCounterStore(redis.client, { onError: "log" as never })).toThrow(expect.objectContaining({ code: "ERR_INVALID_ARGUMENT", message: "onError must be a function" }));
  });
});

/**
 * The numbers the stores take per call, checked with the same rules and messages: `RedisRateLimiter.hit`'s `max`
 * (1 to 10^9) and `windowMs` (1 ms to 365 days, the ranges @scep/intune's validators check at construction) and
 * `RedisTransactionStore.list`'s `limit` (0 to 10^8, core's `checkTransactionListLimit`, as the memory store), with
 * nothing written. Before, the rate limiter took a window of 10^15 ms (a key that never expired) and a `max` past
 * 10^9, and named no range.
 */
const perCallRows = (): Row[] => [
  { owner: "RedisRateLimiter.hit", name: "rate limit max", kind: "an integer", min: 1, max: 1_000_000_000, build: (v) => new RedisRateLimiter(redis.client, { keyPrefix: "percall:" }).hit("k", { max: v as number, windowMs: 1000 }) },
  { owner: "RedisRateLimiter.hit", name: "rate limit windowMs", kind: "an integer number of milliseconds", min: 1, max: 31_536_000_000, build: (v) => new RedisRateLimiter(redis.client, { keyPrefix: "percall:" }).hit("k", { max: 1_000_000, windowMs: v as number }) },
  { owner: "RedisTransactionStore.list", name: "limit", kind: "an integer", min: 0, max: 100_000_000, build: (v) => new RedisTransactionStore(redis.client, { keyPrefix: "percall:" }).list("p", { limit: v as number }) },
];

describe("@scep/redis: numbers given per call are checked as constructor options are", () => {
  it("each refuses NaN, negatives, fractions, strings, ±Infinity, values past the range, null and booleans with the value in the message, writing nothing; accepts both ends", async () => {
    for (const r of perCallRows()) {
      for (const v of [Number.NaN, -1, r.min - 1, r.min + 0.5, String(r.min), Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, r.max + 1, null, true]) {
        await expect((async () => r.build(v))(), `${r.owner} ${r.name} = ${shown(v)}`).rejects.toMatchObject({
          name: "InvalidArgumentError",
          code: "ERR_INVALID_ARGUMENT",
          message: `${r.name} must be ${r.kind} from ${r.min} to ${r.max} (got ${shown(v)})`,
        });
      }
      expect(await redis.client.keys("percall:*"), `${r.owner} ${r.name}: nothing written`).toEqual([]);
      for (const good of [r.min, r.max]) await expect((async () => r.build(good))(), `${r.owner} ${r.name} = ${good}`).resolves.toBeDefined();
      await redis.client.flushdb();
    }
  });

  it("RedisRateLimiter.hit: a limit that is not an object is ERR_INVALID_ARGUMENT (it was a TypeError)", async () => {
    const limiter = new RedisRateLimiter(redis.client, { keyPrefix: "percall:" });
    for (const bad of [undefined, null, 3]) {
      await expect(limiter.hit("k", bad as never)).rejects.toMatchObject({ code: "ERR_INVALID_ARGUMENT", message: "rate limit must be an object { max, windowMs }" });
    }
  });
});

describe("@scep/redis: keyPrefix (the stores put Redis Cluster hash tags after it)", () => {
  it("keyPrefixProblem names a { or } anywhere, and nothing else; every store refuses such a prefix with that reason", () => {
    const reason = "must not contain { or } (the stores add Redis Cluster hash tags)";
    for (const bad of ["{", "}", "a{b}:", "scep:{ca}:", "x}"]) expect(keyPrefixProblem(bad), bad).toBe(reason);
    for (const good of ["scep:", "", "staging:ca-1:", "ü:", "a b:"]) expect(keyPrefixProblem(good), good).toBeUndefined();
    for (const [name, build] of STORES) {
      expect(() => build(redis.client, { keyPrefix: "a{b}:" }), name).toThrow(expect.objectContaining({ name: "InvalidArgumentError", code: "ERR_INVALID_ARGUMENT", message: `keyPrefix ${reason}` }));
      expect(build(redis.client, { keyPrefix: "staging:" }), name).toBeDefined();
    }
  });
});
