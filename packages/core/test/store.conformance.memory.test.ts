/**
 * The memory stores against the published conformance suites
 * (`@scep/core/testing`), imported from source.
 */
import { MemoryChallengeStore, MemoryTransactionStore } from "../src/index.js";
import { challengeStoreConformance, transactionStoreConformance } from "../src/testing/index.js";

transactionStoreConformance({ name: "MemoryTransactionStore", create: ({ now }) => new MemoryTransactionStore({ now }) });
challengeStoreConformance({ name: "MemoryChallengeStore", create: ({ now }) => new MemoryChallengeStore({ now }) });
