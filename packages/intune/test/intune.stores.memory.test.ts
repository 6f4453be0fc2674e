/**
 * INTUNE.md "The stores both modes use", in memory: the conformance suites
 * every ReplayCache and RateLimiter runs, then what only the bounded memory
 * implementations promise (capacity 100,000 by default; eviction of the
 * earliest-expiring nonce, of the stalest rate-limit key).
 */
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { describe, expect, it, vi } from "vitest";
import { MemoryRateLimiter, MemoryReplayCache } from "../src/index.js";
import { manualClock } from "@scep/core/testing";
import { MinHeap } from "../src/lib/min-heap.js";
import { rateLimiterConformance, replayCacheConformance } from "../src/testing/index.js";

replayCacheConformance({ name: "MemoryReplayCache", create: ({ now }) => new MemoryReplayCache({ now }) });
rateLimiterConformance({ name: "MemoryRateLimiter", create: ({ now }) => new MemoryRateLimiter({ now }) });

describe("MemoryReplayCache: bounded", () => {
  it("when full, evicts the entry that expires first (not the oldest inserted)", async () => {
    const clock = manualClock();
    const cache = new MemoryReplayCache({ capacity: 3, now: clock.now });
    expect(await cache.checkAndInsert("long", 60_000)).toBe(true);
    expect(await cache.checkAndInsert("short", 1_000)).toBe(true);
    expect(await cache.checkAndInsert("medium", 30_000)).toBe(true);
    expect(await cache.checkAndInsert("new", 60_000)).toBe(true); // full: "short" goes
    expect(cache.size).toBe(3);
    expect(await cache.checkAndInsert("long", 60_000)).toBe(false);
    expect(await cache.checkAndInsert("medium", 30_000)).toBe(false);
    expect(await cache.checkAndInsert("new", 60_000)).toBe(false);
    expect(await cache.checkAndInsert("short", 1_000)).toBe(true); // evicted, so accepted again (evicting "medium")
    expect(await cache.checkAndInsert("medium", 30_000)).toBe(true);
  });

  it("expired entries are dropped before any live one is evicted", async () => {
    const clock = manualClock();
    const cache = new MemoryReplayCache({ capacity: 2, now: clock.now });
    await cache.checkAndInsert("a", 1_000);
    await cache.checkAndInsert("b", 60_000);
    clock.advance(1_000);
    expect(await cache.checkAndInsert("c", 60_000)).toBe(true);
    expect(await cache.checkAndInsert("b", 60_000)).toBe(false);
    expect(await cache.checkAndInsert("c", 60_000)).toBe(false);
  });

  it("holds 100,000 entries by default and never more", async () => {
    const clock = manualClock();
    const cache = new MemoryReplayCache({ now: clock.now });
    for (let i = 0; i < 100_010; i++) await cache.checkAndInsert(`n${i}`, 3_600_000 + i);
    expect(cache.size).toBe(100_000);
    // The ten earliest-expiring (the first ten inserted here) went.
    expect(await cache.checkAndInsert("n10", 1)).toBe(false);
    expect(await cache.checkAndInsert("n9", 1)).toBe(true);
  });

  it("50,000 accept-then-release cycles keep its expiry heap within twice its capacity, and the entries it holds as they were", async () => {
    // The heap is private: a spy on MinHeap.prototype.push only finds this cache's heap, whose size is then read.
    const push = vi.spyOn(MinHeap.prototype, "push");
    try {
      const clock = manualClock();
      const cache = new MemoryReplayCache({ capacity: 100, now: clock.now });
      for (let i = 0; i < 50; i++) await cache.checkAndInsert(`held-${i}`, 3_600_000 + i);
      const heap = push.mock.contexts[0] as MinHeap<string>;
      for (let i = 0; i < 50_000; i++) {
        expect(await cache.checkAndInsert(`txid-${i}`, 3_600_000)).toBe(true);
        expect(await cache.release(`txid-${i}`)).toBe(true);
      }
      // Each release left its heap record until the TTL ran out: 50,050 records for 50 entries.
      expect(heap.size).toBeLessThanOrEqual(200);
      expect(cache.size).toBe(50);
      for (let i = 0; i < 50; i++) expect(await cache.checkAndInsert(`held-${i}`, 1)).toBe(false);
      expect(await cache.checkAndInsert("txid-49999", 1)).toBe(true); // released: accepted again
      // Still bounded and in expiry order: filling it up evicts the earliest-expiring entry (txid-49999, 1 ms) first, then held-0.
      for (let i = 0; i < 50; i++) await cache.checkAndInsert(`more-${i}`, 7_200_000);
      expect(cache.size).toBe(100);
      expect(await cache.checkAndInsert("late", 7_200_000)).toBe(true);
      expect(await cache.checkAndInsert("held-1", 1)).toBe(false);
      expect(await cache.checkAndInsert("txid-49999", 7_200_000)).toBe(true);
      expect(await cache.checkAndInsert("held-0", 1)).toBe(true);
      expect(cache.size).toBe(100);
      expect(heap.size).toBeLessThanOrEqual(200);
    } finally {
      push.mockRestore();
    }
  });

  it("a capacity of 0 is ERR_INVALID_ARGUMENT (a store's option, as @scep/redis's stores refuse theirs)", () => {
    expect(() => new MemoryReplayCache({ capacity: 0 })).toThrow(expect.objectContaining({ name: "InvalidArgumentError", code: "ERR_INVALID_ARGUMENT" }));
  });
});

