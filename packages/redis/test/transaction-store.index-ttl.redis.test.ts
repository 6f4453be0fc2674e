/**
 * RedisTransactionStore's index keys (the status indexes and the expiry index of a profile) each have a TTL, which
 * every write extends so that the key outlives every record it lists. The faults held here are writes that set or
 * extended a record's TTL without extending every index key that lists it, or scored the expiry index otherwise than
 * by when Redis drops the record:
 * - `transition` extended the new status index only when the status changed: a claim renewal (ISSUING→ISSUING, a
 *   later expiresAt: @scep/core's claim-renewal.ts) gave the record an hour while its ISSUING index key kept the first
 *   lease's TTL, and once that ran out the in-flight issuance vanished from every operator's `list()` (`get` still
 *   found it);
 * - the undo of a transition whose reply came late (`untransition`) re-armed the record for its remaining TTL from
 *   Redis's clock at the undo, later than it first ended, but extended neither the expiry index nor, when the status
 *   stayed, the status index: those keys expired while Redis still held the record;
 * - that undo scored a record without a TTL (an operator's PERSIST) in the expiry index by its `expiresAt` (the
 *   writer's clock): once Redis's clock passed that time, the next prune dropped the index entries of a record Redis
 *   never drops and the store's clock still calls live.
 *
 * Real redis-server on loopback. A late reply is a client whose transition reply never reaches the store (the
 * script runs at once; the store gives up after its `commandTimeoutMs` and sends the undo). Nothing sleeps: a test
 * that needs Redis's clock past a time polls Redis's `TIME`.
 */
import type { Transaction, TransactionUpdate } from "@scep/core";
import { describe, expect, it } from "vitest";
import { usePrivateRedis } from "./support/private-redis.js";
import { until } from "./support/redis-probes.js";
import { RedisTransactionStore, type RedisClient } from "../src/index.js";
import { TRANSITION } from "../src/lib/scripts.js";

const redis = usePrivateRedis();
const NOW = new Date("2026-03-01T10:00:00.000Z");
const HOUR = 3_600_000;
/** A replica's clock standing still (its `expiresAt`s stay live; Redis's TTLs run on Redis's own clock). */
const frozen = (): Date => NOW;
/** How long the store waits for a transition whose reply is lost: the undo runs on Redis about this long after it. */
const TIMEOUT_MS = 1000;

function tx(transactionId: string, status: "PENDING" | "ISSUING", lifetimeMs: number, now = NOW): Transaction {
  const base: Transaction = {
    profile: "corp",
    transactionId,
    status,
    csr: Uint8Array.from([0x30, 0x00]),
    signerCertificate: Uint8Array.from([0x30, 0x02, 0x00, 0xfe]),
    renewal: false,
    createdAt: now,
    updatedAt: now,
    expiresAt: new Date(now.getTime() + lifetimeMs),
  };
  return status === "ISSUING" ? { ...base, signerCertificate: new Uint8Array(0), direct: true } : { ...base, challengeValidated: true };
}

const keys = (prefix: string, id: string) => ({
  record: `${prefix}tx:{corp}:id:${id}`,
  status: (s: string) => `${prefix}tx:{corp}:status:${s}`,
  expiry: `${prefix}tx:{corp}:expiry`,
});

/** Redis's clock (`TIME`) in ms. */
async function redisMs(): Promise<number> {
  const [s, us] = await redis.client.time();
  return Number(s) * 1000 + Math.floor(Number(us) / 1000);
}

/** When Redis drops `key` (PEXPIRETIME, ms by Redis's clock): -1 never, -2 gone. */
async function endOf(key: string): Promise<number> {
  return Number(await redis.client.call("PEXPIRETIME", key));
}

/** The index keys (of `indexes`) that Redis drops before `record`, each with both ends: [] when every one outlives it. */
async function dropsBefore(record: string, indexes: string[]): Promise<string[]> {
  const recordEnd = await endOf(record);
  const out: string[] = [];
  for (const key of indexes) {
    const end = await endOf(key);
    const covers = end === -1 || (recordEnd !== -1 && end >= recordEnd);
    if (!covers) out.push(`${key} ends ${end}, its record ${recordEnd}`);
  }
  return out;
}

