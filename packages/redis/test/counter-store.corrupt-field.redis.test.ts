/**
 * RedisCounterStore over counter fields it did not write (set by hand or by another program), on a real redis-server:
 * `read` leaves out a field that is not a count, the same way on every read (before, `Number` read "lots" as NaN, ""
 * as 0 and "1e3" as 1000), and a flush that meets one sets it afresh in the same script instead of failing half-way
 * (before, HINCRBY failed after the fields before it were added, the batch went back into the buffer, and every retry
 * added those again: counted twice, three times, …, while the flush kept failing).
 */
import { describe, expect, it } from "vitest";
import { usePrivateRedis } from "./support/private-redis.js";
import { RedisCounterStore } from "../src/index.js";

const redis = usePrivateRedis();

describe("RedisCounterStore: a counter field that is not a count", () => {
  it("read leaves out every field that is not a decimal count, the same on each read", async () => {
    const store = new RedisCounterStore(redis.client, { keyPrefix: "junk-read:", flushIntervalMs: 3_600_000 });
    await redis.client.hset("junk-read:stats:{corp}", "outcome:success", "3", "outcome:failure", "lots", "reason:issued", "1e3", "reason:empty", "", "reason:hex", "0x10", "reason:ok", "2");
    const expected = { outcomes: { success: 3 }, reasons: { ok: 2 } };
    expect(await store.read("corp")).toEqual(expected);
    expect(await store.read("corp")).toEqual(expected);
    await store.close();
  });

  it("a flush over a corrupt field succeeds, counts each label once and sets the corrupt one afresh", async () => {
    const errors: unknown[] = [];
    const store = new RedisCounterStore(redis.client, { keyPrefix: "junk-flush:", flushIntervalMs: 3_600_000, onError: (e) => errors.push(e) });
    // "outcome:success" is written before "reason:issued" in the script: it used to be added, then the batch failed.
    await redis.client.hset("junk-flush:stats:{corp}", "reason:issued", "lots", "outcome:success", "10");
    store.increment("corp", "success", "issued");
    // Twice: the old code failed each time after adding outcome:success, and re-buffered it (11, then 12, …).
    await store.flush().catch((e: unknown) => errors.push(e));
    await store.flush().catch((e: unknown) => errors.push(e));
    expect(await redis.client.hgetall("junk-flush:stats:{corp}")).toEqual({ "outcome:success": "11", "reason:issued": "1" });
    store.increment("corp", "success", "issued");
    await store.flush();
    expect(await store.read("corp")).toEqual({ outcomes: { success: 12 }, reasons: { issued: 2 } });
    expect(errors).toEqual([]);
    await store.close();
  });
});
