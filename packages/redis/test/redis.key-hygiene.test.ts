/**
 * What @scep/redis leaves in Redis: keys under the prefix, a TTL on every
 * key, challenges only as SHA-256 digests, one hash slot per profile, and no
 * KEYS/SCAN on any operation (checked with INFO commandstats).
 */
import { createHash } from "node:crypto";
import { Cluster } from "ioredis";
import { describe, expect, it } from "vitest";
import type { Transaction } from "@scep/core";
import { startRedisServer } from "../../../test-support/peers";
import { usePrivateRedis } from "./support/private-redis.js";
import { until } from "./support/redis-probes.js";
import { RedisChallengeStore, RedisCounterStore, RedisTransactionStore } from "../src/index.js";

const redis = usePrivateRedis();

const T0 = Date.now();
const now = (): Date => new Date(T0);

function tx(profile: string, transactionId: string, overrides: Partial<Transaction> = {}): Transaction {
  return {
    profile,
    transactionId,
    status: "PENDING",
    csr: new Uint8Array([0x30, 0x00, 0xff]),
    signerCertificate: new Uint8Array([0x30, 0x01, 0x00]),
    renewal: false,
    createdAt: now(),
    updatedAt: now(),
    expiresAt: new Date(T0 + 600_000),
    ...overrides,
  };
}

/** Every key and its PTTL (KEYS is fine here: this is the test looking, not the store). */
async function keysWithTtl(pattern: string): Promise<Record<string, number>> {
  const keys = (await redis.client.keys(pattern)).sort();
  const out: Record<string, number> = {};
  for (const k of keys) out[k] = await redis.client.pttl(k);
  return out;
}