/**
 * The test's client, except that a transition's reply never reaches the store: the script is sent and runs at once
 * (`landed` resolves when Redis has answered), the store gives up after its commandTimeoutMs and sends its undo.
 */
function lostTransitionReply(): { client: RedisClient; landed: Promise<void> } {
  let land!: () => void;
  const landed = new Promise<void>((r) => (land = r));
  const isTransition = (args: unknown[]): boolean => args[0] === TRANSITION.sha || args[0] === TRANSITION.source;
  const client = new Proxy(redis.client, {
    get(target, prop) {
      const value: unknown = Reflect.get(target, prop, target);
      if (typeof value !== "function") return value;
      const method = value as (...args: unknown[]) => Promise<unknown>;
      if (prop !== "evalshaBuffer" && prop !== "evalBuffer") return method.bind(target);
      return (...args: unknown[]): Promise<unknown> => {
        const reply = method.apply(target, args);
        if (!isTransition(args)) return reply;
        // NOSCRIPT comes back as is (the store then sends EVAL, held the same way); an answer is lost.
        return reply.then(() => {
          land();
          return new Promise<never>(() => undefined);
        });
      };
    },
  }) as unknown as RedisClient;
  return { client, landed };
}

describe("RedisTransactionStore: every index key lives at least as long as the records it lists", () => {
  it("a claim renewal (ISSUING→ISSUING, expiresAt an hour on) extends the ISSUING index and the expiry index with the record: the issuance stays listed past its first lease", async () => {
    const prefix = "renew-index:";
    const k = keys(prefix, "T");
    const store = new RedisTransactionStore(redis.client, { keyPrefix: prefix, now: frozen });
    const claim = tx("T", "ISSUING", 800);
    expect(await store.create(claim)).toBe(true);
    const firstEnd = await endOf(k.record);
    const renewed = await store.transition("corp", "T", "ISSUING", { status: "ISSUING", updatedAt: NOW, expiresAt: new Date(NOW.getTime() + HOUR) }, { updatedAt: NOW });
    expect(renewed).toEqual({ ...claim, expiresAt: new Date(NOW.getTime() + HOUR) });
    expect(await redis.client.pttl(k.record)).toBeGreaterThan(HOUR - 60_000);

    expect(await dropsBefore(k.record, [k.status("ISSUING"), k.expiry])).toEqual([]);
    expect(await redis.client.zscore(k.expiry, "T")).toBe(String(await endOf(k.record)));

    // Past the first lease's end by Redis's clock: the renewed claim is still listed, by status and without.
    expect(await until(async () => (await redisMs()) > firstEnd + 50), "Redis's clock passed the first lease").toBe(true);
    expect(await store.get("corp", "T")).toEqual(renewed);
    expect(await store.list("corp")).toEqual([renewed]);
    expect(await store.list("corp", { status: "ISSUING" })).toEqual([renewed]);
  });

  it("a renewal puts back the record's entry in its status index when the index lost it (an earlier version's renewal let the key expire)", async () => {
    const prefix = "renew-heal:";
    const k = keys(prefix, "T");
    const store = new RedisTransactionStore(redis.client, { keyPrefix: prefix, now: frozen });
    const claim = tx("T", "ISSUING", HOUR);
    expect(await store.create(claim)).toBe(true);
    await redis.client.del(k.status("ISSUING")); // as the ISSUING key an earlier version's renewal left to expire
    expect(await store.list("corp")).toEqual([]);

    const expiresAt = new Date(NOW.getTime() + 2 * HOUR);
    const renewed = await store.transition("corp", "T", "ISSUING", { status: "ISSUING", updatedAt: NOW, expiresAt }, { updatedAt: NOW });
    expect(renewed).toEqual({ ...claim, expiresAt });
    expect(await store.list("corp")).toEqual([renewed]);
    expect(await dropsBefore(k.record, [k.status("ISSUING"), k.expiry])).toEqual([]);
  });

  const late: Array<{ name: string; from: "PENDING" | "ISSUING"; update: TransactionUpdate; expect?: { updatedAt: Date } }> = [
    { name: "an approver's claim (PENDING→ISSUING)", from: "PENDING", update: { status: "ISSUING", updatedAt: new Date(NOW.getTime() + 1000) } },
    {
      name: "an approver's takeover of a lapsed claim (ISSUING→ISSUING, fenced)",
      from: "ISSUING",
      update: { status: "ISSUING", updatedAt: new Date(NOW.getTime() + 1000) },
      expect: { updatedAt: NOW },
    },
  ];
  it.each(late)("$name whose reply is lost is undone: the record re-armed from Redis's clock, and its status index and the expiry index live as long", async ({ from, update, expect: fence }) => {
    const prefix = `late-${from}:`;
    const k = keys(prefix, "T");
    const store = new RedisTransactionStore(redis.client, { keyPrefix: prefix, now: frozen });
    const lost = lostTransitionReply();
    const lateStore = new RedisTransactionStore(lost.client, { keyPrefix: prefix, now: frozen, commandTimeoutMs: TIMEOUT_MS });
    const record = tx("T", from, 3000);
    expect(await store.create(record)).toBe(true);
    const firstEnd = await endOf(k.record);

    await expect(lateStore.transition("corp", "T", from, update, fence)).rejects.toMatchObject({ code: "ERR_STORE_UNAVAILABLE" });
    await lost.landed;
    expect(await until(async () => (await redis.client.hexists(k.record, "prior")) === 0), "the undo ran").toBe(true);
    expect(await store.get("corp", "T")).toEqual(record);

    // The undo gave the record what was left of its TTL from Redis's clock at the undo: it ends later than it did.
    const end = await endOf(k.record);
    expect(end).toBeGreaterThan(firstEnd);
    expect(await redis.client.zscore(k.expiry, "T")).toBe(String(end));
    expect(await dropsBefore(k.record, [k.status(from), k.expiry])).toEqual([]);

    // Between its first end and its end, Redis still holds it: listed, and scored by its end in the expiry index.
    expect(await until(async () => (await redisMs()) > firstEnd + 20), "Redis's clock passed the record's first end").toBe(true);
    expect(await store.list("corp")).toEqual([record]);
    expect(await redis.client.zscore(k.expiry, "T")).toBe(String(end));
    expect(await redis.client.exists(k.record)).toBe(1); // (else the test was too slow to show anything)
  });

  it("a record without a TTL (PERSIST by hand) whose late transition is undone stays without one and leaves the expiry index (Redis never drops it): a prune keeps it listed", async () => {
    const prefix = "late-persist:";
    const k = keys(prefix, "T");
    // A replica 3 hours behind Redis: the record's expiresAt (2 hours on by its clock) is an hour ago by Redis's.
    const behind = (): Date => new Date(Date.now() - 3 * HOUR);
    const store = new RedisTransactionStore(redis.client, { keyPrefix: prefix, now: behind });
    const lost = lostTransitionReply();
    const lateStore = new RedisTransactionStore(lost.client, { keyPrefix: prefix, now: behind, commandTimeoutMs: TIMEOUT_MS });
    const record = tx("T", "PENDING", 2 * HOUR, new Date(behind().getTime()));
    expect(await store.create(record)).toBe(true);
    expect(await redis.client.persist(k.record)).toBe(1);

    const t = behind();
    const reject: TransactionUpdate = { status: "REJECTED", updatedAt: t, expiresAt: new Date(t.getTime() + 24 * HOUR), failInfo: "badRequest" };
    await expect(lateStore.transition("corp", "T", "PENDING", reject)).rejects.toMatchObject({ code: "ERR_STORE_UNAVAILABLE" });
    await lost.landed;
    expect(await until(async () => (await redis.client.hexists(k.record, "prior")) === 0), "the undo ran").toBe(true);

    expect(await store.get("corp", "T")).toEqual(record);
    expect(await redis.client.pttl(k.record)).toBe(-1);
    expect(await redis.client.zscore(k.expiry, "T")).toBeNull();
    expect(await store.list("corp")).toEqual([record]); // the list's prune (Redis's clock) keeps its entries
    expect(await redis.client.zrange(k.status("PENDING"), "0", "-1")).toEqual(["T"]);
  });
});
