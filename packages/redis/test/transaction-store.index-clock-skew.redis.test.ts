/**
 * RedisTransactionStore's status indexes shared by replicas whose clocks disagree. A record lives in Redis until its
 * TTL runs out, which Redis judges by its own clock; the index entries that `list()` reads must go by that same
 * judgement, not by the clock of whichever replica happens to prune them. Before the fix every `create` and `list`
 * dropped the entries scored (by `expiresAt`) before the caller's own clock: one replica running hours ahead dropped
 * the entries of records still live for every other replica (gone from their `list()`, while `get` still found them),
 * and a replica running behind left the entries of expired records in the index for as long as its clock was behind.
 *
 * Two connections to one real redis-server on loopback, as two replicas; each store's clock is injected. Nothing
 * sleeps: a test that needs Redis to expire a record polls until Redis no longer holds it.
 */
import type { Transaction } from "@scep/core";
import { describe, expect, it } from "vitest";
import { usePrivateRedis } from "./support/private-redis.js";
import { until } from "./support/redis-probes.js";
import { RedisTransactionStore } from "../src/index.js";

const redis = usePrivateRedis({}, { second: true });
const HOUR = 3_600_000;
const STATUSES = ["PENDING", "ISSUING", "ISSUED", "REJECTED"] as const;

/** A replica's clock: the host's (the one Redis runs on) moved by `skewMs`. */
const clock = (skewMs: number) => (): Date => new Date(Date.now() + skewMs);

function pending(transactionId: string, now: Date, lifetimeMs: number): Transaction {
  return {
    profile: "corp",
    transactionId,
    status: "PENDING",
    csr: Uint8Array.from([0x30, 0x00]),
    signerCertificate: Uint8Array.from([0x30, 0x00]),
    renewal: false,
    createdAt: now,
    updatedAt: now,
    expiresAt: new Date(now.getTime() + lifetimeMs),
  };
}

/** Two replicas of one deployment (same prefix), one on the host's clock and one `skewMs` off it. */
function replicas(prefix: string, skewMs: number): { onTime: RedisTransactionStore; skewed: RedisTransactionStore; onTimeNow: () => Date; skewedNow: () => Date } {
  const onTimeNow = clock(0);
  const skewedNow = clock(skewMs);
  return {
    onTime: new RedisTransactionStore(redis.client, { keyPrefix: prefix, now: onTimeNow }),
    skewed: new RedisTransactionStore(redis.second, { keyPrefix: prefix, now: skewedNow }),
    onTimeNow,
    skewedNow,
  };
}

/** The transactionIDs in any index of the profile (status indexes and the expiry index). */
async function indexed(prefix: string): Promise<string[]> {
  const keys = [...STATUSES.map((s) => `${prefix}tx:{corp}:status:${s}`), `${prefix}tx:{corp}:expiry`];
  const all = await Promise.all(keys.map((k) => redis.client.zrange(k, "0", "-1")));
  return [...new Set(all.flat())].sort();
}

/** Resolves once Redis no longer holds the record (its TTL has run out by Redis's clock). */
async function expiredInRedis(prefix: string, transactionId: string): Promise<void> {
  const gone = await until(async () => (await redis.client.exists(`${prefix}tx:{corp}:id:${transactionId}`)) === 0);
  expect(gone, `Redis expired ${transactionId}`).toBe(true);
}

