/**
 * RFC 5280 §5.2.3 (a CRL number is unique and increasing for a CA) across a reset of Redis: a FLUSHDB (or a restart
 * without persistence) loses the `crl-number` counter; the next number must still be above every number answered
 * before, on any replica, even one that knows nothing of them (a data directory of its own) or whose clock is ahead
 * (the start is Redis's own `TIME`), and a floor a replica passes (`atLeast`) becomes the shared counter. Real redis-server on loopback, two connections as two replicas.
 */
import { describe, expect, it } from "vitest";
import { waitFor } from "../../../test-support/peers";
import { usePrivateRedis } from "./support/private-redis.js";
import { MAX_CRL_NUMBER } from "@scep/core";
import { RedisRevocationStore } from "../src/index.js";

const redis = usePrivateRedis({}, { second: true });

/** Redis's clock (`TIME`) in ms. */
async function redisMs(): Promise<bigint> {
  const [seconds, micros] = await redis.client.time();
  return BigInt(seconds!) * 1000n + BigInt(micros!) / 1000n;
}

/** Returns once Redis's clock is past `ms` (a condition on Redis's clock, not a sleep of a guessed length). */
async function laterThan(ms: bigint): Promise<void> {
  await waitFor(async () => ((await redisMs()) > ms ? true : undefined), { timeoutMs: 5000, intervalMs: 1, what: "Redis's clock to pass a millisecond" });
}

describe("RedisRevocationStore.nextCrlNumber across a FLUSHDB", () => {
  it("after a flush, the next number on another replica is above every number answered before (the counter starts at Redis's TIME in ms × 1000, not 1)", async () => {
    const now = (): Date => new Date("2026-03-01T10:00:00.000Z"); // the replicas' clocks are not used for the start
    const x = new RedisRevocationStore(redis.client, { keyPrefix: "flush-crl:", now });
    const y = new RedisRevocationStore(redis.second, { keyPrefix: "flush-crl:", now });
    const t0 = await redisMs();
    const before: bigint[] = [];
    for (let i = 0; i < 5; i++) before.push(await (i % 2 ? y : x).nextCrlNumber());
    const t1 = await redisMs();
    // A new Redis: its own clock's ms × 1000, read in the script.
    expect(before[0]! % 1000n).toBe(0n);
    expect(before[0]! >= t0 * 1000n && before[0]! <= t1 * 1000n).toBe(true);
    expect(before).toEqual(before.map((_, i) => before[0]! + BigInt(i)));
    await redis.server.command("FLUSHDB");
    await laterThan(before[0]! / 1000n); // one millisecond of Redis's clock later: 1000 numbers of headroom
    const after = await y.nextCrlNumber();
    expect(after > before.at(-1)!).toBe(true);
    expect(await x.nextCrlNumber()).toBe(after + 1n);
  });

  it("a replica whose clock is an hour ahead starts the counter after one flush, another replica after a second flush: its number is still above (the start is Redis's clock, not the replica's)", async () => {
    const real = await redisMs();
    const ahead = new RedisRevocationStore(redis.client, { keyPrefix: "ahead-crl:", now: () => new Date(Number(real) + 3_600_000) });
    const onTime = new RedisRevocationStore(redis.second, { keyPrefix: "ahead-crl:", now: () => new Date(Number(real)) });
    await redis.server.command("FLUSHDB");
    const first = await ahead.nextCrlNumber();
    expect(first <= (await redisMs()) * 1000n).toBe(true); // not the replica's hour ahead
    await redis.server.command("FLUSHDB");
    await laterThan(first / 1000n);
    const second = await onTime.nextCrlNumber();
    expect(second > first).toBe(true);
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

  it("RFC 5280 §5.2.3: a counter at 2^159 - 1, or above it (49 digits, written by hand), is ERR_CRL_NUMBER_EXHAUSTED and is left as it is, whatever the floor", async () => {
    const store = new RedisRevocationStore(redis.client, { keyPrefix: "max-crl:" });
    await redis.client.set("max-crl:crl-number:{ca}", String(MAX_CRL_NUMBER));
    await expect(store.nextCrlNumber()).rejects.toMatchObject({ name: "CrlNumberExhaustedError", code: "ERR_CRL_NUMBER_EXHAUSTED" });
    await expect(store.nextCrlNumber({ atLeast: MAX_CRL_NUMBER })).rejects.toMatchObject({ code: "ERR_CRL_NUMBER_EXHAUSTED" });
    expect(await redis.client.get("max-crl:crl-number:{ca}")).toBe(String(MAX_CRL_NUMBER));
    const above = String(10n ** 48n);
    await redis.client.set("max-crl:crl-number:{ca}", above);
    await expect(store.nextCrlNumber({ atLeast: 7n })).rejects.toMatchObject({ code: "ERR_CRL_NUMBER_EXHAUSTED" });
    expect(await redis.client.get("max-crl:crl-number:{ca}")).toBe(above);
  });

  it("a counter INCR wrote (a store from before the script) goes on from its value", async () => {
    const store = new RedisRevocationStore(redis.client, { keyPrefix: "old-crl:" });
    await redis.client.incrby("old-crl:crl-number:{ca}", 41);
    expect(await store.nextCrlNumber()).toBe(42n);
    expect(await redis.client.incr("old-crl:crl-number:{ca}")).toBe(43); // and an old replica's INCR goes on from it
    expect(await store.nextCrlNumber()).toBe(44n);
  });
});
