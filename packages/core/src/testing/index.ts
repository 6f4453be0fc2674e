/**
 * `@scep/core/testing`: conformance suites for the storage interfaces, to run
 * against any implementation (the memory stores, `@scep/redis`, or a store of
 * your own on Postgres or DynamoDB). They register vitest tests, so import
 * them from a vitest test file (vitest is an optional peer dependency).
 *
 * @example
 * ```ts
 * import { MemoryChallengeStore, MemoryRevocationStore, MemoryTransactionStore } from "@scep/core";
 * import { challengeStoreConformance, revocationStoreConformance, transactionStoreConformance } from "@scep/core/testing";
 *
 * // your stores in place of the memory ones, on the suites' clock
 * transactionStoreConformance({ name: "memory", create: ({ now }) => new MemoryTransactionStore({ now }) });
 * challengeStoreConformance({ name: "memory", create: ({ now }) => new MemoryChallengeStore({ now }) });
 * revocationStoreConformance({ name: "memory", create: ({ now }) => new MemoryRevocationStore({ now }) });
 * ```
 *
 * @module
 */
export { manualClock } from "./manual-clock.js";
export type { ManualClock } from "./manual-clock.js";
export { transactionStoreConformance } from "./transaction-store-conformance.js";
export type { StoreFactoryContext, TransactionStoreConformanceOptions } from "./transaction-store-conformance.js";
export { challengeStoreConformance } from "./challenge-store-conformance.js";
export type { ChallengeStoreConformanceOptions } from "./challenge-store-conformance.js";
export { counterStoreConformance } from "./counter-store-conformance.js";
export type { CounterStoreConformanceOptions } from "./counter-store-conformance.js";
export { revocationStoreConformance } from "./revocation-store-conformance.js";
export type { RevocationStoreConformanceOptions } from "./revocation-store-conformance.js";
