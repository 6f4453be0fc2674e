/**
 * RedisRateLimiter shared by replicas whose clocks disagree. Each replica counts the hits in its own window (its
 * injected clock), as the RateLimiter contract says; but the log is one sorted set every replica reads. Before the fix
 * a `hit` removed every hit older than the caller's window from the shared log: one replica running a day ahead wiped
 * a device's whole history for every replica, and the device enrolled again through the others past its limit.
 *
 * Two connections to one real redis-server on loopback, as two replicas; each limiter's clock is injected. Nothing
 * sleeps: the one test that needs a window to pass on Redis's clock polls Redis's TIME.
 */
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { waitFor } from "../../../test-support/peers";
import { usePrivateRedis } from "./support/private-redis.js";
import { RedisRateLimiter } from "../src/index.js";

const redis = usePrivateRedis({}, { second: true });
const DAY = 86_400_000;

/** A replica's clock: the host's (the one Redis runs on) moved by `skewMs`. */
const clock = (skewMs: number) => (): Date => new Date(Date.now() + skewMs);

/** The log's key of a rate-limit key (`<prefix>rate:<sha256 hex>`). */
const logKey = (prefix: string, key: string): string => `${prefix}rate:${createHash("sha256").update(key, "utf8").digest("hex")}`;

/** Redis's clock (`TIME`) in ms. */
async function redisMs(): Promise<number> {
  const [seconds, micros] = await redis.client.time();
  return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
}

describe("RedisRateLimiter: a replica's clock decides only its own count", () => {
  it("a hit on a replica 2 days ahead does not drop the hits the others still count: the limit holds on them", async () => {
    const onTime = new RedisRateLimiter(redis.client, { keyPrefix: "rl-skew:", now: clock(0) });
    const ahead = new RedisRateLimiter(redis.second, { keyPrefix: "rl-skew:", now: clock(2 * DAY) });
    const limit = { max: 2, windowMs: DAY };
    expect(await onTime.hit("device-1", limit)).toMatchObject({ allowed: true, count: 1 });
    expect(await onTime.hit("device-1", limit)).toMatchObject({ allowed: true, count: 2 });
    // By its own clock the two hits are two days old, out of its window: it counts only its own.
    expect(await ahead.hit("device-1", limit)).toMatchObject({ allowed: true, count: 1 });
    // The replica on time still counts its two (and the one dated two days ahead, inside its window from its view).
    expect(await onTime.hit("device-1", limit)).toEqual({ allowed: false, count: 3 });
    expect(await redis.client.zcard(logKey("rl-skew:", "device-1"))).toBe(3);
  });

  it("hits leave the log once they are out of the window by Redis's clock and by the caller's", async () => {
    const onTime = new RedisRateLimiter(redis.client, { keyPrefix: "rl-prune:", now: clock(0) });
    const limit = { max: 1, windowMs: 200 };
    const key = logKey("rl-prune:", "device-2");
    expect(await onTime.hit("device-2", limit)).toMatchObject({ allowed: true, count: 1 });
    const after = (await redisMs()) + 250;
    await waitFor(async () => ((await redisMs()) > after && Date.now() > after ? true : undefined), { timeoutMs: 5000, intervalMs: 5, what: "the window to pass" });
    expect(await onTime.hit("device-2", limit)).toMatchObject({ allowed: true, count: 1 });
    expect(await redis.client.zcard(key)).toBe(1);
  });
});
