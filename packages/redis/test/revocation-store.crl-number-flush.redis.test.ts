/**
 * RFC 5280 §5.2.3 (a CRL number is unique and increasing for a CA) across a reset of Redis: a FLUSHDB (or a restart
 * without persistence) loses the `crl-number` counter; the next number must still be above every number answered
 * before, on any replica, even one that knows nothing of them (a data directory of its own), and a floor a replica
 * passes (`atLeast`) becomes the shared counter. Real redis-server on loopback, two connections as two replicas.
 */
import { describe, expect, it } from "vitest";
import { usePrivateRedis } from "./support/private-redis.js";
import { RedisRevocationStore } from "../src/index.js";

const redis = usePrivateRedis({}, { second: true });

describe("RedisRevocationStore.nextCrlNumber across a FLUSHDB", () => {
  it("after a flush, the next number on another replica is above every number answered before (the counter starts at the clock's ms × 1000, not 1)", async () => {
    let ms = Date.parse("2026-03-01T10:00:00.000Z");
    const now = (): Date => new Date(ms);
    const x = new RedisRevocationStore(redis.client, { keyPrefix: "flush-crl:", now });
    const y = new RedisRevocationStore(redis.second, { keyPrefix: "flush-crl:", now });
    const before: bigint[] = [];
    for (let i = 0; i < 5; i++) before.push(await (i % 2 ? y : x).nextCrlNumber());
    expect(before[0]).toBe(BigInt(ms) * 1000n); // a new Redis: the clock's ms × 1000
    expect(before).toEqual(before.map((_, i) => before[0]! + BigInt(i)));
    ms += 1; // one millisecond later: 1000 numbers of headroom
    await redis.server.command("FLUSHDB");
    const after = await y.nextCrlNumber();
    expect(after > before.at(-1)!).toBe(true);
    expect(after).toBe(BigInt(ms) * 1000n);
    expect(await x.nextCrlNumber()).toBe(after + 1n);
  });

  it("after a flush, a replica's floor (its last published CRL + 1) becomes the shared counter: the other replica numbers on above it", async () => {
    const now = (): Date => new Date("2026-03-01T10:00:00.000Z");
    const x = new RedisRevocationStore(redis.client, { keyPrefix: "floor-crl:", now });
    const y = new RedisRevocationStore(redis.second, { keyPrefix: "floor-crl:", now });
    const last = await x.nextCrlNumber();
    await redis.server.command("FLUSHDB");
    // X's data directory knows a CRL numbered far above the clock's base (e.g. one of a store with a faster clock).
    const floor = last + 10_000_000n;
    expect(await x.nextCrlNumber({ atLeast: floor })).toBe(floor);
    expect(await y.nextCrlNumber()).toBe(floor + 1n);
    expect(await redis.client.get("floor-crl:crl-number:{ca}")).toBe(String(floor + 1n));
  });

  it("a counter that holds what this store did not write is ERR_STORE_UNAVAILABLE and is left as it is", async () => {
    const store = new RedisRevocationStore(redis.client, { keyPrefix: "junk-crl:" });
    await redis.client.set("junk-crl:crl-number:{ca}", "not-a-number");
    await expect(store.nextCrlNumber()).rejects.toMatchObject({ code: "ERR_STORE_UNAVAILABLE" });
    expect(await redis.client.get("junk-crl:crl-number:{ca}")).toBe("not-a-number");
  });

  it("a counter INCR wrote (a store from before the script) goes on from its value", async () => {
    const store = new RedisRevocationStore(redis.client, { keyPrefix: "old-crl:" });
    await redis.client.incrby("old-crl:crl-number:{ca}", 41);
    expect(await store.nextCrlNumber()).toBe(42n);
    expect(await redis.client.incr("old-crl:crl-number:{ca}")).toBe(43); // and an old replica's INCR goes on from it
    expect(await store.nextCrlNumber()).toBe(44n);
  });
});