describe("RedisTransactionStore: an index entry goes when Redis expires its record, whatever the replicas' clocks say", () => {
  it("a replica 3 hours ahead creates and lists: the record another replica wrote stays listed while it lives, and goes once Redis expires it", async () => {
    const { onTime, skewed, onTimeNow, skewedNow } = replicas("skew-ahead:", 3 * HOUR);
    expect(await onTime.create(pending("live", onTimeNow(), HOUR))).toBe(true);
    expect(await onTime.create(pending("short", onTimeNow(), 300))).toBe(true);

    // The replica ahead writes (every create prunes) and lists (so does every list). By its clock both records
    // of the other replica are past their expiresAt, so it does not list them itself: that is its own view.
    expect(await skewed.create(pending("from-ahead", skewedNow(), HOUR))).toBe(true);
    expect((await skewed.list("corp")).map((t) => t.transactionId)).toEqual(["from-ahead"]);

    // Every replica on time still lists the record that lives in Redis.
    expect((await onTime.list("corp")).map((t) => t.transactionId)).toContain("live");
    expect(await onTime.get("corp", "live")).toMatchObject({ status: "PENDING" });
    expect(await indexed("skew-ahead:")).toEqual(["from-ahead", "live", "short"]);

    // Once Redis has expired "short", the next prune (the replica ahead's, here) drops its entries, and no list shows it.
    await expiredInRedis("skew-ahead:", "short");
    expect((await skewed.list("corp")).map((t) => t.transactionId)).toEqual(["from-ahead"]);
    expect(await indexed("skew-ahead:")).toEqual(["from-ahead", "live"]);
    // "from-ahead" is listed too: by this replica's clock it was created 3 hours from now and lives 4 (its own view).
    expect((await onTime.list("corp")).map((t) => t.transactionId)).toEqual(["live", "from-ahead"]);
  });

  it("the record a replica ahead wrote is dropped from the index once Redis expires it, not hours later by the others' clocks", async () => {
    const { onTime, skewed, skewedNow, onTimeNow } = replicas("skew-ahead-writer:", 3 * HOUR);
    expect(await skewed.create(pending("short", skewedNow(), 300))).toBe(true);
    // A record that lives on keeps the index keys themselves (their TTL is their longest-lived member's).
    expect(await onTime.create(pending("anchor", onTimeNow(), HOUR))).toBe(true);
    await expiredInRedis("skew-ahead-writer:", "short");
    expect((await onTime.list("corp")).map((t) => t.transactionId)).toEqual(["anchor"]);
    expect(await indexed("skew-ahead-writer:")).toEqual(["anchor"]);
  });

  it("a replica 3 hours behind drops the entries of a record Redis expired at once, not 3 hours later", async () => {
    const { onTime, skewed: behind, onTimeNow, skewedNow } = replicas("skew-behind:", -3 * HOUR);
    expect(await onTime.create(pending("anchor", onTimeNow(), HOUR))).toBe(true);
    expect(await onTime.create(pending("short", onTimeNow(), 300))).toBe(true);
    expect(await behind.create(pending("own-short", skewedNow(), 300))).toBe(true);
    await expiredInRedis("skew-behind:", "short");
    await expiredInRedis("skew-behind:", "own-short");
    // Only the replica behind writes and lists from now on: the index must not keep the dead entries.
    expect(await behind.create(pending("later", skewedNow(), HOUR))).toBe(true);
    expect((await behind.list("corp")).map((t) => t.transactionId)).toEqual(["later", "anchor"]); // by createdAt: "later" was created by the clock behind
    expect(await indexed("skew-behind:")).toEqual(["anchor", "later"]);
  });

  it("the expiry index scores each record by when Redis expires it (PEXPIRETIME), through create, transition and delete", async () => {
    const { onTime, skewed, skewedNow, onTimeNow } = replicas("skew-score:", 3 * HOUR);
    const expiry = "skew-score:tx:{corp}:expiry";
    const atRedis = async (id: string): Promise<string> => String(await redis.client.call("PEXPIRETIME", `skew-score:tx:{corp}:id:${id}`));
    expect(await skewed.create(pending("a", skewedNow(), HOUR))).toBe(true);
    expect(await onTime.create(pending("b", onTimeNow(), 2 * HOUR))).toBe(true);
    expect(await redis.client.zscore(expiry, "a")).toBe(await atRedis("a"));
    expect(await redis.client.zscore(expiry, "b")).toBe(await atRedis("b"));
    const t = skewedNow();
    await skewed.transition("corp", "a", "PENDING", { status: "REJECTED", updatedAt: t, expiresAt: new Date(t.getTime() + 24 * HOUR), failInfo: "badRequest" });
    expect(await redis.client.zscore(expiry, "a")).toBe(await atRedis("a"));
    expect(Number(await redis.client.pttl("skew-score:tx:{corp}:id:a"))).toBeGreaterThan(23 * HOUR);
    await onTime.delete("corp", "b");
    expect(await indexed("skew-score:")).toEqual(["a"]);
  });
});
