/**
 * Every Redis store against its published conformance suite on an ioredis client with
 * `enableAutoPipelining: true` (ioredis batches the commands of one event-loop turn into one pipeline),
 * on a real redis-server started here on a free loopback port and stopped afterwards. ioredis 5/6's
 * auto-pipelining drops the command name of `callBuffer`, so the stores send named commands
 * (`evalshaBuffer`, `setBuffer`, …) instead; before that every store call failed with
 * "commandName.toLowerCase is not a function".
 */
import { challengeStoreConformance, counterStoreConformance, revocationStoreConformance, transactionStoreConformance } from "@scep/core/testing";
import { rateLimiterConformance, replayCacheConformance } from "@scep/intune/testing";
import { profileStoreConformance } from "@scep/proxy/testing";
import { describe, expect, it } from "vitest";
import { usePrivateRedis } from "./support/private-redis.js";
import { RedisChallengeStore, RedisCounterStore, RedisProfileStore, RedisRateLimiter, RedisReplayCache, RedisRevocationStore, RedisTransactionStore } from "../src/index.js";

const redis = usePrivateRedis({ enableAutoPipelining: true });

describe("the client really auto-pipelines", () => {
  it("has enableAutoPipelining on, and concurrent store calls share pipelines", async () => {
    expect(redis.client.options.enableAutoPipelining).toBe(true);
    const store = new RedisChallengeStore(redis.client);
    const issuing = Array.from({ length: 20 }, () => store.issue({ profile: "autopipelined" }));
    expect(redis.client.autoPipelineQueueSize).toBe(20); // queued in this turn, sent together in one pipeline
    const challenges = await Promise.all(issuing);
    expect(await Promise.all(challenges.map((c) => store.consume(c, { profile: "autopipelined" })))).toEqual(challenges.map(() => true));
  });
});

// A fresh key prefix per store (the revocation suite expects an empty store); the counter suite's two replicas share one.
let prefix = 0;
const keyPrefix = (): string => `scep-autopipelining-${++prefix}:`;
transactionStoreConformance({ name: "RedisTransactionStore (auto-pipelining)", create: ({ now }) => new RedisTransactionStore(redis.client, { now, keyPrefix: keyPrefix() }) });
challengeStoreConformance({ name: "RedisChallengeStore (auto-pipelining)", create: ({ now }) => new RedisChallengeStore(redis.client, { now, keyPrefix: keyPrefix() }) });
counterStoreConformance({ name: "RedisCounterStore (auto-pipelining)", create: () => new RedisCounterStore(redis.client, { keyPrefix: "scep-autopipelining-counters:" }), cleanup: (s) => s.close(), replicas: true });
revocationStoreConformance({ name: "RedisRevocationStore (auto-pipelining)", create: ({ now }) => new RedisRevocationStore(redis.client, { now, keyPrefix: keyPrefix() }) });
replayCacheConformance({ name: "RedisReplayCache (auto-pipelining)", create: ({ now }) => new RedisReplayCache(redis.client, { now, keyPrefix: keyPrefix() }) });
rateLimiterConformance({ name: "RedisRateLimiter (auto-pipelining)", create: ({ now }) => new RedisRateLimiter(redis.client, { now, keyPrefix: keyPrefix() }) });
profileStoreConformance({ name: "RedisProfileStore (auto-pipelining)", create: ({ now }) => new RedisProfileStore(redis.client, { now, keyPrefix: keyPrefix() }) });
