/**
 * RedisCounterStore over counter fields it did not write (set by hand or by another program), on a real redis-server:
 * `read` leaves out a field that is not a count, the same way on every read (before, `Number` read "lots" as NaN, ""
 * as 0 and "1e3" as 1000), and a flush that meets one sets it afresh in the same script instead of failing half-way
 * (before, HINCRBY failed after the fields before it were added, the batch went back into the buffer, and every retry
 * added those again: counted twice, three times, …, while the flush kept failing). A count is exactly what HINCRBY
 * takes as an integer and can add to (`0`, or `-?[1-9]` and at most 18 digits): "007" and "-0" are digits HINCRBY
 * refuses, so they are not counts either.
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

  // Digits that HINCRBY refuses as an integer ("ERR hash value is not an integer"): the old rule took `^-?\d{1,18}$`,
  // so the flush added outcome:success, failed on the field, re-buffered both and added outcome:success again on every
  // retry (10 → 12 after two flushes), close() threw, and read took "007" as 7.
  it.each(["007", "-0", "-007", "00"])("a field %j (leading zero: not an integer to HINCRBY): read leaves it out, the flush sets it afresh and counts nothing twice", async (junk) => {
    const prefix = `junk-zero-${Math.random().toString(36).slice(2)}:`;
    const errors: unknown[] = [];
    const store = new RedisCounterStore(redis.client, { keyPrefix: prefix, flushIntervalMs: 3_600_000, onError: (e) => errors.push(e) });
    await redis.client.hset(`${prefix}stats:{corp}`, "reason:issued", junk, "outcome:success", "10");
    expect(await store.read("corp")).toEqual({ outcomes: { success: 10 }, reasons: {} });
    store.increment("corp", "success", "issued");
    await store.flush().catch((e: unknown) => errors.push(e));
    await store.flush().catch((e: unknown) => errors.push(e));
    expect(await redis.client.hgetall(`${prefix}stats:{corp}`)).toEqual({ "outcome:success": "11", "reason:issued": "1" });
    expect(errors).toEqual([]);
    await expect(store.close()).resolves.toBeUndefined();
    expect(await store.read("corp")).toEqual({ outcomes: { success: 11 }, reasons: { issued: 1 } });
  });

  it("read and the flush agree on the widest counts: 18 digits are counts (added to), 19 are not (set afresh)", async () => {
    const store = new RedisCounterStore(redis.client, { keyPrefix: "junk-wide:", flushIntervalMs: 3_600_000 });
    await redis.client.hset("junk-wide:stats:{corp}", "outcome:success", "-999999999999999999", "reason:issued", "1000000000000000000");
    expect(await store.read("corp")).toEqual({ outcomes: { success: -999999999999999999 }, reasons: {} });
    store.increment("corp", "success", "issued");
    await store.close();
    expect(await redis.client.hgetall("junk-wide:stats:{corp}")).toEqual({ "outcome:success": "-999999999999999998", "reason:issued": "1" });
  });
});
