/**
 * Every store's writes sent to a read-only replica (`replicaof`, Redis' default `replica-read-only yes`: what a client
 * still pointed at the old primary meets after a Sentinel failover) surface as StoreUnavailableError
 * `ERR_STORE_UNAVAILABLE` with the store's `retryAfterSeconds` (the server's 503 with Retry-After: the failover fixes
 * it), the message saying READONLY, like a connection loss; never a plain error, and nothing half-written on the
 * primary. Two real redis-servers on loopback, the second a replica of the first.
 */
import Redis from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startRedisServer, waitFor, type RedisServer } from "../../../test-support/peers";
import { RedisChallengeStore, RedisCounterStore, RedisRateLimiter, RedisReplayCache, RedisRevocationStore, RedisTransactionStore, redisClientOptions } from "../src/index.js";

let primary: RedisServer;
let replica: RedisServer;
let onPrimary: Redis;
let onReplica: Redis;

beforeAll(async () => {
  primary = await startRedisServer();
  replica = await startRedisServer({ args: ["--replicaof", "127.0.0.1", String(primary.port)] });
  await waitFor(async () => (/master_link_status:up/.test(await replica.command("INFO replication")) ? true : undefined), { timeoutMs: 15_000, what: "the replica to sync with its primary" });
  onPrimary = new Redis({ ...primary.connection, ...redisClientOptions, lazyConnect: true });
  onReplica = new Redis({ ...replica.connection, ...redisClientOptions, lazyConnect: true });
  await Promise.all([onPrimary.connect(), onReplica.connect()]);
});

afterAll(async () => {
  onPrimary?.disconnect();
  onReplica?.disconnect();
  await replica?.stop();
  await primary?.stop();
});

const NOW = new Date("2026-03-01T10:00:00.000Z");
const now = (): Date => NOW;
const READONLY = { name: "StoreUnavailableError", code: "ERR_STORE_UNAVAILABLE", retryAfterSeconds: 9, message: expect.stringMatching(/^Redis refused .*: READONLY/) };

describe("writes on a read-only replica", () => {
  it("every store's writes reject with ERR_STORE_UNAVAILABLE (READONLY) and Retry-After; the primary holds nothing of them", async () => {
    const options = { keyPrefix: "ro:", now, retryAfterSeconds: 9 };
    const tx = { profile: "corp", transactionId: "t1", status: "PENDING" as const, csr: new Uint8Array([0x30, 0]), signerCertificate: new Uint8Array([0x30, 0]), renewal: false, createdAt: NOW, updatedAt: NOW, expiresAt: new Date(NOW.getTime() + 3_600_000) };

    // A challenge and a transaction written on the primary and replicated, so the replica's scripts reach their writes.
    const challenge = await new RedisChallengeStore(onPrimary, options).issue({ profile: "corp" });
    expect(await new RedisTransactionStore(onPrimary, options).create({ ...tx, transactionId: "t0" })).toBe(true);
    expect(await onPrimary.wait(1, 10_000)).toBe(1);
    const before = (await onPrimary.keys("ro:*")).sort();

    const transactions = new RedisTransactionStore(onReplica, options);
    await expect(transactions.create(tx)).rejects.toMatchObject(READONLY);
    await expect(transactions.transition("corp", "t0", "PENDING", { status: "ISSUING", updatedAt: NOW })).rejects.toMatchObject(READONLY);
    await expect(transactions.delete("corp", "t0")).rejects.toMatchObject(READONLY);
    // list prunes expired index entries first, a script that writes only when there are some: none here, so it reads.
    expect((await transactions.list("corp")).map((t) => t.transactionId)).toEqual(["t0"]);

    const challenges = new RedisChallengeStore(onReplica, options);
    await expect(challenges.issue({ profile: "corp" })).rejects.toMatchObject(READONLY);
    await expect(challenges.consume(challenge, { profile: "corp" })).rejects.toMatchObject(READONLY);

    const counters = new RedisCounterStore(onReplica, { ...options, flushIntervalMs: 3_600_000 });
    counters.increment("corp", "success", "issued");
    await expect(counters.flush()).rejects.toMatchObject(READONLY);

    await expect(new RedisReplayCache(onReplica, options).checkAndInsert("nonce", 60_000)).rejects.toMatchObject(READONLY);
    await expect(new RedisRateLimiter(onReplica, options).hit("device", { max: 3, windowMs: 60_000 })).rejects.toMatchObject(READONLY);
    await expect(new RedisRevocationStore(onReplica, options).revoke({ serialNumber: "0a", reason: "superseded" })).rejects.toMatchObject(READONLY);

    // Reads still answer on the replica; the primary holds exactly what it held.
    expect(await new RedisTransactionStore(onReplica, options).get("corp", "t0")).toMatchObject({ status: "PENDING" });
    expect((await onPrimary.keys("ro:*")).sort()).toEqual(before);
    expect(await new RedisChallengeStore(onPrimary, options).consume(challenge, { profile: "corp" })).toBe(true);
  });
});
