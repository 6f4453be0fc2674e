/**
 * RedisProfileStore (the SCEP proxy's delivery records) over data it did not write (an operator's HSET by hand,
 * another version's record, a half-migrated key), written with a raw client on a real redis-server:
 * - a record that is not whole (a required field missing, a time or requeueCount that is not an integer as `put`
 *   writes it, an unknown status, another record's key fields, not a hash) is StoreUnavailableError
 *   `ERR_STORE_UNAVAILABLE` from `get` and `list`, naming the field but never a value (the record holds a
 *   challengeHash): before, `get` filled a missing field with "", "none" or 0 and read a bad number as NaN;
 * - `requeue` and `markFailed` check the record whole, and every script the index's type, before their first write:
 *   `CORRUPT`, and the record and index are left exactly as they were. Before, requeue deleted challengeRetrievedAt
 *   and detail and then failed on HINCRBY of a requeueCount that is not a count, and put, requeue and markFailed
 *   wrote the record and then failed on the ZADD of an index that is not a sorted set;
 * - `delete` still clears a corrupt record (it is how an operator fixes one);
 * - a field this version does not know (a later version's, in a rolling upgrade) is accepted and left alone, and left
 *   out of the conditional compare: before, a conditional requeue or markFailed (the proxy's only kind) of the record
 *   as read answered false for it, every time;
 * - a requeueCount at 2^53 - 1 (which `put` accepts) stays there on requeue: before, requeue answered CORRUPT;
 * - key fields with escaped characters (`,` and `%`) round-trip through put, get and the conditional writes.
 */
import type { ProfileRecord } from "@scep/proxy";
import { describe, expect, it } from "vitest";
import { usePrivateRedis } from "./support/private-redis.js";
import { RedisProfileStore } from "../src/index.js";

const redis = usePrivateRedis();
const T0 = Date.UTC(2026, 10, 29, 12, 0, 0);
const now = (): Date => new Date(T0);
const HASH = "c0ffee".repeat(10) + "abcd"; // the challengeHash: never in a message
const key = { hostId: "host-1", profileId: "wifi", caName: "corp" };
const RECORD: ProfileRecord = { ...key, status: "pending", platform: "darwin", challengeRetrievedAt: T0 - 10, challengeHash: HASH, detail: "first try", requeueCount: 2, updatedAt: T0 - 5 };

const recordKey = (prefix: string): string => `${prefix}proxy:{proxy-profiles}:r:host-1,wifi,corp`;
const indexKey = (prefix: string): string => `${prefix}proxy:{proxy-profiles}:index`;
let n = 0;

async function fresh(): Promise<{ prefix: string; store: RedisProfileStore }> {
  const prefix = `badp${++n}:`;
  const store = new RedisProfileStore(redis.client, { keyPrefix: prefix, now, retryAfterSeconds: 7 });
  await store.put(RECORD);
  return { prefix, store };
}

/** Both keys, whole, for "left exactly as it was". */
async function snapshot(prefix: string): Promise<unknown> {
  const type = await redis.client.type(indexKey(prefix));
  return {
    record: await redis.client.hgetall(recordKey(prefix)),
    index: type === "zset" ? await redis.client.zrange(indexKey(prefix), "0", "-1", "WITHSCORES") : await redis.client.get(indexKey(prefix)),
  };
}

async function all<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

async function failure(run: () => Promise<unknown>): Promise<Error & { code?: string; retryAfterSeconds?: number }> {
  return run().then(
    () => {
      throw new Error("resolved; expected a rejection");
    },
    (e: unknown) => e as Error & { code?: string; retryAfterSeconds?: number },
  );
}

/** The message the store gives for a corrupt key. */
const message = (what: string, op: string): string => `Redis holds a corrupt ${what}: ${op} refused and changed nothing (fix or delete the key)`;

