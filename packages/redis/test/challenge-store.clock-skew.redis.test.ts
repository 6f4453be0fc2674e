/**
 * RedisChallengeStore shared by replicas whose clocks disagree. Each replica decides by its own (injected) clock
 * whether a challenge has expired, as the ChallengeStore contract says; but a challenge's key lives in Redis until its
 * TTL runs out, by Redis's clock. Before the fix, a `consume` on a replica whose clock ran past the challenge's
 * expiresAt also deleted the key: one replica running hours ahead destroyed a one-time challenge that was still valid
 * for every other replica, and the device's retry through them was refused.
 *
 * Two connections to one real redis-server on loopback, as two replicas; each store's clock is injected.
 */
import { describe, expect, it } from "vitest";
import { usePrivateRedis } from "./support/private-redis.js";
import { RedisChallengeStore } from "../src/index.js";

const redis = usePrivateRedis({}, { second: true });
const HOUR = 3_600_000;

/** A replica's clock: the host's (the one Redis runs on) moved by `skewMs`. */
const clock = (skewMs: number) => (): Date => new Date(Date.now() + skewMs);

describe("RedisChallengeStore: a replica's clock decides only its own answer", () => {
  it("a consume on a replica 2 hours ahead refuses a challenge valid for an hour, and leaves it for the replicas on time", async () => {
    const onTime = new RedisChallengeStore(redis.client, { keyPrefix: "ch-skew:", now: clock(0) });
    const ahead = new RedisChallengeStore(redis.second, { keyPrefix: "ch-skew:", now: clock(2 * HOUR) });
    const challenge = await onTime.issue({ profile: "corp", ttlMs: HOUR });
    expect(await ahead.consume(challenge, { profile: "corp" })).toBe(false); // expired by its own clock
    expect(await ahead.release(challenge, { profile: "corp" })).toBe(false);
    expect(await onTime.consume(challenge, { profile: "corp" })).toBe(true);
    expect(await onTime.consume(challenge, { profile: "corp" })).toBe(false); // still one-time
  });
});
