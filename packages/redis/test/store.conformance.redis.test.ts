/**
 * RedisTransactionStore, RedisChallengeStore, RedisCounterStore and RedisRevocationStore against the published
 * conformance suites, on a real redis-server (Debian's, started here on a
 * free loopback port and stopped afterwards).
 */
import { challengeStoreConformance, counterStoreConformance, revocationStoreConformance, transactionStoreConformance } from "@scep/core/testing";
import { usePrivateRedis } from "./support/private-redis.js";
import { RedisChallengeStore, RedisCounterStore, RedisRevocationStore, RedisTransactionStore } from "../src/index.js";

const redis = usePrivateRedis();

transactionStoreConformance({ name: "RedisTransactionStore", create: ({ now }) => new RedisTransactionStore(redis.client, { now }) });
challengeStoreConformance({ name: "RedisChallengeStore", create: ({ now }) => new RedisChallengeStore(redis.client, { now }) });
counterStoreConformance({ name: "RedisCounterStore", create: () => new RedisCounterStore(redis.client), cleanup: (s) => s.close(), replicas: true });
let revocationPrefix = 0;
// A fresh key prefix per test: the suite expects an empty store (CRL number 1 first).
revocationStoreConformance({ name: "RedisRevocationStore", create: ({ now }) => new RedisRevocationStore(redis.client, { now, keyPrefix: `scep-revocation-${++revocationPrefix}:` }) });