describe("@scep/redis key hygiene", () => {
  it("writes only under keyPrefix, one hash tag per profile, each key with a TTL no longer than the record's life", async () => {
    const store = new RedisTransactionStore(redis.client, { keyPrefix: "hyg1:", now });
    await store.create(tx("corp:east", "t1"));
    await store.create(tx("corp:east", "t2", { expiresAt: new Date(T0 + 60_000) }));
    await store.transition("corp:east", "t2", "PENDING", { status: "ISSUED", updatedAt: now(), certificate: new Uint8Array([1]) });
    const keys = await keysWithTtl("hyg1:*");
    expect(Object.keys(keys)).toEqual([
      "hyg1:tx:{corp%3Aeast}:expiry",
      "hyg1:tx:{corp%3Aeast}:id:t1",
      "hyg1:tx:{corp%3Aeast}:id:t2",
      "hyg1:tx:{corp%3Aeast}:status:ISSUED",
      "hyg1:tx:{corp%3Aeast}:status:PENDING",
    ]);
    for (const [key, ttl] of Object.entries(keys)) {
      expect(ttl, key).toBeGreaterThan(0);
      expect(ttl, key).toBeLessThanOrEqual(600_000);
    }
    expect(keys["hyg1:tx:{corp%3Aeast}:id:t2"]).toBeLessThanOrEqual(60_000);
    expect(await redis.client.keys("scep:*")).toEqual([]);
  });

  it("stores a challenge only as its SHA-256, with a TTL, and the profile beside its expiry; a consumed one stays marked spent under its TTL until it expires", async () => {
    const store = new RedisChallengeStore(redis.client, { keyPrefix: "hyg2:", now });
    const challenge = await store.issue({ profile: "corp", ttlMs: 30_000 });
    expect(challenge).toMatch(/^[A-Za-z0-9_-]{32}$/); // 24 random bytes, base64url
    const digest = createHash("sha256").update(challenge).digest("hex");
    const keys = await keysWithTtl("hyg2:*");
    expect(Object.keys(keys)).toEqual([`hyg2:challenge:${digest}`]);
    expect(keys[`hyg2:challenge:${digest}`]).toBeGreaterThan(0);
    expect(keys[`hyg2:challenge:${digest}`]).toBeLessThanOrEqual(30_000);
    expect(await redis.client.get(`hyg2:challenge:${digest}`)).toBe(`${T0 + 30_000}:corp`);
    expect(await store.consume(challenge, { profile: "corp" })).toBe(true);
    // Kept (so `release` can put it back), marked spent, with the TTL it was issued with, never longer.
    const spent = await keysWithTtl("hyg2:*");
    expect(Object.keys(spent)).toEqual([`hyg2:challenge:${digest}`]);
    expect(spent[`hyg2:challenge:${digest}`]).toBeGreaterThan(0);
    expect(spent[`hyg2:challenge:${digest}`]).toBeLessThanOrEqual(keys[`hyg2:challenge:${digest}`]!);
    expect(await redis.client.get(`hyg2:challenge:${digest}`)).toMatch(new RegExp(`^s${T0 + 30_000}:corp#[0-9a-f]{16}$`)); // spent, with the consumer's tag
    expect(await store.release(challenge, { profile: "corp" })).toBe(true);
    expect(await redis.client.get(`hyg2:challenge:${digest}`)).toBe(`${T0 + 30_000}:corp`);
    expect(await redis.client.pttl(`hyg2:challenge:${digest}`)).toBeLessThanOrEqual(spent[`hyg2:challenge:${digest}`]!);
  });

  it("keeps a profile's counters in one hash whose TTL every write refreshes", async () => {
    const counters = new RedisCounterStore(redis.client, { keyPrefix: "hyg5:", retentionMs: 86_400_000 });
    counters.increment("corp:east", "success", "issued");
    counters.increment("corp:east", "failure", "bad_challenge");
    await counters.close();
    const keys = await keysWithTtl("hyg5:*");
    const [hash, marker, ...more] = Object.keys(keys).sort();
    expect([hash, more]).toEqual(["hyg5:stats:{corp%3Aeast}", []]);
    expect(marker).toMatch(/^hyg5:stats:\{corp%3Aeast\}:writer:[0-9a-f]{16}$/); // the store's marker, for undoing a late write
    expect(keys[hash!]).toBeGreaterThan(86_000_000);
    expect(keys[marker!]).toBeGreaterThan(0);
    expect(keys[marker!]).toBeLessThanOrEqual(60_000);
    expect(await redis.client.hgetall("hyg5:stats:{corp%3Aeast}")).toEqual({ "outcome:success": "1", "reason:issued": "1", "outcome:failure": "1", "reason:bad_challenge": "1" });
  });

  it("no operation runs KEYS or SCAN, and the index of a profile shrinks as its records expire", async () => {
    let t = T0;
    const clock = (): Date => new Date(t);
    const store = new RedisTransactionStore(redis.client, { keyPrefix: "hyg3:", now: clock });
    const challenges = new RedisChallengeStore(redis.client, { keyPrefix: "hyg3:", now: clock });
    await redis.client.config("RESETSTAT");
    for (let i = 0; i < 100; i++) await store.create(tx("p", `old${i}`, { expiresAt: new Date(T0 + 300) }));
    // A record that outlives them keeps the index keys (their TTL is their longest-lived member's).
    await store.create(tx("p", "keeper", { expiresAt: new Date(T0 + 600_000) }));
    // Index entries go when Redis drops their records (its clock), not when the store's clock says so: wait for it.
    const old = Array.from({ length: 100 }, (_, i) => `hyg3:tx:{p}:id:old${i}`);
    expect(await until(async () => (await redis.client.exists(...old)) === 0), "Redis expired the old records").toBe(true);
    t += 2_000;
    await store.create(tx("p", "fresh", { expiresAt: new Date(t + 600_000) }));
    await store.get("p", "fresh");
    await store.transition("p", "fresh", "PENDING", { status: "ISSUING", updatedAt: clock() });
    expect((await store.list("p")).map((x) => x.transactionId)).toEqual(["fresh", "keeper"]); // one createdAt: by transactionID
    await store.delete("p", "keeper");
    await store.delete("p", "fresh");
    await challenges.consume(await challenges.issue({ profile: "p" }), { profile: "p" });
    const counters = new RedisCounterStore(redis.client, { keyPrefix: "hyg3:" });
    counters.increment("p", "success", "issued");
    await counters.read("p");
    await counters.close();
    const stats = await redis.client.info("commandstats");
    expect(stats).toMatch(/cmdstat_evalsha:/);
    expect(stats).not.toMatch(/cmdstat_(keys|scan|hscan|zscan|sscan):/);
    // 64 expired entries went with the create, the other 36 with list's prune: nothing is left behind.
    expect(await redis.client.zcard("hyg3:tx:{p}:status:PENDING")).toBe(0);
    expect(await redis.client.zcard("hyg3:tx:{p}:expiry")).toBe(0);
  });

  it("falls back to EVAL when Redis forgot the scripts (SCRIPT FLUSH, a restart, a failover)", async () => {
    const store = new RedisTransactionStore(redis.client, { keyPrefix: "hyg4:", now });
    expect(await store.create(tx("p", "a"))).toBe(true);
    await redis.client.script("FLUSH");
    expect(await store.create(tx("p", "a"))).toBe(false);
    expect(await store.create(tx("p", "b"))).toBe(true);
  });

  it("refuses a keyPrefix with braces and a non-positive deadline (ERR_INVALID_ARGUMENT)", () => {
    expect(() => new RedisTransactionStore(redis.client, { keyPrefix: "a{b}:" })).toThrow(expect.objectContaining({ code: "ERR_INVALID_ARGUMENT" }));
    expect(() => new RedisChallengeStore(redis.client, { commandTimeoutMs: 0 })).toThrow(expect.objectContaining({ code: "ERR_INVALID_ARGUMENT" }));
  });
});

describe("the one-node cluster the cluster conformance run uses", () => {
  it("refuses a script whose keys span slots (CROSSSLOT), so that run can fail", async () => {
    const node = await startRedisServer({ cluster: true });
    const { host, port } = node.connection as { host: string; port: number };
    const cluster = new Cluster([{ host, port }], { lazyConnect: true });
    try {
      await cluster.connect();
      await expect(cluster.eval("return 1", 2, "{a}x", "{a}y")).resolves.toBe(1);
      await expect(cluster.eval("return 1", 2, "a", "b")).rejects.toThrow(/CROSSSLOT/);
    } finally {
      cluster.disconnect();
      await node.stop();
    }
  });
});

describe("one-time challenges RedisChallengeStore issues", () => {
  it("are 32 base64url characters (24 random bytes), never starting with '-' (a command line would read it as an option)", async () => {
    const store = new RedisChallengeStore(redis.client, { now, keyPrefix: "shape:" });
    const issued = await Promise.all(Array.from({ length: 2000 }, () => store.issue({ profile: "shape" })));
    for (const c of issued) expect(c).toMatch(/^[A-Za-z0-9_][A-Za-z0-9_-]{31}$/);
    expect(issued.some((c) => c.includes("-"))).toBe(true);
  });
});