const CORRUPTIONS: Array<[string, (k: string) => Promise<unknown>, string]> = [
  ["hostId missing", (k) => redis.client.hdel(k, "hostId"), "field hostId is missing"],
  ["status missing", (k) => redis.client.hdel(k, "status"), "field status is missing"],
  ["updatedAt missing", (k) => redis.client.hdel(k, "updatedAt"), "field updatedAt is missing"],
  ["caName empty", (k) => redis.client.hset(k, "caName", ""), "field caName is empty"],
  ["status unknown", (k) => redis.client.hset(k, "status", "delivered"), "field status is not a delivery status"],
  ["updatedAt not a number", (k) => redis.client.hset(k, "updatedAt", "yesterday"), "field updatedAt is not a time in ms"],
  ["updatedAt empty", (k) => redis.client.hset(k, "updatedAt", ""), "field updatedAt is not a time in ms"],
  ["challengeRetrievedAt in exponent form", (k) => redis.client.hset(k, "challengeRetrievedAt", "1e3"), "field challengeRetrievedAt is not a time in ms"],
  ["challengeRetrievedAt beyond a safe integer", (k) => redis.client.hset(k, "challengeRetrievedAt", "99999999999999999"), "field challengeRetrievedAt is not a time in ms"],
  ["requeueCount not a count", (k) => redis.client.hset(k, "requeueCount", "lots"), "field requeueCount is not a count"],
  ["requeueCount negative", (k) => redis.client.hset(k, "requeueCount", "-1"), "field requeueCount is not a count"],
  ["another record's key fields (a renamed key)", (k) => redis.client.hset(k, "hostId", "host-2"), "its hostId, profileId or caName is not the one its key names"],
];

describe("RedisProfileStore: a record it did not write", () => {
  it.each(CORRUPTIONS)("%s: get and list reject with ERR_STORE_UNAVAILABLE naming the field, never a value", async (_, corrupt, problem) => {
    const { prefix, store } = await fresh();
    await corrupt(recordKey(prefix));
    const before = await snapshot(prefix);
    for (const [op, read] of [["get", () => store.get(key)], ["list", () => all(store.list())]] as const) {
      const error = await failure(read);
      expect(error).toMatchObject({ name: "StoreUnavailableError", code: "ERR_STORE_UNAVAILABLE", retryAfterSeconds: 7 });
      expect(error.message).toBe(message(`profile record (${problem})`, op));
      expect(error.message).not.toContain(HASH);
    }
    // list refused it rather than leaving it out, and kept its index entry.
    expect(await snapshot(prefix)).toEqual(before);
  });

  it.each(CORRUPTIONS)("%s: requeue and markFailed reject (CORRUPT) and write nothing", async (_, corrupt, problem) => {
    const { prefix, store } = await fresh();
    await corrupt(recordKey(prefix));
    const before = await snapshot(prefix);
    const ttl = await redis.client.pttl(recordKey(prefix));
    for (const [op, write] of [["requeue", () => store.requeue(key)], ["markFailed", () => store.markFailed(key, "upstream timeout")]] as const) {
      const error = await write().catch((e: unknown) => e);
      expect(await snapshot(prefix)).toEqual(before);
      expect(error).toMatchObject({ name: "StoreUnavailableError", code: "ERR_STORE_UNAVAILABLE", retryAfterSeconds: 7, message: message(`profile record (${problem})`, op) });
    }
    expect(await redis.client.pttl(recordKey(prefix))).toBeLessThanOrEqual(ttl);
  });

  it("a field it does not know (a later version's, in a rolling upgrade) is left alone: get reads the record, requeue applies and keeps it", async () => {
    const { prefix, store } = await fresh();
    await redis.client.hset(recordKey(prefix), "deliveredAt", "1");
    expect(await store.get(key)).toMatchObject({ hostId: key.hostId, profileId: key.profileId, caName: key.caName });
    expect((await all(store.list())).length).toBe(1);
    await store.requeue(key);
    expect(await store.get(key)).toMatchObject({ status: "none" });
    expect(await redis.client.hget(recordKey(prefix), "deliveredAt")).toBe("1");
  });

  it("requeue over a requeueCount that is not a count no longer deletes challengeRetrievedAt and detail before failing", async () => {
    const { prefix, store } = await fresh();
    await redis.client.hset(recordKey(prefix), "requeueCount", "2.5");
    const before = await redis.client.hgetall(recordKey(prefix));
    expect(before).toMatchObject({ challengeRetrievedAt: String(T0 - 10), detail: "first try" });
    const error = await failure(() => store.requeue(key));
    expect(await redis.client.hgetall(recordKey(prefix))).toEqual(before); // the old script had HDEL'd both already
    expect(error).toMatchObject({ code: "ERR_STORE_UNAVAILABLE", message: message("profile record (field requeueCount is not a count)", "requeue") });
  });

  it("a record key that is not a hash: get, list, requeue and markFailed reject (CORRUPT); delete clears it", async () => {
    const { prefix, store } = await fresh();
    await redis.client.del(recordKey(prefix));
    await redis.client.set(recordKey(prefix), "not a record");
    for (const [op, run] of [
      ["get", () => store.get(key)],
      ["list", () => all(store.list())],
      ["requeue", () => store.requeue(key)],
      ["markFailed", () => store.markFailed(key, "x")],
    ] as const) {
      expect(await failure(run)).toMatchObject({ code: "ERR_STORE_UNAVAILABLE", message: message("profile record (not a hash)", op) });
      expect(await redis.client.get(recordKey(prefix))).toBe("not a record");
    }
    expect(await store.delete(key)).toBe(true);
    expect(await store.get(key)).toBeUndefined();
    expect(await redis.client.zrange(indexKey(prefix), "0", "-1")).toEqual([]);
  });

  it("a record that is not whole: get refuses it, delete clears it (the operator's fix), and a put over one replaces it", async () => {
    const { prefix, store } = await fresh();
    await redis.client.hset(recordKey(prefix), "updatedAt", "NaN");
    await expect(store.get(key)).rejects.toMatchObject({ code: "ERR_STORE_UNAVAILABLE", message: message("profile record (field updatedAt is not a time in ms)", "get") });
    expect(await store.delete(key)).toBe(true);
    expect(await redis.client.exists(recordKey(prefix))).toBe(0);
    await store.put(RECORD);
    await redis.client.hdel(recordKey(prefix), "status");
    await expect(store.get(key)).rejects.toMatchObject({ code: "ERR_STORE_UNAVAILABLE", message: message("profile record (field status is missing)", "get") });
    await store.put({ ...RECORD, status: "verifying" });
    expect(await store.get(key)).toStrictEqual({ ...RECORD, status: "verifying" });
  });
});

