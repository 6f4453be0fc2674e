import type { ChallengeStore, CounterStore, TransactionStore } from "@scep/core";
import { challengeStoreConformance, counterStoreConformance, transactionStoreConformance } from "@scep/core/testing";

// Your own stores (Postgres, DynamoDB…), deciding expiry with the clock they are given.
declare function myTransactionStore(options: { now: () => Date }): TransactionStore;
declare function myChallengeStore(options: { now: () => Date }): ChallengeStore;
declare function myCounterStore(): CounterStore;

// In a vitest test file:
transactionStoreConformance({ name: "mine", create: ({ now }) => myTransactionStore({ now }) });
challengeStoreConformance({ name: "mine", create: ({ now }) => myChallengeStore({ now }) });
counterStoreConformance({ name: "mine", create: () => myCounterStore(), replicas: true });
