/**
 * RedisProfileStore (the SCEP proxy's delivery records) against @scep/proxy's
 * published ProfileStore conformance suite, on a real redis-server (started
 * here on a free loopback port and stopped afterwards); then what it leaves in
 * Redis, two stores (two proxy replicas) on one Redis, and failing with
 * ERR_STORE_UNAVAILABLE while Redis hangs.
 */
import Redis from "ioredis";
import { describe, expect, it } from "vitest";
import { profileStoreConformance } from "@scep/proxy/testing";
import type { ProfileRecord } from "@scep/proxy";
import { usePrivateRedis } from "./support/private-redis.js";
import { pause } from "./support/redis-probes.js";
import { RedisChallengeStore, RedisProfileStore, redisClientOptions } from "../src/index.js";

const redis = usePrivateRedis();

profileStoreConformance({ name: "RedisProfileStore", create: ({ now }) => new RedisProfileStore(redis.client, { now }) });

const T0 = Date.UTC(2026, 10, 29, 12, 0, 0);
const now = (): Date => new Date(T0);
const record = (hostId: string, over: Partial<ProfileRecord> = {}): ProfileRecord => ({ hostId, profileId: "wifi", caName: "corp", status: "pending", updatedAt: T0 - 1000, ...over });

async function all<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

describe("what Redis holds", () => {
  it("one hash per record, one index and one expiry index, all under the prefix with the {proxy-profiles} hash tag and a TTL of retentionMs", async () => {
    const store = new RedisProfileStore(redis.client, { keyPrefix: "pp1:", now, retentionMs: 3_600_000 });
    await store.put(record("host,1", { platform: "darwin", challengeRetrievedAt: T0 - 5000 }));
    const keys = (await redis.client.keys("pp1:*")).sort();
    expect(keys).toEqual(["pp1:proxy:{proxy-profiles}:expiry", "pp1:proxy:{proxy-profiles}:index", "pp1:proxy:{proxy-profiles}:r:host%2C1,wifi,corp"]);
    // The expiry index scores the record by the end of its retention, by the store's clock.
    expect(await redis.client.zrange("pp1:proxy:{proxy-profiles}:expiry", "0", "-1", "WITHSCORES")).toEqual(["host%2C1,wifi,corp", String(T0 + 3_600_000)]);
    for (const k of keys) {
      const ttl = await redis.client.pttl(k);
      expect(ttl).toBeGreaterThan(3_500_000);
      expect(ttl).toBeLessThanOrEqual(3_600_000);
    }
    expect(await redis.client.hgetall(keys[2]!)).toEqual({
      hostId: "host,1",
      profileId: "wifi",
      caName: "corp",
      status: "pending",
      updatedAt: String(T0 - 1000),
      platform: "darwin",
      challengeRetrievedAt: String(T0 - 5000),
    });
    // The first {…} of each key is the same hash tag: one Cluster slot (store.conformance.redis-cluster.test.ts runs the suite there).
    for (const k of keys) expect(/\{[^}]*\}/.exec(k)?.[0]).toBe("{proxy-profiles}");
  });

  it("list() skips and unindexes a record gone by its TTL, and pages past 256 records", async () => {
    const store = new RedisProfileStore(redis.client, { keyPrefix: "pp2:", now });
    await Promise.all(Array.from({ length: 300 }, (_, i) => store.put(record(`h${String(i).padStart(3, "0")}`))));
    await redis.client.del("pp2:proxy:{proxy-profiles}:r:h007,wifi,corp");
    const listed = await all(store.list());
    expect(listed).toHaveLength(299);
    expect(new Set(listed.map((r) => r.hostId)).size).toBe(299);
    expect(listed.some((r) => r.hostId === "h007")).toBe(false);
    expect(await redis.client.zcard("pp2:proxy:{proxy-profiles}:index")).toBe(299);
  });

  it("a record that exists throughout a list() shows exactly once while others are written meanwhile", async () => {
    const store = new RedisProfileStore(redis.client, { keyPrefix: "pp3:", now });
    await Promise.all(Array.from({ length: 600 }, (_, i) => store.put(record(`h${String(i).padStart(3, "0")}`))));
    const seen: string[] = [];
    let writes = 0;
    for await (const r of store.list()) {
      seen.push(r.hostId);
      // Every 50 records, requeue and re-put records on both sides of the cursor.
      if (seen.length % 50 === 0) {
        await store.requeue({ hostId: "h000", profileId: "wifi", caName: "corp" });
        await store.put(record(`h${String(599 - writes).padStart(3, "0")}`, { status: "verified" }));
        writes++;
      }
    }
    expect(seen).toHaveLength(600);
    expect(new Set(seen).size).toBe(600);
  });
});