describe("RedisProfileStore: an index that is not a sorted set", () => {
  const WRITES: Array<[string, (store: RedisProfileStore) => Promise<unknown>]> = [
    ["put", (store) => store.put({ ...RECORD, status: "verified", challengeHash: "d".repeat(64), updatedAt: T0 })],
    ["requeue", (store) => store.requeue(key)],
    ["markFailed", (store) => store.markFailed(key, "upstream timeout")],
    ["delete", (store) => store.delete(key)],
    ["list", (store) => all(store.list())],
  ];

  it.each(WRITES)("%s rejects (CORRUPT) before its first write: the record and the index are left as they were", async (op, run) => {
    const { prefix, store } = await fresh();
    await redis.client.del(indexKey(prefix));
    await redis.client.set(indexKey(prefix), "host-1,wifi,corp");
    const before = await snapshot(prefix);
    const error = await failure(() => run(store));
    expect(await snapshot(prefix)).toEqual(before); // the old put, requeue and markFailed wrote the record, then failed on ZADD
    expect(error).toMatchObject({
      name: "StoreUnavailableError",
      code: "ERR_STORE_UNAVAILABLE",
      retryAfterSeconds: 7,
      message: message("profile index (not a sorted set)", op),
    });
    expect(await store.get(key)).toStrictEqual(RECORD);
    // Fixed by the operator (the index deleted): the same call goes through, and put it back.
    await redis.client.del(indexKey(prefix));
    await run(store);
    if (op !== "delete" && op !== "list") expect(await redis.client.zrange(indexKey(prefix), "0", "-1")).toEqual(["host-1,wifi,corp"]);
  });

  it("a conditional requeue and markFailed of the record as read, over a list-typed index: CORRUPT, record intact", async () => {
    const { prefix, store } = await fresh();
    const read = (await store.get(key))!;
    await redis.client.del(indexKey(prefix));
    await redis.client.rpush(indexKey(prefix), "host-1,wifi,corp");
    const before = await redis.client.hgetall(recordKey(prefix));
    const requeued = await failure(() => store.requeue(key, read));
    expect(await redis.client.hgetall(recordKey(prefix))).toEqual(before);
    expect(requeued).toMatchObject({ code: "ERR_STORE_UNAVAILABLE", message: message("profile index (not a sorted set)", "requeue") });
    const failed = await failure(() => store.markFailed(key, "x", read));
    expect(await redis.client.hgetall(recordKey(prefix))).toEqual(before);
    expect(failed).toMatchObject({ code: "ERR_STORE_UNAVAILABLE", message: message("profile index (not a sorted set)", "markFailed") });
    expect(await redis.client.lrange(indexKey(prefix), "0", "-1")).toEqual(["host-1,wifi,corp"]);
  });
});

