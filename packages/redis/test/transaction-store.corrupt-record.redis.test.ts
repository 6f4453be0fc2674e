/**
 * RedisTransactionStore over data it did not write (an operator's HSET by hand, another version's record, a
 * half-migrated key), written with a raw client on a real redis-server:
 * - a record that cannot be read whole (a field missing, a time that is not decimal ms, an unknown status or failInfo,
 *   a truncated chain) is StoreUnavailableError `ERR_STORE_UNAVAILABLE` from every read path (`get`, `list`, the
 *   record `transition` answers), never a plain Error (the server's 500) nor a half-read record, and the message names
 *   the field but never a value of the record;
 * - a write with an invalid Date (NaN) is InvalidArgumentError with nothing written: before, `create` deleted the
 *   record it replaced and then failed on PEXPIRE/ZADD `NaN` (its undo then removed what was left), and `transition`
 *   stored `updatedAt NaN`;
 * - the create script itself checks every number before its DEL, and refuses (`CORRUPT`) to judge a PENDING record
 *   whose expiresAt is not a time.
 */
import type { Transaction } from "@scep/core";
import { describe, expect, it } from "vitest";
import { usePrivateRedis } from "./support/private-redis.js";
import { until } from "./support/redis-probes.js";
import { CREATE, UNTRANSITION } from "../src/lib/scripts.js";
import { RedisTransactionStore, type RedisClient } from "../src/index.js";

const redis = usePrivateRedis();
const NOW = new Date("2026-03-01T10:00:00.000Z");
const HOUR = 3_600_000;
const now = (): Date => NOW;
const SECRET = "challenge-data-s3cret";

function tx(transactionId: string, status: Transaction["status"] = "PENDING"): Transaction {
  return {
    profile: "corp",
    transactionId,
    status,
    csr: Uint8Array.from([0x30, 0x00]),
    signerCertificate: Uint8Array.from([0x30, 0x02, 0x00, 0xfe]),
    renewal: false,
    createdAt: NOW,
    updatedAt: NOW,
    expiresAt: new Date(NOW.getTime() + 2 * HOUR),
    challengeData: JSON.stringify({ secret: SECRET }),
  };
}

const recordKey = (prefix: string, id: string): string => `${prefix}tx:{corp}:id:${id}`;

/** Every field and value of a key, for "left exactly as it was". */
async function raw(key: string): Promise<Record<string, string>> {
  return redis.client.hgetall(key);
}

const CORRUPTIONS: Array<[string, (key: string) => Promise<unknown>, RegExp]> = [
  ["renewal missing (another version's record)", (k) => redis.client.hdel(k, "renewal"), /field renewal is missing/],
  ["csr missing", (k) => redis.client.hdel(k, "csr"), /field csr is missing/],
  ["expiresAt not a number", (k) => redis.client.hset(k, "expiresAt", "tomorrow"), /field expiresAt is not a time in ms/],
  ["createdAt empty", (k) => redis.client.hset(k, "createdAt", ""), /field createdAt is not a time in ms/],
  ["updatedAt beyond a Date", (k) => redis.client.hset(k, "updatedAt", "99999999999999999"), /field updatedAt is not a time in ms/],
  ["status unknown", (k) => redis.client.hset(k, "status", "DONE"), /field status is not a transaction status/],
  ["failInfo unknown", (k) => redis.client.hset(k, "failInfo", "badLuck"), /field failInfo is not a SCEP failInfo/],
  ["chain truncated", (k) => redis.client.hset(k, "chain", Buffer.from([0, 0, 0, 9, 0x30])), /field chain is truncated/],
  ["transactionId of another record (a renamed key)", (k) => redis.client.hset(k, "transactionId", "other"), /not the one its key names/],
];

