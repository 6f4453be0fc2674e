/**
 * The stores on a read-only replica (`replicaof`, Redis' default `replica-read-only yes`). Two real redis-servers on
 * loopback, the second a replica of the first.
 * - Every store's writes sent there (what a client still pointed at the old primary meets after a Sentinel failover)
 *   surface as StoreUnavailableError `ERR_STORE_UNAVAILABLE` with the store's `retryAfterSeconds` (the server's 503
 *   with Retry-After: the failover fixes it), the message saying READONLY, like a connection loss; never a plain
 *   error, and nothing half-written on the primary.
 * - RedisRevocationStore's reads there: `get`, `list` and `revision` answer as the primary wrote them (a CA's GetCRL
 *   path keys its cached CRL by `revision`), and `revision` stays monotonic across a flush of the primary (restarted
 *   at the primary's `TIME`); `WAIT 1` on the primary makes each write reach the replica before it is read there.
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

/** Returns once the replica acknowledged every write the primary client sent before. */
async function replicated(): Promise<void> {
  expect(await onPrimary.wait(1, 10_000)).toBe(1);
}

describe("RedisRevocationStore on a read-only replica", () => {
  it("revision, get and list read what the primary wrote; revision stays put between reads and grows above the old value after the primary is flushed; only a replica without any counter yet answers ERR_STORE_UNAVAILABLE (READONLY)", async () => {
    const nowMs = Date.parse("2026-04-01T00:00:00.000Z");
    const now = (): Date => new Date(nowMs);
    const writer = new RedisRevocationStore(onPrimary, { now, ca: "ro" });
    const reader = new RedisRevocationStore(onReplica, { now, ca: "ro" });
    expect(await replica.command("INFO replication")).toMatch(/^role:slave\r?$/m); // the second server really is a replica

    // Nothing on the primary yet: the replica cannot start the counter.
    await expect(reader.revision()).rejects.toMatchObject({ code: "ERR_STORE_UNAVAILABLE", message: expect.stringMatching(/READONLY/) });

    const [seconds, micros] = await onPrimary.time();
    await writer.revoke({ serialNumber: "0a", reason: "keyCompromise", revokedAt: new Date(nowMs - 1000) });
    const before = await writer.revision();
    expect(before).toBeGreaterThan(Number(seconds) * 1_000_000 + Number(micros)); // started at the primary's TIME in µs, then + 1
    await replicated();
    expect(await reader.revision()).toBe(before);
    expect(await reader.revision()).toBe(before);
    expect(await reader.get("0A")).toEqual({ serialNumber: "0a", reason: "keyCompromise", revokedAt: new Date(nowMs - 1000) });
    expect((await reader.list()).map((e) => e.serialNumber)).toEqual(["0a"]);
    await expect(reader.revoke({ serialNumber: "0b", reason: "superseded" })).rejects.toMatchObject({ code: "ERR_STORE_UNAVAILABLE" });
    // A CRL number is a write (RFC 5280 §5.2.3: the shared counter moves on): refused on the replica, with or without a
    // counter there, as a typed error whose message says why; the primary's counter goes on unharmed.
    await expect(reader.nextCrlNumber()).rejects.toMatchObject({ name: "StoreUnavailableError", code: "ERR_STORE_UNAVAILABLE", message: expect.stringMatching(/READONLY/) });
    const crlNumber = await writer.nextCrlNumber();
    await replicated();
    await expect(reader.nextCrlNumber({ atLeast: crlNumber + 10n })).rejects.toMatchObject({ code: "ERR_STORE_UNAVAILABLE", message: expect.stringMatching(/READONLY/) });
    expect(await writer.nextCrlNumber()).toBe(crlNumber + 1n);

    // A Redis without persistence restarted empty (its replica resyncs empty): the primary's first read starts the
    // counter again above every value it had, and the replica reads that.
    await onPrimary.flushall();
    const after = await writer.revision();
    expect(after).toBeGreaterThan(before);
    await replicated();
    expect(await reader.revision()).toBe(after);
    expect(await reader.list()).toEqual([]);
  });
});
