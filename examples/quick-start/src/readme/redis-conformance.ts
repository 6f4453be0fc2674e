import type { ChallengeStore, CounterStore, TransactionStore } from "@scep/core";
import { challengeStoreConformance, counterStoreConformance, transactionStoreConformance } from "@scep/core/testing";

// Your own stores, declared here only: each takes its database pool and decides expiry with the clock it is given.
declare const pool: unknown;
declare const PgTransactionStore: new (pool: unknown, options: { now: () => Date }) => TransactionStore;
declare const PgChallengeStore: new (pool: unknown, options: { now: () => Date }) => ChallengeStore;
declare const PgCounterStore: new (pool: unknown) => CounterStore;

transactionStoreConformance({ name: "postgres", create: ({ now }) => new PgTransactionStore(pool, { now }) });
challengeStoreConformance({ name: "postgres", create: ({ now }) => new PgChallengeStore(pool, { now }) });
counterStoreConformance({ name: "postgres", create: () => new PgCounterStore(pool), replicas: true });
