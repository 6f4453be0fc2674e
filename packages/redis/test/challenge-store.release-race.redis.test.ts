/**
 * The race held here: a refund (`release`) of one proxy replica racing the device's retries on another replica.
 * Two RedisChallengeStores on two connections to one real redis-server (loopback): replica A consumed a challenge
 * and gives it back after its upstream refused the request, once, and once more late (a duplicate refund); replica
 * B meanwhile consumes the same challenge for the device's retries. Whatever the interleaving, the challenge is
 * consumed again at most once, and only A's own consume is released.
 */
import { describe, expect, it } from "vitest";
import { usePrivateRedis } from "./support/private-redis.js";
import { RedisChallengeStore } from "../src/index.js";

const redis = usePrivateRedis({}, { second: true });

describe("RedisChallengeStore.release racing consumes on another replica", () => {
  it("of 200 rounds of refund + late duplicate refund + 20 retries on two connections, none uses the challenge twice", async () => {
    const a = new RedisChallengeStore(redis.client, { keyPrefix: "race:" });
    const b = new RedisChallengeStore(redis.second, { keyPrefix: "race:" });
    let reused = 0;
    for (let round = 0; round < 200; round++) {
      const c = await a.issue({ profile: "corp" });
      expect(await a.consume(c, { profile: "corp", consumption: `a${round}` })).toBe(true);
      // Retries on both sides of the refund: 10 sent before it, 10 once its command is written (setImmediate), so
      // some reach Redis after it (20 sent before it lost the race in all 200 rounds of one Node 22 CI run: 0 reused).
      const retry = (i: number): Promise<boolean> => b.consume(c, { profile: "corp", consumption: `b${round}-${i}` });
      const early = Array.from({ length: 10 }, (_, i) => retry(i));
      const refund = a.release(c, { profile: "corp", consumption: `a${round}` });
      await new Promise((next) => setImmediate(next));
      const retries = [...early, ...Array.from({ length: 10 }, (_, i) => retry(10 + i))];
      const late = (async () => {
        await Promise.race(retries); // after some retry has answered: the duplicate refund is late
        return a.release(c, { profile: "corp", consumption: `a${round}` });
      })();
      const [refunded, lateRefunded, ...consumed] = await Promise.all([refund, late, ...retries]);
      const wins = consumed.filter(Boolean).length;
      expect(wins).toBeLessThanOrEqual(1);
      // The refund or its duplicate gave it back exactly once; then at most one retry took it.
      expect([refunded, lateRefunded].filter(Boolean)).toHaveLength(1);
      if (wins === 1) {
        reused++;
        expect(await b.consume(c, { profile: "corp" })).toBe(false);
        expect(await a.release(c, { profile: "corp", consumption: `a${round}` })).toBe(false); // B's consume stays spent
        expect(await b.consume(c, { profile: "corp" })).toBe(false);
      } else expect(await b.consume(c, { profile: "corp" })).toBe(true); // given back, not taken yet: usable once
    }
    expect(reused).toBeGreaterThan(0); // the retries did race the refund
  }, 60_000);
});
