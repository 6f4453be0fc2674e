/**
 * `@scep/redis`: Redis implementations of the `@scep/core` storage
 * interfaces, so several replicas of a SCEP server share PENDING
 * transactions, one-time challenges, request counters and revocations (with the CRL number), and of
 * `@scep/intune`'s replay cache and rate limiter, so they see the same
 * nonces and counts, and of `@scep/proxy`'s profile store, so several SCEP
 * proxy replicas see the same delivery records. Bring your own
 * ioredis client.
 *
 * @example
 * ```ts
 * import Redis from "ioredis";
 * import { RedisChallengeStore, RedisTransactionStore, redisClientOptions } from "@scep/redis";
 *
 * const redis = new Redis(process.env.SCEP_REDIS_URL!, { ...redisClientOptions });
 * const transactions = new RedisTransactionStore(redis);
 * const challenges = new RedisChallengeStore(redis);
 * ```
 *
 * @module
 */
export { RedisTransactionStore } from "./redis-transaction-store.js";
export { RedisChallengeStore } from "./redis-challenge-store.js";
export type { RedisChallengeStoreOptions } from "./redis-challenge-store.js";
export { RedisCounterStore } from "./redis-counter-store.js";
export type { RedisCounterStoreOptions } from "./redis-counter-store.js";
export { RedisRevocationStore } from "./redis-revocation-store.js";
export type { RedisRevocationStoreOptions } from "./redis-revocation-store.js";
export { RedisReplayCache } from "./redis-replay-cache.js";
export { RedisRateLimiter } from "./redis-rate-limiter.js";
export { RedisProfileStore } from "./redis-profile-store.js";
export type { RedisProfileStoreOptions } from "./redis-profile-store.js";
export { keyPrefixProblem, redisClientOptions } from "./options.js";
export type { RedisClient, RedisStoreOptions } from "./options.js";