describe("two stores (two proxy replicas) on one Redis", () => {
  it("40 requeues raced from both add 40; a markFailed racing a requeue leaves one of the two whole", async () => {
    const other = new Redis({ ...redis.server.connection, ...redisClientOptions, lazyConnect: true });
    await other.connect();
    try {
      const a = new RedisProfileStore(redis.client, { keyPrefix: "pp4:", now });
      const b = new RedisProfileStore(other, { keyPrefix: "pp4:", now });
      const key = { hostId: "h", profileId: "wifi", caName: "corp" };
      await a.put(record("h", { challengeRetrievedAt: T0 - 10 }));
      await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 ? a : b).requeue(key)));
      expect(await b.get(key)).toEqual({ ...key, status: "none", requeueCount: 40, updatedAt: T0 });
      await a.put(record("h", { challengeRetrievedAt: T0 - 10 }));
      await Promise.all([a.markFailed(key, "upstream timeout"), b.requeue(key)]);
      const after = await a.get(key);
      expect([
        { ...key, status: "failed", detail: "upstream timeout", requeueCount: 1, updatedAt: T0 },
        { ...key, status: "none", requeueCount: 1, updatedAt: T0 },
      ]).toContainEqual(after);
    } finally {
      other.disconnect();
    }
  });
});

describe("conditional requeue (requeue with the record as read) across two replicas", () => {
  it("replica A's requeue of what it read leaves the registration replica B wrote meanwhile untouched; the comparison is in the script, which survives SCRIPT FLUSH", async () => {
    const other = new Redis({ ...redis.server.connection, ...redisClientOptions, lazyConnect: true });
    await other.connect();
    try {
      const a = new RedisProfileStore(redis.client, { keyPrefix: "pp7:", now });
      const b = new RedisProfileStore(other, { keyPrefix: "pp7:", now });
      const key = { hostId: "h", profileId: "wifi", caName: "corp" };
      await a.put(record("h", { challengeHash: "a".repeat(64), challengeRetrievedAt: T0 - 10 }));
      const read = (await a.get(key))!;
      // The MDM registers the profile again through replica B: a new challenge, status pending.
      const again = record("h", { challengeHash: "b".repeat(64), challengeRetrievedAt: T0 - 5, updatedAt: T0 - 5 });
      await b.put(again);
      expect(await a.requeue(key, read)).toBe(false);
      expect(await b.get(key)).toStrictEqual(again);
      // A known field written behind the store's back (not in `expected`) also makes it another record.
      const current = (await b.get(key))!;
      await redis.client.hset("pp7:proxy:{proxy-profiles}:r:h,wifi,corp", "detail", "x");
      expect(await a.requeue(key, current)).toBe(false);
      await redis.client.hdel("pp7:proxy:{proxy-profiles}:r:h,wifi,corp", "detail");
      // A field this version does not know (a later version's, in a rolling upgrade) is left out of the compare, and left alone.
      await redis.client.hset("pp7:proxy:{proxy-profiles}:r:h,wifi,corp", "stray", "x");
      await redis.client.script("FLUSH"); // EVALSHA answered NOSCRIPT: EVAL, same script
      expect(await a.requeue(key, current)).toBe(true);
      expect(await b.get(key)).toStrictEqual({ ...key, status: "none", challengeHash: "b".repeat(64), requeueCount: 1, updatedAt: T0 });
      expect(await redis.client.hget("pp7:proxy:{proxy-profiles}:r:h,wifi,corp", "stray")).toBe("x");
      expect(await redis.client.pttl("pp7:proxy:{proxy-profiles}:r:h,wifi,corp")).toBeGreaterThan(0);
    } finally {
      other.disconnect();
    }
  });
});

