/**
 * RedisTransactionStore and RedisChallengeStore against the published
 * conformance suites, on a real redis-server (Debian's, started here on a
 * free loopback port and stopped afterwards).
 */
import { challengeStoreConformance, counterStoreConformance, transactionStoreConformance } from "@scep/core/testing";
import { usePrivateRedis } from "./support/private-redis.js";
import { RedisChallengeStore, RedisCounterStore, RedisTransactionStore } from "../src/index.js";

const redis = usePrivateRedis();

transactionStoreConformance({ name: "RedisTransactionStore", create: ({ now }) => new RedisTransactionStore(redis.client, { now }) });
challengeStoreConformance({ name: "RedisChallengeStore", create: ({ now }) => new RedisChallengeStore(redis.client, { now }) });
counterStoreConformance({ name: "RedisCounterStore", create: () => new RedisCounterStore(redis.client), cleanup: (s) => s.close(), replicas: true });
