/**
 * The memory stores against the published conformance suites
 * (`@scep/core/testing`), imported from source.
 */
import { MemoryChallengeStore, MemoryCounterStore, MemoryRevocationStore, MemoryTransactionStore } from "../src/index.js";
import { challengeStoreConformance, counterStoreConformance, revocationStoreConformance, transactionStoreConformance } from "../src/testing/index.js";

transactionStoreConformance({ name: "MemoryTransactionStore", create: ({ now }) => new MemoryTransactionStore({ now }) });
challengeStoreConformance({ name: "MemoryChallengeStore", create: ({ now }) => new MemoryChallengeStore({ now }) });
counterStoreConformance({ name: "MemoryCounterStore", create: () => new MemoryCounterStore() });
revocationStoreConformance({ name: "MemoryRevocationStore", create: ({ now }) => new MemoryRevocationStore({ now }) });
