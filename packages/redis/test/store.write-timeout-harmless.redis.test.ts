/**
 * Writes that may time out but land and need no undo, pinned: Redis is paused
 * (SIGSTOP) past `commandTimeoutMs` while the store writes; the call rejects
 * (ERR_STORE_UNAVAILABLE: 503) and Redis runs the write when it resumes. The
 * caller's retry then gets what the first call would have given:
 * - a revocation: the retry answers the same entry (`created: false`), and the
 *   certificate is revoked once, with the first call's reason and time;
 * - a CRL number: the retry gets a larger one (RFC 5280 §5.2.3 wants them
 *   increasing, not consecutive);
 * - a challenge issue: the retry issues another one that works; the first
 *   stays unknown to anyone (only its SHA-256 is stored) until its TTL ends.
 * Real redis-server on loopback, no mock of it.
 */
import { describe, expect, it } from "vitest";
import { usePrivateRedis } from "./support/private-redis.js";
import { calls, pause, scriptRuns, until } from "./support/redis-probes.js";
import { RedisChallengeStore, RedisRevocationStore } from "../src/index.js";

const redis = usePrivateRedis();
const NOW = new Date("2026-03-01T10:00:00.000Z");

/**
 * Pauses Redis until it is really stopped, expects `write` to reject with ERR_STORE_UNAVAILABLE, resumes Redis, and
 * waits until it has run the write late: `command`'s calls, or (`"script"`) a script run to the end.
 */
async function timeOutWhileWriting(write: () => Promise<unknown>, command: string): Promise<void> {
  const count = (): Promise<number> => (command === "script" ? scriptRuns(redis.server) : calls(redis.server, command));
  const before = await count();
  await pause(redis.server); // stopped before the write is sent: it waits in the socket and must time out
  try {
    await expect(write()).rejects.toMatchObject({ name: "StoreUnavailableError", code: "ERR_STORE_UNAVAILABLE" });
  } finally {
    redis.server.resume();
  }
  expect(await until(async () => (await count()) > before), `Redis ran the late ${command}`).toBe(true);
}

describe("store writes whose late landing the retry absorbs (no undo needed)", () => {
  it("RevocationStore.revoke: the retry answers the entry the late write made, once (RFC 5280 §5.3.1 reason kept)", async () => {
    const paused = new RedisRevocationStore(redis.client, { keyPrefix: "late-rev:", commandTimeoutMs: 300, now: () => NOW });
    const store = new RedisRevocationStore(redis.client, { keyPrefix: "late-rev:", commandTimeoutMs: 10_000, now: () => new Date(NOW.getTime() + 5000) });
    // revoke is one script (HSETNX and the revision counter together). Loaded first, under another prefix: the late
    // EVALSHA then runs when Redis resumes. (Not loaded, it would be answered NOSCRIPT and land nothing, which is safe
    // too: the retry would create the entry; this test pins the case where the first call's write does land.)
    await new RedisRevocationStore(redis.client, { keyPrefix: "late-rev-load:" }).revoke({ serialNumber: "01", reason: "superseded" });
    await timeOutWhileWriting(() => paused.revoke({ serialNumber: "0A1B", reason: "keyCompromise" }), "script");
    const entry = { serialNumber: "0a1b", reason: "keyCompromise", revokedAt: NOW };
    expect(await store.revoke({ serialNumber: "0A1B", reason: "keyCompromise" })).toEqual({ entry, created: false, updated: false });
    expect(await store.list()).toEqual([entry]);
  }, 90_000);

  it("RevocationStore.nextCrlNumber: after a late script run the retry's number is larger still (RFC 5280 §5.2.3: increasing)", async () => {
    const paused = new RedisRevocationStore(redis.client, { keyPrefix: "late-crl:", commandTimeoutMs: 300 });
    const store = new RedisRevocationStore(redis.client, { keyPrefix: "late-crl:", commandTimeoutMs: 10_000 });
    const first = await store.nextCrlNumber(); // loads the script: the late EVALSHA runs when Redis resumes
    await timeOutWhileWriting(() => paused.nextCrlNumber(), "script");
    expect(await store.nextCrlNumber()).toBe(first + 2n);
  }, 90_000);

  it("ChallengeStore.issue: the retry's challenge works once; the late one is a key with its TTL that nobody holds", async () => {
    const paused = new RedisChallengeStore(redis.client, { keyPrefix: "late-issue:", commandTimeoutMs: 300 });
    const store = new RedisChallengeStore(redis.client, { keyPrefix: "late-issue:", commandTimeoutMs: 10_000 });
    await timeOutWhileWriting(() => paused.issue({ profile: "corp", ttlMs: 60_000 }), "set");
    const challenge = await store.issue({ profile: "corp", ttlMs: 60_000 });
    expect(await store.consume(challenge, { profile: "corp" })).toBe(true);
    expect(await store.consume(challenge, { profile: "corp" })).toBe(false);
    const keys = await redis.client.keys("late-issue:challenge:*");
    expect(keys).toHaveLength(2);
    for (const key of keys) {
      const ttl = await redis.client.pttl(key);
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(60_000);
    }
  }, 90_000);
});
