/**
 * The fault held here: a counter write that times out but lands. Redis is
 * paused (SIGSTOP) past `commandTimeoutMs` while RedisCounterStore flushes;
 * the flush rejects and its counts go back into the buffer for the next
 * flush, yet the script sits on the connection and Redis runs it when it
 * resumes. Without an undo every such hiccup counts those requests twice on
 * the operators' dashboards (`sharedStats()`). The test resumes Redis, waits
 * until the late write has run, flushes again and reads the exact sums.
 * Real redis-server on loopback, no mock of it.
 */
import { describe, expect, it } from "vitest";
import { usePrivateRedis } from "./support/private-redis.js";
import { calls, pause, until } from "./support/redis-probes.js";
import { RedisCounterStore } from "../src/index.js";

const redis = usePrivateRedis();

describe("RedisCounterStore: a flush that times out but lands is not counted twice", () => {
  it("the late write's counts are taken off; the next flush writes them once", async () => {
    // 300 ms: the paused flush must time out. No timer flush (only the test's); a flush that must succeed is retried
    // until it does (a loaded machine may be late too, and each failed one is undone the same way).
    const counters = new RedisCounterStore(redis.client, { keyPrefix: "late-count:", commandTimeoutMs: 300, flushIntervalMs: 3_600_000 });
    const reader = new RedisCounterStore(redis.client, { keyPrefix: "late-count:", commandTimeoutMs: 10_000 });
    const flushed = async (): Promise<boolean> => until(() => counters.flush().then(() => true, () => false));
    counters.increment("corp", "success", "issued");
    expect(await flushed()).toBe(true); // Redis knows the script: the paused EVALSHA runs as sent
    counters.increment("corp", "success", "issued");
    counters.increment("corp", "failure", "bad_challenge");
    const before = await calls(redis.server, "evalsha");

    await pause(redis.server); // stopped before the write is sent: it waits in the socket and must time out
    try {
      await expect(counters.flush()).rejects.toMatchObject({ name: "StoreUnavailableError", code: "ERR_STORE_UNAVAILABLE" });
    } finally {
      redis.server.resume();
    }
    expect(await until(async () => (await calls(redis.server, "evalsha")) > before), "Redis ran the late write").toBe(true);
    expect(await flushed()).toBe(true); // the counts put back into the buffer, written once more

    expect(await reader.read("corp")).toEqual({ outcomes: { success: 2, failure: 1 }, reasons: { issued: 2, bad_challenge: 1 } });
  }, 90_000);
});