describe("conditional markFailed (markFailed with the record as read) across two replicas", () => {
  it("replica A's markFailed of what it read leaves the registration replica B wrote meanwhile pending; of two replicas marking the same read, one applies; the comparison survives SCRIPT FLUSH", async () => {
    const other = new Redis({ ...redis.server.connection, ...redisClientOptions, lazyConnect: true });
    await other.connect();
    try {
      const a = new RedisProfileStore(redis.client, { keyPrefix: "pp8:", now });
      const b = new RedisProfileStore(other, { keyPrefix: "pp8:", now });
      const key = { hostId: "h", profileId: "wifi", caName: "corp" };
      await a.put(record("h", { challengeHash: "a".repeat(64), challengeRetrievedAt: T0 - 10 }));
      const read = (await a.get(key))!;
      // The MDM registers the profile again through replica B while A's request fails upstream.
      const again = record("h", { challengeHash: "b".repeat(64), challengeRetrievedAt: T0 - 5, updatedAt: T0 - 5 });
      await b.put(again);
      expect(await a.markFailed(key, "upstream timeout", read)).toBe(false);
      expect(await b.get(key)).toStrictEqual(again);
      // Both replicas mark the same read record failed at once: one applies, whole.
      const current = (await b.get(key))!;
      const results = await Promise.all([a.markFailed(key, "upstream http", current), b.markFailed(key, "upstream other", current)]);
      expect(results.filter((r) => r === true)).toHaveLength(1);
      const detail = results[0] ? "upstream http" : "upstream other";
      expect(await a.get(key)).toStrictEqual({ ...again, status: "failed", detail, updatedAt: T0 });
      // NOSCRIPT → EVAL: still conditional.
      await redis.client.script("FLUSH");
      expect(await a.markFailed(key, "x", current)).toBe(false);
      const failed = (await a.get(key))!;
      await redis.client.script("FLUSH");
      expect(await b.markFailed(key, "upstream timeout", failed)).toBe(true);
      expect(await redis.client.pttl("pp8:proxy:{proxy-profiles}:r:h,wifi,corp")).toBeGreaterThan(0);
    } finally {
      other.disconnect();
    }
  });
});

describe("Redis down → ERR_STORE_UNAVAILABLE (fail closed), recovered without a restart", () => {
  it("every operation rejects with StoreUnavailableError while the server is paused past commandTimeoutMs", async () => {
    // 1 s: waited out while the server is paused, and the bound on the answers after SIGCONT, which a loaded machine
    // must not exceed (300 ms could be).
    const store = new RedisProfileStore(redis.client, { keyPrefix: "pp5:", commandTimeoutMs: 1000, retryAfterSeconds: 7, now });
    const challenges = new RedisChallengeStore(redis.client, { keyPrefix: "pp5:", commandTimeoutMs: 1000, now });
    const key = { hostId: "h", profileId: "wifi", caName: "corp" };
    await pause(redis.server); // stopped before anything is sent: every call waits in the socket
    try {
      const outcomes = await Promise.all(
        [() => store.get(key), () => store.put(record("h")), () => store.requeue(key), () => store.markFailed(key, "x"), () => store.delete(key), () => all(store.list()), () => challenges.issue({ profile: "corp" })].map((op) =>
          op().then((v) => ({ ok: v }), (e: unknown) => e),
        ),
      );
      for (const e of outcomes) expect(e).toMatchObject({ name: "StoreUnavailableError", code: "ERR_STORE_UNAVAILABLE" });
      expect(outcomes[0]).toMatchObject({ retryAfterSeconds: 7, message: "Redis did not answer get within 1000 ms" });
    } finally {
      redis.server.resume();
    }
    await store.put(record("h"));
    expect((await store.get(key))?.status).toBe("pending");
  });
});

describe("options", () => {
  it("refuses a keyPrefix with braces and a non-positive retentionMs (ERR_INVALID_ARGUMENT)", () => {
    expect(() => new RedisProfileStore(redis.client, { keyPrefix: "a{b}:" })).toThrow(expect.objectContaining({ code: "ERR_INVALID_ARGUMENT" }));
    expect(() => new RedisProfileStore(redis.client, { retentionMs: 0 })).toThrow(expect.objectContaining({ code: "ERR_INVALID_ARGUMENT", message: "retentionMs must be an integer number of milliseconds from 1 to 31536000000 (got 0)" }));
  });

  it("put refuses an unknown status or an empty key field with ERR_INVALID_ARGUMENT and writes nothing", async () => {
    const store = new RedisProfileStore(redis.client, { keyPrefix: "pp6:", now });
    await expect(store.put(record("h", { status: "delivered" as never }))).rejects.toMatchObject({ code: "ERR_INVALID_ARGUMENT", message: "status must be one of pending, verifying, verified, failed, none" });
    await expect(store.put(record(""))).rejects.toMatchObject({ code: "ERR_INVALID_ARGUMENT", message: "hostId must be a non-empty string" });
    expect(await redis.client.keys("pp6:*")).toEqual([]);
  });
});
