/**
 * The fault held here: counts of a background flush that failed waited for the
 * next `increment` (or `read`, `close`) of the same replica to be written. A
 * replica that got no more requests after a Redis outage (taken out of the
 * load balancer, a quiet night) kept them in its memory for good: missing from
 * every other replica's `sharedStats()`, lost if it crashed. A failed flush now
 * schedules the next one, `flushIntervalMs` later, on its own; a store that is
 * closed does not. Real redis-server on loopback, paused with SIGSTOP.
 */
import { describe, expect, it, vi } from "vitest";
import { usePrivateRedis } from "./support/private-redis.js";
import { pause, until } from "./support/redis-probes.js";
import { RedisCounterStore } from "../src/index.js";

const redis = usePrivateRedis();

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe("RedisCounterStore: the counts of a failed background flush", () => {
  it("are written by the next background flush once Redis is back, with no further increment", async () => {
    const errors: unknown[] = [];
    const counters = new RedisCounterStore(redis.client, { keyPrefix: "retry-count:", commandTimeoutMs: 200, flushIntervalMs: 50, onError: (e) => errors.push(e) });
    const reader = new RedisCounterStore(redis.client, { keyPrefix: "retry-count:", commandTimeoutMs: 10_000 });
    await pause(redis.server);
    try {
      counters.increment("corp", "success", "issued");
      counters.increment("corp", "failure", "bad_challenge");
      expect(await until(async () => errors.length > 0), "the background flush failed while Redis was paused").toBe(true);
    } finally {
      redis.server.resume();
    }
    expect(errors[0]).toMatchObject({ name: "StoreUnavailableError", code: "ERR_STORE_UNAVAILABLE" });
    // Nothing is counted from here on: the counts must reach Redis by the store's own timer. (The write that timed out
    // may run late and be taken off again, leaving fields at 0 for a moment: wait for the counts themselves.)
    const arrived = async (): Promise<boolean> => {
      const { outcomes } = await reader.read("corp");
      return outcomes.success === 1 && outcomes.failure === 1;
    };
    expect(await until(arrived), "the counts reached Redis").toBe(true);
    expect(await reader.read("corp")).toEqual({ outcomes: { success: 1, failure: 1 }, reasons: { issued: 1, bad_challenge: 1 } });
    await counters.close();
  }, 90_000);

  it("are not tried again in the background once the store is closed", async () => {
    const errors: unknown[] = [];
    const counters = new RedisCounterStore(redis.client, { keyPrefix: "closed-count:", commandTimeoutMs: 200, flushIntervalMs: 50, onError: (e) => errors.push(e) });
    const reader = new RedisCounterStore(redis.client, { keyPrefix: "closed-count:", commandTimeoutMs: 10_000 });
    counters.increment("corp", "success", "issued");
    await pause(redis.server);
    try {
      await expect(counters.close()).rejects.toMatchObject({ name: "StoreUnavailableError", code: "ERR_STORE_UNAVAILABLE" });
    } finally {
      redis.server.resume();
    }
    const flushes = vi.spyOn(counters, "flush"); // what the flush timer calls
    await sleep(500); // ten flush intervals
    expect(flushes).not.toHaveBeenCalled();
    expect(errors).toEqual([]);
    // The paused write may run late and be taken off again (fields at 0): never counted.
    const after = await reader.read("corp");
    expect(after.outcomes.success ?? 0).toBe(0);
    expect(after.reasons.issued ?? 0).toBe(0);
  }, 90_000);
});
