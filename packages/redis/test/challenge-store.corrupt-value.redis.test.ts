/**
 * RedisChallengeStore.consume over a challenge key it did not write (an operator's SET by hand, another version's
 * value), written with a raw client on a real redis-server. A live value is "<expiresAt ms>:<profile>"; the consume
 * script now checks the expiry by the shared ms rule (record.ts `isMs`, the Lua `ms()`) and the key's type before its
 * first write, and answers `CORRUPT challenge (…)` (StoreUnavailableError `ERR_STORE_UNAVAILABLE`), the key left as
 * it was. Before, "123" and "12x:corp" failed with a Lua runtime error, "1e3:corp" was read as expiring at 1000 ms
 * (deleted as expired), a 23-digit expiry was accepted (consumed), and a key of another type failed with a plain
 * WRONGTYPE. Valid values are consumed exactly as before.
 */
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { usePrivateRedis } from "./support/private-redis.js";
import { RedisChallengeStore } from "../src/index.js";

const redis = usePrivateRedis();
const T0 = Date.UTC(2026, 10, 29, 12, 0, 0);
const now = (): Date => new Date(T0);
let n = 0;

async function fresh(): Promise<{ store: RedisChallengeStore; challenge: string; key: string }> {
  const prefix = `badc${++n}:`;
  const store = new RedisChallengeStore(redis.client, { keyPrefix: prefix, now, retryAfterSeconds: 7 });
  const challenge = await store.issue({ profile: "corp", ttlMs: 60_000 });
  const key = `${prefix}challenge:${createHash("sha256").update(challenge, "utf8").digest("hex")}`;
  expect(await redis.client.get(key)).toBe(`${T0 + 60_000}:corp`);
  return { store, challenge, key };
}

const message = (what: string): string => `Redis holds a corrupt challenge (${what}): consume refused and changed nothing (fix or delete the key)`;

describe("RedisChallengeStore.consume: a value it did not write", () => {
  const VALUES: Array<[string, string]> = [
    ["123", "not <expiresAt ms>:<profile>"],
    ["12x:corp", "its expiresAt is not a time in ms"],
    ["1e3:corp", "its expiresAt is not a time in ms"],
    ["99999999999999999999999:corp", "its expiresAt is not a time in ms"],
    ["9640000000000000:corp", "its expiresAt is not a time in ms"],
  ];

  it.each(VALUES)("%s: CORRUPT (%s), the key left as it was", async (value, problem) => {
    const { store, challenge, key } = await fresh();
    await redis.client.set(key, value, "PX", 60_000);
    for (const profile of ["corp", "other"]) {
      await expect(store.consume(challenge, { profile })).rejects.toMatchObject({
        name: "StoreUnavailableError",
        code: "ERR_STORE_UNAVAILABLE",
        retryAfterSeconds: 7,
        message: message(problem),
      });
      await redis.client.ping(); // the consume's undo (same connection) has run
      expect(await redis.client.get(key)).toBe(value);
    }
  });

  it("a key of another type: CORRUPT (not a string), left as it was", async () => {
    const { store, challenge, key } = await fresh();
    await redis.client.del(key);
    await redis.client.hset(key, "a", "1");
    await expect(store.consume(challenge, { profile: "corp" })).rejects.toMatchObject({ code: "ERR_STORE_UNAVAILABLE", message: message("not a string") });
    await redis.client.ping();
    expect(await redis.client.hgetall(key)).toEqual({ a: "1" });
  });

  it("valid values are consumed as before: another profile false (kept), expired false (kept, for Redis to drop by its TTL), live true once", async () => {
    const { store, challenge, key } = await fresh();
    expect(await store.consume(challenge, { profile: "other" })).toBe(false);
    expect(await redis.client.get(key)).toBe(`${T0 + 60_000}:corp`);
    expect(await store.consume(challenge, { profile: "corp" })).toBe(true);
    expect(await store.consume(challenge, { profile: "corp" })).toBe(false);
    // A profile with a ':' in it, and an expiry of up to 16 digits: read as written.
    await redis.client.set(key, `${T0 + 1}:a:b`, "PX", 60_000);
    expect(await store.consume(challenge, { profile: "a:b" })).toBe(true);
    await redis.client.set(key, `${T0}:corp`, "PX", 60_000);
    expect(await store.consume(challenge, { profile: "corp" })).toBe(false);
    // Expired by this store's clock only: another replica's clock may still accept it, and Redis drops it by its TTL.
    expect(await redis.client.get(key)).toBe(`${T0}:corp`);
    await redis.client.set(key, "8640000000000000:corp", "PX", 60_000);
    expect(await store.consume(challenge, { profile: "corp" })).toBe(true);
  });
});
