/**
 * The fault held here: a one-time challenge consume that times out but lands.
 * Redis is paused (SIGSTOP) past `commandTimeoutMs` while RedisChallengeStore
 * consumes a challenge; `consume` rejects (ERR_STORE_UNAVAILABLE: the server
 * answers 503 and the device resends with the same challenge), yet the script
 * sits on the connection and Redis runs it when it resumes. Without an undo
 * the resend finds the challenge spent and is refused: lost state. The test
 * resumes Redis, polls a separate raw connection until the late consume has
 * run and been undone, then consumes the same challenge again.
 * Real redis-server on loopback, no mock of it.
 */
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { usePrivateRedis } from "./support/private-redis.js";
import { calls, pause, scriptRuns, until } from "./support/redis-probes.js";
import { RedisChallengeStore } from "../src/index.js";

const redis = usePrivateRedis();

describe("RedisChallengeStore.consume that times out but lands gives the challenge back", () => {
  it("the late consume is undone; the device's resend with the same challenge consumes it once", async () => {
    // 300 ms only where Redis is paused (the consume must time out); the steps that must succeed get 10 s.
    const paused = new RedisChallengeStore(redis.client, { keyPrefix: "late:", commandTimeoutMs: 300 });
    const store = new RedisChallengeStore(redis.client, { keyPrefix: "late:", commandTimeoutMs: 10_000 });
    expect(await store.consume(await store.issue({ profile: "corp" }), { profile: "corp" })).toBe(true); // Redis knows the script: the paused EVALSHA runs as sent
    const challenge = await store.issue({ profile: "corp" });
    const key = `late:challenge:${createHash("sha256").update(challenge).digest("hex")}`;
    const before = await calls(redis.server, "evalsha");

    await pause(redis.server); // stopped before the consume is sent: it waits in the socket and must time out
    try {
      await expect(paused.consume(challenge, { profile: "corp" })).rejects.toMatchObject({ name: "StoreUnavailableError", code: "ERR_STORE_UNAVAILABLE" });
    } finally {
      redis.server.resume();
    }
    expect(await until(async () => (await calls(redis.server, "evalsha")) > before), "Redis ran the late consume").toBe(true);
    expect(await until(async () => !(await redis.server.command(`GET ${key}`)).startsWith("s")), "the late consume was undone").toBe(true);

    expect(await store.consume(challenge, { profile: "corp" })).toBe(true);
    expect(await store.consume(challenge, { profile: "corp" })).toBe(false); // one-time again
  }, 90_000);

  it("the undo never puts back a challenge another consumer spent", async () => {
    const paused = new RedisChallengeStore(redis.client, { keyPrefix: "late2:", commandTimeoutMs: 300 });
    const store = new RedisChallengeStore(redis.client, { keyPrefix: "late2:", commandTimeoutMs: 10_000 });
    const challenge = await store.issue({ profile: "corp" });
    expect(await store.consume(challenge, { profile: "corp" })).toBe(true); // the first device spends it
    const before = await scriptRuns(redis.server);

    await pause(redis.server); // stopped before the consume is sent: it waits in the socket and must time out
    try {
      await expect(paused.consume(challenge, { profile: "corp" })).rejects.toMatchObject({ code: "ERR_STORE_UNAVAILABLE" });
    } finally {
      redis.server.resume();
    }
    // Two scripts ran to the end: the late consume (Redis knows it: the EVALSHA runs as sent) and the undo (one EVAL
    // right behind it). Without the undo only one would.
    expect(await until(async () => (await scriptRuns(redis.server)) >= before + 2), "Redis ran the late consume and its undo").toBe(true);
    await redis.client.ping(); // barrier: nothing of the store's is still on the connection
    await redis.client.ping();
    expect(await scriptRuns(redis.server)).toBe(before + 2);
    expect(await store.consume(challenge, { profile: "corp" })).toBe(false); // still spent: the undo left the other consumer's spend alone
  }, 90_000);
});