describe("RedisProfileStore: fields of a later version, the largest requeueCount, escaped key fields", () => {
  it("a field it does not know is left out of the conditional compare: requeue and markFailed of the record as read answer true and keep it", async () => {
    const { prefix, store } = await fresh();
    await redis.client.hset(recordKey(prefix), "deliveredAt", "1");
    const read = (await store.get(key))!;
    expect(read).toStrictEqual(RECORD);
    expect(await store.markFailed(key, "upstream timeout", read)).toBe(true); // the old compare counted deliveredAt: false
    const failed = (await store.get(key))!;
    expect(failed).toMatchObject({ status: "failed", detail: "upstream timeout", updatedAt: T0 });
    expect(await store.requeue(key, failed)).toBe(true);
    expect(await store.get(key)).toMatchObject({ status: "none", requeueCount: 3 });
    expect(await redis.client.hget(recordKey(prefix), "deliveredAt")).toBe("1");
    // Still a compare of every known field: one known field more, or one value changed, is another record.
    const requeued = (await store.get(key))!;
    await redis.client.hset(recordKey(prefix), "platform", "windows");
    const before = await snapshot(prefix);
    expect(await store.requeue(key, requeued)).toBe(false);
    expect(await store.markFailed(key, "x", { ...requeued, platform: "windows", detail: "x" })).toBe(false);
    expect(await snapshot(prefix)).toEqual(before);
    expect(await store.markFailed(key, "x", { ...requeued, platform: "windows" })).toBe(true);
  });

  it("requeue of a requeueCount at 2^53 - 1 keeps it there and requeues (get reads it back), conditional or not", async () => {
    const { prefix, store } = await fresh();
    await store.put({ ...RECORD, requeueCount: Number.MAX_SAFE_INTEGER });
    const read = (await store.get(key))!;
    expect(await store.requeue(key, read)).toBe(true); // the old script: CORRUPT "too large to add to"
    expect(await store.get(key)).toStrictEqual({ ...key, status: "none", platform: "darwin", challengeHash: HASH, requeueCount: Number.MAX_SAFE_INTEGER, updatedAt: T0 });
    expect(await store.requeue(key)).toBe(true);
    expect(await redis.client.hget(recordKey(prefix), "requeueCount")).toBe(String(Number.MAX_SAFE_INTEGER));
    await store.put({ ...RECORD, requeueCount: Number.MAX_SAFE_INTEGER - 1 });
    expect(await store.requeue(key)).toBe(true);
    expect((await store.get(key))?.requeueCount).toBe(Number.MAX_SAFE_INTEGER);
  });

  it("key fields with `,` and `%`: put, get, conditional requeue and markFailed round-trip, under the escaped key", async () => {
    const prefix = `badp${++n}:`;
    const store = new RedisProfileStore(redis.client, { keyPrefix: prefix, now, retryAfterSeconds: 7 });
    const odd = { hostId: "host,1%2C", profileId: "wi fi,%", caName: "corp%" };
    const record: ProfileRecord = { ...RECORD, ...odd };
    await store.put(record);
    const m = "host%2C1%252C,wi%20fi%2C%25,corp%25";
    expect(await redis.client.exists(`${prefix}proxy:{proxy-profiles}:r:${m}`)).toBe(1);
    expect(await redis.client.zrange(indexKey(prefix), "0", "-1")).toEqual([m]);
    expect(await store.get(odd)).toStrictEqual(record);
    expect(await store.get({ ...odd, hostId: "host,1," })).toBeUndefined();
    expect(await store.requeue(odd, record)).toBe(true);
    const requeued = (await store.get(odd))!;
    expect(requeued).toStrictEqual({ ...odd, status: "none", platform: "darwin", challengeHash: HASH, requeueCount: 3, updatedAt: T0 });
    expect(await store.markFailed(odd, "gone", record)).toBe(false);
    expect(await store.markFailed(odd, "gone", requeued)).toBe(true);
    expect(await store.get(odd)).toStrictEqual({ ...requeued, status: "failed", detail: "gone" });
    expect(await all(store.list())).toStrictEqual([{ ...requeued, status: "failed", detail: "gone" }]);
  });
});