describe("RedisTransactionStore: a record it did not write", () => {
  it.each(CORRUPTIONS)("%s: get and list reject with ERR_STORE_UNAVAILABLE naming the field, never a value", async (_, corrupt, problem) => {
    const prefix = `bad-${Math.random().toString(36).slice(2)}:`;
    const store = new RedisTransactionStore(redis.client, { keyPrefix: prefix, now, retryAfterSeconds: 7 });
    expect(await store.create(tx("t1"))).toBe(true);
    await corrupt(recordKey(prefix, "t1"));
    for (const read of [() => store.get("corp", "t1"), () => store.list("corp")]) {
      const error = await read().then(
        () => undefined,
        (e: unknown) => e as Error & { code?: string; retryAfterSeconds?: number },
      );
      expect(error).toMatchObject({ name: "StoreUnavailableError", code: "ERR_STORE_UNAVAILABLE", retryAfterSeconds: 7 });
      expect(error!.message).toMatch(/^Redis holds a corrupt transaction record \(/);
      expect(error!.message).toMatch(problem);
      expect(error!.message).not.toContain(SECRET);
    }
  });

  it("transition whose record answers with a missing field: ERR_STORE_UNAVAILABLE, and what it wrote is put back", async () => {
    const store = new RedisTransactionStore(redis.client, { keyPrefix: "bad-tr:", now });
    expect(await store.create(tx("t1"))).toBe(true);
    await redis.client.hdel(recordKey("bad-tr:", "t1"), "renewal");
    await expect(store.transition("corp", "t1", "PENDING", { status: "REJECTED", updatedAt: new Date(NOW.getTime() + 1) })).rejects.toMatchObject({
      name: "StoreUnavailableError",
      code: "ERR_STORE_UNAVAILABLE",
      message: expect.stringMatching(/corrupt transaction record \(field renewal is missing\): transition refused/),
    });
    expect(await until(async () => (await redis.client.hget(recordKey("bad-tr:", "t1"), "status")) === "PENDING")).toBe(true);
    expect(await redis.client.zscore("bad-tr:tx:{corp}:status:PENDING", "t1")).toBe(String(NOW.getTime()));
  });

  it("create over a PENDING record whose expiresAt is not a time: ERR_STORE_UNAVAILABLE (CORRUPT), the record left as it is", async () => {
    const store = new RedisTransactionStore(redis.client, { keyPrefix: "bad-cr:", now });
    expect(await store.create(tx("t1"))).toBe(true);
    await redis.client.hset(recordKey("bad-cr:", "t1"), "expiresAt", "soon");
    const before = await raw(recordKey("bad-cr:", "t1"));
    await expect(store.create(tx("t1"))).rejects.toMatchObject({
      code: "ERR_STORE_UNAVAILABLE",
      message: "Redis holds a corrupt transaction record (field expiresAt is not a time in ms): create refused and changed nothing (fix or delete the key)",
    });
    expect(await raw(recordKey("bad-cr:", "t1"))).toEqual(before);
  });
});

/**
 * The test's client, except that the transition's undo (UNTRANSITION, as EVALSHA or EVAL) is held back 300 ms
 * (`"late"`: a caller that does not wait for it sees the record still moved on) or fails unsent (`"fails"`).
 */
function withUndo(mode: "late" | "fails"): RedisClient {
  const client = redis.client;
  const isUndo = (args: unknown[]): boolean => args[0] === UNTRANSITION.sha || args[0] === UNTRANSITION.source;
  return new Proxy(client, {
    get(target, prop) {
      const value: unknown = Reflect.get(target, prop, target);
      if (typeof value !== "function") return value;
      const method = value as (...args: unknown[]) => Promise<unknown>;
      if (prop !== "evalshaBuffer" && prop !== "evalBuffer") return method.bind(target);
      return async (...args: unknown[]): Promise<unknown> => {
        if (!isUndo(args)) return method.apply(target, args);
        if (mode === "fails") throw new Error("undo not sent");
        await new Promise((r) => setTimeout(r, 300));
        return method.apply(target, args);
      };
    },
  }) as unknown as RedisClient;
}

describe("RedisTransactionStore: the scripts read times by the rule the reads use (record.ts isMs)", () => {
  // 17 digits, or 16 beyond a Date: the old Lua `ms()` took up to 17 characters, so the transition wrote first and
  // its record was then refused by recordFrom, the write left to an undo nobody waited for.
  const TIMES: Array<[string, string]> = [
    ["expiresAt", "99999999999999999"],
    ["createdAt", "99999999999999999"],
    ["createdAt", "-8640000000000001"],
  ];
  it.each(TIMES)("transition over a record whose %s is %s: CORRUPT before the first write, nothing to put back", async (field, junk) => {
    const prefix = `ms-tr-${field}-${junk}:`;
    const store = new RedisTransactionStore(withUndo("late"), { keyPrefix: prefix, now });
    expect(await store.create(tx("t1"))).toBe(true);
    await redis.client.hset(recordKey(prefix, "t1"), field, junk);
    const before = await raw(recordKey(prefix, "t1"));
    await expect(store.transition("corp", "t1", "PENDING", { status: "REJECTED", updatedAt: new Date(NOW.getTime() + 1) })).rejects.toMatchObject({
      name: "StoreUnavailableError",
      code: "ERR_STORE_UNAVAILABLE",
      message: "Redis holds a corrupt transaction record (field expiresAt or createdAt is not a time in ms): transition refused and changed nothing (fix or delete the key)",
    });
    expect(await raw(recordKey(prefix, "t1"))).toEqual(before);
    expect(await redis.client.zscore(`${prefix}tx:{corp}:status:REJECTED`, "t1")).toBeNull();
  });

  it("create over a PENDING record whose expiresAt is 17 digits: CORRUPT (not 'a live record: refused'), the record left as it is", async () => {
    const store = new RedisTransactionStore(redis.client, { keyPrefix: "ms-cr:", now });
    expect(await store.create(tx("t1"))).toBe(true);
    await redis.client.hset(recordKey("ms-cr:", "t1"), "expiresAt", "99999999999999999");
    const before = await raw(recordKey("ms-cr:", "t1"));
    await expect(store.create(tx("t1"))).rejects.toMatchObject({
      code: "ERR_STORE_UNAVAILABLE",
      message: "Redis holds a corrupt transaction record (field expiresAt is not a time in ms): create refused and changed nothing (fix or delete the key)",
    });
    expect(await raw(recordKey("ms-cr:", "t1"))).toEqual(before);
  });

  it("the create script refuses a TTL PEXPIRE would refuse (\"007\", \"-5\") before its DEL: the old record is kept", async () => {
    const store = new RedisTransactionStore(redis.client, { keyPrefix: "ttl-lua:", now });
    expect(await store.create(tx("t1", "REJECTED"))).toBe(true);
    const before = await raw(recordKey("ttl-lua:", "t1"));
    const keys = [recordKey("ttl-lua:", "t1"), ...["PENDING", "ISSUING", "ISSUED", "REJECTED"].map((s) => `ttl-lua:tx:{corp}:status:${s}`), "ttl-lua:tx:{corp}:expiry"];
    for (const ttl of ["007", "-5", "0"]) {
      const error: unknown = await redis.client.eval(CREATE.source, keys.length, ...keys, NOW.getTime(), ttl, NOW.getTime(), NOW.getTime() + HOUR, "t1", 1, "status", "PENDING").catch((e: unknown) => e);
      expect(await raw(recordKey("ttl-lua:", "t1"))).toEqual(before);
      expect(String(error)).toMatch(/create: argument 2 is not a number/);
    }
  });
});

describe("RedisTransactionStore: a transition whose answered record cannot be read says what it left", () => {
  it("csr missing: the write is put back before the call rejects, so 'changed nothing' holds when it is told", async () => {
    const store = new RedisTransactionStore(withUndo("late"), { keyPrefix: "csr-late:", now });
    expect(await store.create(tx("t1"))).toBe(true);
    await redis.client.hdel(recordKey("csr-late:", "t1"), "csr");
    const before = await raw(recordKey("csr-late:", "t1"));
    await expect(store.transition("corp", "t1", "PENDING", { status: "REJECTED", updatedAt: new Date(NOW.getTime() + 1) })).rejects.toMatchObject({
      code: "ERR_STORE_UNAVAILABLE",
      message: "Redis holds a corrupt transaction record (field csr is missing): transition refused and changed nothing (fix or delete the key)",
    });
    expect(await raw(recordKey("csr-late:", "t1"))).toEqual(before);
    expect(await redis.client.zscore("csr-late:tx:{corp}:status:PENDING", "t1")).toBe(String(NOW.getTime()));
    expect(await redis.client.zscore("csr-late:tx:{corp}:status:REJECTED", "t1")).toBeNull();
  });

  it("csr missing and the undo fails: the error says the transition wrote and was not put back", async () => {
    const store = new RedisTransactionStore(withUndo("fails"), { keyPrefix: "csr-fail:", now });
    expect(await store.create(tx("t1"))).toBe(true);
    await redis.client.hdel(recordKey("csr-fail:", "t1"), "csr");
    await expect(store.transition("corp", "t1", "PENDING", { status: "REJECTED", updatedAt: new Date(NOW.getTime() + 1) })).rejects.toMatchObject({
      name: "StoreUnavailableError",
      code: "ERR_STORE_UNAVAILABLE",
      message: "Redis holds a corrupt transaction record (field csr is missing): transition wrote to it, and putting back what it wrote failed or was not confirmed (fix or delete the key)",
    });
    expect(await redis.client.hget(recordKey("csr-fail:", "t1"), "status")).toBe("REJECTED");
  });
});

describe("RedisTransactionStore: a write with an invalid Date changes nothing", () => {
  const INVALID: Array<[string, Partial<Transaction>]> = [
    ["expiresAt", { expiresAt: new Date(Number.NaN) }],
    ["createdAt", { createdAt: new Date(Number.NaN) }],
    ["updatedAt", { updatedAt: new Date(Number.NaN) }],
  ];

  it.each(INVALID)("create with an invalid %s over an ISSUED record: ERR_INVALID_ARGUMENT, the ISSUED record kept whole", async (field, change) => {
    const prefix = `nan-${field}:`;
    const store = new RedisTransactionStore(redis.client, { keyPrefix: prefix, now });
    expect(await store.create({ ...tx("t1", "ISSUED"), certificate: Uint8Array.from([0x30, 0x03]) })).toBe(true);
    const before = await raw(recordKey(prefix, "t1"));
    const ttl = await redis.client.pttl(recordKey(prefix, "t1"));
    const error: unknown = await store.create({ ...tx("t1"), ...change }).catch((e: unknown) => e);
    // Any undo sent behind a failed script has run by the time this read is answered (one connection, in order).
    expect(await raw(recordKey(prefix, "t1"))).toEqual(before);
    expect(error).toMatchObject({ name: "InvalidArgumentError", code: "ERR_INVALID_ARGUMENT", message: `${field} must be a valid Date` });
    expect(await redis.client.pttl(recordKey(prefix, "t1"))).toBeLessThanOrEqual(ttl);
    expect(await redis.client.pttl(recordKey(prefix, "t1"))).toBeGreaterThan(ttl - 5000);
    expect(await store.get("corp", "t1")).toMatchObject({ status: "ISSUED", certificate: Uint8Array.from([0x30, 0x03]) });
  });

  it("the create script itself checks its numbers before the DEL: an EVAL with `NaN` leaves the old record", async () => {
    const store = new RedisTransactionStore(redis.client, { keyPrefix: "nan-lua:", now });
    expect(await store.create(tx("t1", "REJECTED"))).toBe(true);
    const before = await raw(recordKey("nan-lua:", "t1"));
    const keys = [recordKey("nan-lua:", "t1"), ...["PENDING", "ISSUING", "ISSUED", "REJECTED"].map((s) => `nan-lua:tx:{corp}:status:${s}`), "nan-lua:tx:{corp}:expiry"];
    const error: unknown = await redis.client.eval(CREATE.source, keys.length, ...keys, NOW.getTime(), "NaN", NOW.getTime(), "NaN", "t1", 1, "status", "PENDING").catch((e: unknown) => e);
    expect(await raw(recordKey("nan-lua:", "t1"))).toEqual(before);
    expect(String(error)).toMatch(/create: argument 2 is not a number/);
  });

  it("transition with an invalid updatedAt or expiresAt: ERR_INVALID_ARGUMENT, nothing written (no `NaN` stored)", async () => {
    const store = new RedisTransactionStore(redis.client, { keyPrefix: "nan-tr:", now });
    expect(await store.create(tx("t1"))).toBe(true);
    const before = await raw(recordKey("nan-tr:", "t1"));
    const later = new Date(NOW.getTime() + 1);
    const first: unknown = await store.transition("corp", "t1", "PENDING", { status: "ISSUING", updatedAt: new Date(Number.NaN) }).catch((e: unknown) => e);
    expect(await raw(recordKey("nan-tr:", "t1"))).toEqual(before); // the old code stored updatedAt "NaN"
    expect(first).toMatchObject({ code: "ERR_INVALID_ARGUMENT", message: "update.updatedAt must be a valid Date" });
    await expect(store.transition("corp", "t1", "PENDING", { status: "ISSUING", updatedAt: later, expiresAt: new Date(Number.NaN) })).rejects.toMatchObject({ code: "ERR_INVALID_ARGUMENT", message: "update.expiresAt must be a valid Date" });
    expect(await raw(recordKey("nan-tr:", "t1"))).toEqual(before);
    expect(await store.transition("corp", "t1", "PENDING", { status: "ISSUING", updatedAt: later })).toMatchObject({ status: "ISSUING", updatedAt: later });
  });
});

/**
 * A status or expiry index key of another type (an operator's `SET` by hand): every script that writes to an index
 * checks the index keys' types before its first write (`CORRUPT transaction index (not a sorted set)`). Before,
 * `create` over a finished record deleted it and then failed on the ZREM (WRONGTYPE), `transition` wrote the record
 * and then failed on the ZADD (its undo failing on the same key), and `delete` deleted the record before its ZREM.
 */
describe("RedisTransactionStore: an index key that is not a sorted set", () => {
  const INDEX_CORRUPT = (op: string): string => `Redis holds a corrupt transaction index (not a sorted set): ${op} refused and changed nothing (fix or delete the key)`;

  it("create over an ISSUED record, with the ISSUING index a string: CORRUPT, the ISSUED record kept as it was", async () => {
    const prefix = "idx-cr:";
    const store = new RedisTransactionStore(redis.client, { keyPrefix: prefix, now, retryAfterSeconds: 7 });
    expect(await store.create({ ...tx("t1", "ISSUED"), certificate: Uint8Array.from([0x30, 0x00]) })).toBe(true);
    await redis.client.set(`${prefix}tx:{corp}:status:ISSUING`, "x");
    const before = await raw(recordKey(prefix, "t1"));
    const error: unknown = await store.create(tx("t1")).catch((e: unknown) => e);
    await redis.client.ping(); // the create's undo (sent on the same connection) has run
    expect(await raw(recordKey(prefix, "t1"))).toEqual(before); // the old script had DEL'd it
    expect(error).toMatchObject({ name: "StoreUnavailableError", code: "ERR_STORE_UNAVAILABLE", retryAfterSeconds: 7, message: INDEX_CORRUPT("create") });
    expect(await redis.client.zscore(`${prefix}tx:{corp}:status:ISSUED`, "t1")).toBe(String(NOW.getTime()));
    expect(await redis.client.get(`${prefix}tx:{corp}:status:ISSUING`)).toBe("x");
    // Fixed by the operator (the key deleted): the same create goes through.
    await redis.client.del(`${prefix}tx:{corp}:status:ISSUING`);
    expect(await store.create(tx("t1"))).toBe(true);
    expect((await store.get("corp", "t1"))?.status).toBe("PENDING");
  });

  it.each(["ISSUING", "expiry"])("transition PENDING -> ISSUING with the %s index a string: CORRUPT, nothing written, nothing left to put back", async (which) => {
    const prefix = `idx-tr-${which}:`;
    const store = new RedisTransactionStore(redis.client, { keyPrefix: prefix, now });
    expect(await store.create(tx("t1"))).toBe(true);
    const junk = which === "expiry" ? `${prefix}tx:{corp}:expiry` : `${prefix}tx:{corp}:status:ISSUING`;
    await redis.client.del(junk);
    await redis.client.set(junk, "x");
    const before = await raw(recordKey(prefix, "t1"));
    const update = { status: "ISSUING" as const, updatedAt: new Date(NOW.getTime() + 1), expiresAt: new Date(NOW.getTime() + HOUR) };
    const error: unknown = await store.transition("corp", "t1", "PENDING", update).catch((e: unknown) => e);
    await redis.client.ping(); // the transition's undo (same connection) has run: the old one failed on the same key
    expect(await raw(recordKey(prefix, "t1"))).toEqual(before);
    expect(error).toMatchObject({ code: "ERR_STORE_UNAVAILABLE", message: INDEX_CORRUPT("transition") });
    expect(await redis.client.zscore(`${prefix}tx:{corp}:status:PENDING`, "t1")).toBe(String(NOW.getTime()));
    expect(await redis.client.get(junk)).toBe("x");
    // A compare-and-set that misses still answers "no" (checked after it), nothing written.
    expect(await store.transition("corp", "t1", "ISSUED", update)).toBeUndefined();
  });

  it.each([
    ["delete", (store: RedisTransactionStore) => store.delete("corp", "t1")],
    ["list", (store: RedisTransactionStore) => store.list("corp")],
  ] as const)("%s with the ISSUED index a string: CORRUPT, the record and the indexes left as they were", async (op, run) => {
    const prefix = `idx-${op}:`;
    const store = new RedisTransactionStore(redis.client, { keyPrefix: prefix, now });
    expect(await store.create(tx("t1", "REJECTED"))).toBe(true);
    await redis.client.set(`${prefix}tx:{corp}:status:ISSUED`, "x");
    const before = await raw(recordKey(prefix, "t1"));
    const error: unknown = await run(store).catch((e: unknown) => e);
    expect(await raw(recordKey(prefix, "t1"))).toEqual(before); // the old delete had DEL'd it before its ZREM failed
    expect(error).toMatchObject({ code: "ERR_STORE_UNAVAILABLE", message: INDEX_CORRUPT(op) });
    expect(await redis.client.zscore(`${prefix}tx:{corp}:status:REJECTED`, "t1")).toBe(String(NOW.getTime()));
    await redis.client.del(`${prefix}tx:{corp}:status:ISSUED`);
    await run(store);
  });
});
