/**
 * The memory stores against the published conformance suites
 * (`@scep/core/testing`), imported from source.
 */
import { describe, expect, it } from "vitest";
import { MemoryChallengeStore, MemoryCounterStore, MemoryRevocationStore, MemoryTransactionStore } from "../src/index.js";
import { challengeStoreConformance, counterStoreConformance, manualClock, revocationStoreConformance, transactionStoreConformance } from "../src/testing/index.js";

transactionStoreConformance({ name: "MemoryTransactionStore", create: ({ now }) => new MemoryTransactionStore({ now }) });
challengeStoreConformance({ name: "MemoryChallengeStore", create: ({ now }) => new MemoryChallengeStore({ now }) });
counterStoreConformance({ name: "MemoryCounterStore", create: () => new MemoryCounterStore() });
revocationStoreConformance({ name: "MemoryRevocationStore", create: ({ now }) => new MemoryRevocationStore({ now }) });

describe("MemoryChallengeStore.sweep", () => {
  it("removes exactly the challenges whose expiry is at or before now, and says how many", async () => {
    const clock = manualClock();
    const store = new MemoryChallengeStore({ now: clock.now });
    const short = await Promise.all(Array.from({ length: 3 }, () => store.issue({ profile: "corp", ttlMs: 60_000 })));
    const long = await store.issue({ profile: "corp", ttlMs: 120_000 });
    expect(await store.sweep()).toBe(0);
    clock.advance(60_000);
    expect(await store.sweep()).toBe(3);
    expect(await store.sweep()).toBe(0);
    for (const c of short) expect(await store.consume(c, { profile: "corp" })).toBe(false);
    clock.advance(59_999);
    expect(await store.consume(long, { profile: "corp" })).toBe(true);
  });
});