describe("MemoryRateLimiter: bounded", () => {
  it("when maxKeys keys are tracked, a new key evicts the one hit least recently", async () => {
    const clock = manualClock();
    const limiter = new MemoryRateLimiter({ maxKeys: 2, now: clock.now });
    const limit = { max: 1, windowMs: 86_400_000 };
    await limiter.hit("a", limit);
    clock.advance(1);
    await limiter.hit("b", limit);
    clock.advance(1);
    expect(await limiter.hit("a", limit)).toEqual({ allowed: false, count: 1 }); // a refused hit does not refresh "a"
    await limiter.hit("c", limit); // evicts "a" (stalest)
    expect(limiter.size).toBe(2);
    expect((await limiter.hit("b", limit)).allowed).toBe(false);
    expect((await limiter.hit("a", limit)).allowed).toBe(true); // forgotten, so allowed (evicting "b")
  });

  it("the clock going backwards does not let old hits escape the window", async () => {
    const clock = manualClock();
    const limiter = new MemoryRateLimiter({ now: clock.now });
    const limit = { max: 2, windowMs: 10_000 };
    await limiter.hit("k", limit);
    clock.advance(-5_000);
    await limiter.hit("k", limit);
    clock.advance(5_000);
    expect(await limiter.hit("k", limit)).toEqual({ allowed: false, count: 2 });
  });

  it("maxKeys of 0 is ERR_INVALID_ARGUMENT (a store's option, as @scep/redis's stores refuse theirs)", () => {
    expect(() => new MemoryRateLimiter({ maxKeys: 0 })).toThrow(expect.objectContaining({ name: "InvalidArgumentError", code: "ERR_INVALID_ARGUMENT" }));
  });
});

describe("MemoryRateLimiter: memory", () => {
  /** The live JS heap, MB, after two full collections. */
  const heapMb = (): number => {
    setFlagsFromString("--expose-gc");
    const gc = runInNewContext("gc") as () => void;
    gc();
    gc();
    return process.memoryUsage().heapUsed / 1e6;
  };

  it("below maxKeys, 100,000 hits on 2,000 keys leave the heap as it was: nothing the map replaced is kept", async () => {
    // The clock moves 2 ms a round: each hit's log is pruned to the hit itself, so the live size stays. (On the system
    // clock a fast round took under a millisecond, and a log kept the hits of several rounds.)
    const clock = manualClock();
    const limiter = new MemoryRateLimiter({ now: clock.now });
    const limit = { max: 1_000_000, windowMs: 1 };
    for (let i = 0; i < 2_000; i++) await limiter.hit(`device-${i}`, limit);
    const before = heapMb();
    for (let round = 0; round < 50; round++) {
      clock.advance(2);
      for (let i = 0; i < 2_000; i++) await limiter.hit(`device-${i}`, limit);
    }
    expect(limiter.size).toBe(2_000);
    // A parked iterator kept every rebuilt table with the logs it held: about 40 MB here (measured).
    expect(heapMb() - before).toBeLessThan(10);
  });

  it("at maxKeys, 100,000 hits on the keys it holds (none new) leave the heap as it was, and the least recent key still goes first", async () => {
    const clock = manualClock(); // 2 ms a round, as above: each log holds one hit, so device-2's count below is 2
    const limiter = new MemoryRateLimiter({ maxKeys: 2_000, now: clock.now });
    const limit = { max: 1_000_000, windowMs: 1 };
    for (let i = 0; i <= 2_000; i++) await limiter.hit(`device-${i}`, limit); // one eviction (device-0): an iterator
    const before = heapMb();
    for (let round = 0; round < 50; round++) {
      clock.advance(2);
      for (let i = 1; i <= 2_000; i++) await limiter.hit(`device-${i}`, limit);
    }
    expect(limiter.size).toBe(2_000);
    // An iterator kept from that eviction held every rebuilt table with the logs it held.
    expect(heapMb() - before).toBeLessThan(10);
    await limiter.hit("device-new", limit); // evicts device-1, the least recently hit
    expect((await limiter.hit("device-2", { max: 2, windowMs: 60_000 })).count).toBe(2);
    expect((await limiter.hit("device-1", { max: 2, windowMs: 60_000 })).count).toBe(1);
  });
});
