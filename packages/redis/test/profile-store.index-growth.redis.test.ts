/**
 * RedisProfileStore under a flood of distinct devices over days: the index must not keep an entry for every record
 * that ever lived. The proxy never calls `list()` on its own, and every write refreshed the index's TTL, so before
 * the expiry index the entries of records gone by `retentionMs` stayed forever.
 *
 * Records "gone by their TTL" are deleted by the test (what Redis does when `retentionMs` has passed on its clock);
 * the store's own clock is injected, so nothing waits on the wall clock.
 */
import { describe, expect, it } from "vitest";
import type { ProfileRecord } from "@scep/proxy";
import { usePrivateRedis } from "./support/private-redis.js";
import { RedisProfileStore } from "../src/index.js";

const redis = usePrivateRedis();

const DAY = 86_400_000;
const T0 = Date.UTC(2026, 10, 29, 12, 0, 0);

const record = (hostId: string, updatedAt: number): ProfileRecord => ({ hostId, profileId: "wifi", caName: "corp", status: "pending", updatedAt });

async function all<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

describe("RedisProfileStore index under a flood of distinct devices", () => {
  it("drops index entries of records gone by retentionMs as new devices register, without list(): key and entry counts return to the baseline", async () => {
    let t = T0;
    const prefix = "growth1:";
    const index = `${prefix}proxy:{proxy-profiles}:index`;
    const store = new RedisProfileStore(redis.client, { keyPrefix: prefix, now: () => new Date(t), retentionMs: DAY });
    const wave = async (day: number): Promise<void> => {
      for (let i = 0; i < 40; i++) await store.put(record(`d${day}-${i}`, t));
    };
    await wave(0);
    const baselineKeys = (await redis.client.keys(`${prefix}*`)).length;
    expect(await redis.client.zcard(index)).toBe(40);
    for (let day = 1; day <= 5; day++) {
      // A day and a bit later: yesterday's records are gone by their TTL (Redis' clock), a new wave of devices registers.
      const gone = await redis.client.keys(`${prefix}proxy:{proxy-profiles}:r:*`);
      await redis.client.del(...gone);
      t += DAY + 60_000;
      await wave(day);
      // Only today's devices are indexed, and Redis holds as many keys as after the first wave.
      expect(await redis.client.zcard(index)).toBe(40);
      expect((await redis.client.keys(`${prefix}*`)).length).toBe(baselineKeys);
    }
    const listed = await all(store.list());
    expect(listed.map((r) => r.hostId).sort()).toEqual(Array.from({ length: 40 }, (_, i) => `d5-${i}`).sort());
  });

  it("keeps listing a record still in Redis when the store's clock says its retention has passed (clocks disagree), and forgets it once it is gone", async () => {
    let t = T0;
    const prefix = "growth2:";
    const index = `${prefix}proxy:{proxy-profiles}:index`;
    const store = new RedisProfileStore(redis.client, { keyPrefix: prefix, now: () => new Date(t), retentionMs: DAY });
    await store.put(record("early", t));
    // The store's clock runs two days ahead of Redis' (whose TTL of "early" has not run out).
    t += 2 * DAY;
    await store.put(record("late-1", t));
    expect((await all(store.list())).map((r) => r.hostId).sort()).toEqual(["early", "late-1"]);
    expect(await redis.client.zcard(index)).toBe(2);
    // Redis' TTL runs out later: the next registration drops the entry.
    await redis.client.del(`${prefix}proxy:{proxy-profiles}:r:early,wifi,corp`);
    t += 2 * DAY;
    await store.put(record("late-2", t));
    expect(await redis.client.zrange(index, "0", "-1")).toEqual(["late-1", "late-2"].map((h) => `${h},wifi,corp`));
  });

  it("delete removes the record from both indexes", async () => {
    const prefix = "growth3:";
    const store = new RedisProfileStore(redis.client, { keyPrefix: prefix, now: () => new Date(T0), retentionMs: DAY });
    await store.put(record("h", T0));
    expect(await store.delete({ hostId: "h", profileId: "wifi", caName: "corp" })).toBe(true);
    expect(await redis.client.keys(`${prefix}*`)).toEqual([]);
  });

  it("an expiry index key of another type is refused (corrupt profile index) before put writes anything", async () => {
    const prefix = "growth4:";
    const store = new RedisProfileStore(redis.client, { keyPrefix: prefix, now: () => new Date(T0), retentionMs: DAY });
    await redis.client.set(`${prefix}proxy:{proxy-profiles}:expiry`, "x");
    await expect(store.put(record("h", T0))).rejects.toMatchObject({
      code: "ERR_STORE_UNAVAILABLE",
      message: "Redis holds a corrupt profile index (not a sorted set): put refused and changed nothing (fix or delete the key)",
    });
    expect((await redis.client.keys(`${prefix}*`)).sort()).toEqual([`${prefix}proxy:{proxy-profiles}:expiry`]);
  });
});
