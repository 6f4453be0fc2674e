/**
 * RedisReplayCache and RedisRateLimiter against @scep/intune's published
 * conformance suites, on a real redis-server (started here on a free loopback
 * port and stopped afterwards); then the same stores shared by two
 * SignedTokenValidators, as two replicas of a server would share them, and
 * failing closed while Redis is down.
 */
import Redis from "ioredis";
import { describe, expect, it } from "vitest";
import { rateLimiterConformance, replayCacheConformance } from "@scep/intune/testing";
import { usePrivateRedis } from "./support/private-redis.js";
import { pause } from "./support/redis-probes.js";
import { RedisRateLimiter, RedisReplayCache, redisClientOptions } from "../src/index.js";

const redis = usePrivateRedis();

replayCacheConformance({ name: "RedisReplayCache", create: ({ now }) => new RedisReplayCache(redis.client, { now }) });
rateLimiterConformance({ name: "RedisRateLimiter", create: ({ now }) => new RedisRateLimiter(redis.client, { now }) });

describe("what Redis holds", () => {
  it("a nonce is one fixed-size key under the prefix, with a PX of the TTL + 1 minute; the nonce itself is not stored", async () => {
    const cache = new RedisReplayCache(redis.client, { keyPrefix: "t1:" });
    expect(await cache.checkAndInsert("nonce-with-secret-looking-value", 60_000)).toBe(true);
    const keys = await redis.client.keys("t1:*");
    expect(keys).toHaveLength(1);
    expect(keys[0]).toMatch(/^t1:replay:[0-9a-f]{64}$/);
    const ttl = await redis.client.pttl(keys[0]!);
    expect(ttl).toBeGreaterThan(60_000);
    expect(ttl).toBeLessThanOrEqual(120_000);
    expect(await redis.client.get(keys[0]!)).toMatch(/^\d+:[0-9a-f]{16}$/); // expiresAt (ms) and the writer's tag
  });

  it("a rate-limit log is one sorted set per key that expires a minute after its window", async () => {
    const limiter = new RedisRateLimiter(redis.client, { keyPrefix: "t2:" });
    await limiter.hit(JSON.stringify(["device", "connector"]), { max: 3, windowMs: 86_400_000 });
    const keys = await redis.client.keys("t2:*");
    expect(keys).toEqual([expect.stringMatching(/^t2:rate:[0-9a-f]{64}$/)]);
    expect(await redis.client.zcard(keys[0]!)).toBe(1);
    const ttl = await redis.client.pttl(keys[0]!);
    expect(ttl).toBeGreaterThan(86_400_000);
    expect(ttl).toBeLessThanOrEqual(86_460_000);
  });

  it("two stores (two replicas) on one Redis: a nonce raced from both is accepted once; the limit holds across both", async () => {
    const other = new Redis({ ...redis.server.connection, ...redisClientOptions, lazyConnect: true });
    await other.connect();
    try {
      const a = new RedisReplayCache(redis.client, { keyPrefix: "t3:" });
      const b = new RedisReplayCache(other, { keyPrefix: "t3:" });
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).checkAndInsert("raced-nonce", 60_000)));
      expect(results.filter(Boolean)).toHaveLength(1);
      const la = new RedisRateLimiter(redis.client, { keyPrefix: "t3:" });
      const lb = new RedisRateLimiter(other, { keyPrefix: "t3:" });
      const hits = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? la : lb).hit("device-1", { max: 3, windowMs: 86_400_000 })));
      expect(hits.filter((h) => h.allowed)).toHaveLength(3);
    } finally {
      other.disconnect();
    }
  });
});

describe("Redis down → ERR_STORE_UNAVAILABLE (fail closed), recovered without a restart", () => {
  it("both stores reject with StoreUnavailableError while the server is paused past commandTimeoutMs", async () => {
    // 1 s: waited out twice while the server is paused, and the bound on the answer after SIGCONT, which a loaded
    // machine must not exceed (300 ms could be).
    const cache = new RedisReplayCache(redis.client, { keyPrefix: "t4:", commandTimeoutMs: 1000 });
    const limiter = new RedisRateLimiter(redis.client, { keyPrefix: "t4:", commandTimeoutMs: 1000 });
    await pause(redis.server); // stopped before anything is sent: every call waits in the socket
    try {
      await expect(cache.checkAndInsert("n", 60_000)).rejects.toMatchObject({ name: "StoreUnavailableError", code: "ERR_STORE_UNAVAILABLE" });
      await expect(limiter.hit("k", { max: 1, windowMs: 1000 })).rejects.toMatchObject({ code: "ERR_STORE_UNAVAILABLE" });
    } finally {
      redis.server.resume();
    }
    expect(await cache.checkAndInsert("n2", 60_000)).toBe(true);
  });
});
