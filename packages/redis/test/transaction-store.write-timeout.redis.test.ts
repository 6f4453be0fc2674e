/**
 * The fault held here: a transaction write that times out but lands. Redis is
 * paused (SIGSTOP) past `commandTimeoutMs` while RedisTransactionStore creates
 * or moves a transaction (RFC 8894 §3.3.3: a PENDING request, then approve or
 * reject). The store rejects (ERR_STORE_UNAVAILABLE: the server answers 503,
 * `approve`/`reject` throw), yet the script sits on the connection and Redis
 * runs it when it resumes. Without an undo:
 * - create: a PENDING record the server reported failed (and whose one-time
 *   challenge it gave back, so the challenge enrolls twice);
 * - transition PENDING→ISSUING (an approver's claim): the operator's retry is
 *   refused "no pending transaction" until the lease lapses;
 * - transition PENDING→REJECTED: the retry is refused and the challenge
 *   policy's failure hook never runs;
 * - transition ISSUING→ISSUED: CertPoll delivers a certificate `approve`
 *   reported undelivered (`onUndelivered` told, the issuer may revoke it).
 * Each test resumes Redis and polls until the late write has run and been
 * undone, then checks the record is exactly as before and the retry wins; and
 * that an undo never touches a record another call wrote.
 * Real redis-server on loopback, no mock of it.
 */
import type { Transaction, TransactionUpdate } from "@scep/core";
import { describe, expect, it } from "vitest";
import { usePrivateRedis } from "./support/private-redis.js";
import { calls, pause, scriptRuns, until } from "./support/redis-probes.js";
import { RedisTransactionStore } from "../src/index.js";

const redis = usePrivateRedis();
const NOW = new Date("2026-03-01T10:00:00.000Z");
const HOUR = 3_600_000;
const now = (): Date => NOW;

/** The store whose call is paused (300 ms: it must time out) and one for the steps that must succeed (10 s), on one client and prefix. */
function stores(prefix: string): { paused: RedisTransactionStore; store: RedisTransactionStore } {
  return {
    paused: new RedisTransactionStore(redis.client, { keyPrefix: prefix, commandTimeoutMs: 300, now }),
    store: new RedisTransactionStore(redis.client, { keyPrefix: prefix, commandTimeoutMs: 10_000, now }),
  };
}

function pending(transactionId: string, createdAt = NOW): Transaction {
  return {
    profile: "corp",
    transactionId,
    status: "PENDING",
    csr: Uint8Array.from([0x30, 0x00, 0xff, 0x01]),
    signerCertificate: Uint8Array.from([0x30, 0x02, 0x00, 0xfe]),
    renewal: false,
    createdAt,
    updatedAt: createdAt,
    expiresAt: new Date(createdAt.getTime() + 2 * HOUR),
    challengeValidated: true,
  };
}

/** Pauses Redis until it is really stopped, expects `write` to reject with ERR_STORE_UNAVAILABLE, resumes Redis, and waits until it has run the late script. */
async function timeOutWhileWriting(write: () => Promise<unknown>): Promise<void> {
  const before = await calls(redis.server, "evalsha");
  await pause(redis.server); // stopped before the script is sent: it waits in the socket and must time out
  try {
    await expect(write()).rejects.toMatchObject({ name: "StoreUnavailableError", code: "ERR_STORE_UNAVAILABLE" });
  } finally {
    redis.server.resume();
  }
  expect(await until(async () => (await calls(redis.server, "evalsha")) > before), "Redis ran the late script").toBe(true);
}

const members = async (key: string): Promise<string[]> => redis.client.zrange(key, "0", "-1");
const score = async (key: string, member: string): Promise<string | null> => redis.client.zscore(key, member);
/** When Redis drops `key` (PEXPIRETIME, ms by Redis's clock): the score the expiry index gives its record. */
const expiresInRedis = async (key: string): Promise<string> => String(await redis.client.call("PEXPIRETIME", key));

describe("RedisTransactionStore: a write that times out but lands is undone (RFC 8894 §3.3.3 PENDING, approve, reject)", () => {
  it("create: the late record is removed, so the 503'd request left nothing and the device's resend is created afresh", async () => {
    const { paused, store } = stores("late-create:");
    expect(await store.create(pending("warm-up"))).toBe(true); // Redis knows the script: the paused EVALSHA runs as sent
    const tx = pending("T-1");

    await timeOutWhileWriting(() => paused.create(tx));
    expect(await until(async () => (await store.get("corp", "T-1")) === undefined), "the late create was undone").toBe(true);
    expect(await members("late-create:tx:{corp}:status:PENDING")).toEqual(["warm-up"]);
    expect(await members("late-create:tx:{corp}:expiry")).toEqual(["warm-up"]);

    expect(await store.create(tx)).toBe(true); // the resend's create: stored, not "a PENDING record is in the way"
    expect(await store.get("corp", "T-1")).toEqual(tx);
  }, 90_000);

  it("transition PENDING→ISSUING (an approver's claim): the record is PENDING again as it was, and the operator's retry claims it", async () => {
    const { paused, store } = stores("late-claim:");
    const tx = pending("T-2");
    expect(await store.create(tx)).toBe(true);
    expect(await store.transition("corp", "nobody", "PENDING", { status: "ISSUING", updatedAt: NOW })).toBeUndefined(); // loads the script
    const claim = { status: "ISSUING", updatedAt: new Date(NOW.getTime() + 1000) } as const;

    await timeOutWhileWriting(() => paused.transition("corp", "T-2", "PENDING", claim));
    expect(await until(async () => (await store.get("corp", "T-2"))?.status === "PENDING"), "the late claim was undone").toBe(true);
    expect(await store.get("corp", "T-2")).toEqual(tx);
    expect(await members("late-claim:tx:{corp}:status:PENDING")).toEqual(["T-2"]);
    expect(await members("late-claim:tx:{corp}:status:ISSUING")).toEqual([]);

    const retry = { status: "ISSUING", updatedAt: new Date(NOW.getTime() + 2000) } as const;
    expect(await store.transition("corp", "T-2", "PENDING", retry)).toEqual({ ...tx, ...retry });
  }, 90_000);

  it("transition PENDING→REJECTED (reject): undone, so the operator's retry rejects it (and runs the failure hook)", async () => {
    const { paused, store } = stores("late-reject:");
    const tx = pending("T-3");
    expect(await store.create(tx)).toBe(true);
    expect(await store.transition("corp", "nobody", "PENDING", { status: "REJECTED", updatedAt: NOW })).toBeUndefined(); // loads the script
    const t = new Date(NOW.getTime() + 1000);
    const rejected: TransactionUpdate = { status: "REJECTED", updatedAt: t, expiresAt: new Date(t.getTime() + 24 * HOUR), failInfo: "badRequest", failInfoText: "no" };

    await timeOutWhileWriting(() => paused.transition("corp", "T-3", "PENDING", rejected));
    expect(await until(async () => (await store.get("corp", "T-3"))?.status === "PENDING"), "the late reject was undone").toBe(true);
    expect(await store.get("corp", "T-3")).toEqual(tx);
    expect(await members("late-reject:tx:{corp}:status:REJECTED")).toEqual([]);
    expect(await score("late-reject:tx:{corp}:expiry", "T-3")).toBe(await expiresInRedis("late-reject:tx:{corp}:id:T-3")); // the PENDING TTL's end
    const ttl = await redis.client.pttl("late-reject:tx:{corp}:id:T-3");
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(2 * HOUR); // the PENDING lifetime again, not the retention of a finished record

    expect(await store.transition("corp", "T-3", "PENDING", rejected)).toEqual({ ...tx, ...rejected });
  }, 90_000);

  it("transition ISSUING→ISSUED (approve records the certificate): undone, so no CertPoll delivers a certificate approve reported undelivered", async () => {
    const { paused, store } = stores("late-issue:");
    const tx = pending("T-4");
    expect(await store.create(tx)).toBe(true);
    const claimedAt = new Date(NOW.getTime() + 1000);
    const claimed = await store.transition("corp", "T-4", "PENDING", { status: "ISSUING", updatedAt: claimedAt });
    expect(claimed).toEqual({ ...tx, status: "ISSUING", updatedAt: claimedAt });
    const t = new Date(NOW.getTime() + 2000);
    const issued: TransactionUpdate = { status: "ISSUED", updatedAt: t, expiresAt: new Date(t.getTime() + 24 * HOUR), certificate: Uint8Array.from([0x30, 0x03, 0x01, 0x02, 0x03]), chain: [Uint8Array.from([0x30, 0x00])] };

    await timeOutWhileWriting(() => paused.transition("corp", "T-4", "ISSUING", issued, { updatedAt: claimedAt }));
    expect(await until(async () => (await store.get("corp", "T-4"))?.status === "ISSUING"), "the late ISSUED was undone").toBe(true);
    expect(await store.get("corp", "T-4")).toEqual(claimed); // no certificate, no chain, the claim's updatedAt and the PENDING expiresAt
    expect(await members("late-issue:tx:{corp}:status:ISSUING")).toEqual(["T-4"]);
    expect(await members("late-issue:tx:{corp}:status:ISSUED")).toEqual([]);
    expect(await score("late-issue:tx:{corp}:expiry", "T-4")).toBe(await expiresInRedis("late-issue:tx:{corp}:id:T-4")); // the PENDING TTL's end
    expect(await redis.client.hexists("late-issue:tx:{corp}:id:T-4", "prior")).toBe(0);

    // The approver's retry (the same claim as fencing token) records it.
    expect(await store.transition("corp", "T-4", "ISSUING", issued, { updatedAt: claimedAt })).toEqual({ ...claimed, ...issued });
  }, 90_000);

  it("transition ISSUING→PENDING (a first enrollment's claim handed to PENDING): undone, so the claim is back as it was (direct, no signer certificate, no challenge fields) and its holder lets it go", async () => {
    const { paused, store } = stores("late-handoff:");
    const claim: Transaction = { ...pending("T-6"), status: "ISSUING", signerCertificate: new Uint8Array(0), direct: true, expiresAt: new Date(NOW.getTime() + HOUR) };
    delete claim.challengeValidated;
    expect(await store.create(claim)).toBe(true);
    expect(await store.transition("corp", "nobody", "ISSUING", { status: "PENDING", updatedAt: NOW })).toBeUndefined(); // loads the script
    const t = new Date(NOW.getTime() + 1000);
    const handOff: TransactionUpdate = { status: "PENDING", updatedAt: t, expiresAt: new Date(t.getTime() + 2 * HOUR), signerCertificate: Uint8Array.from([0x30, 0x02, 0x00, 0xfe]), renewal: true, challengeValidated: true, challengeData: '{"a":1}', direct: false };

    await timeOutWhileWriting(() => paused.transition("corp", "T-6", "ISSUING", handOff, { updatedAt: NOW }));
    expect(await until(async () => (await store.get("corp", "T-6"))?.status === "ISSUING"), "the late hand-off was undone").toBe(true);
    expect(await store.get("corp", "T-6")).toEqual(claim);
    expect(await members("late-handoff:tx:{corp}:status:PENDING")).toEqual([]);
    expect(await members("late-handoff:tx:{corp}:status:ISSUING")).toEqual(["T-6"]);

    expect(await store.transition("corp", "T-6", "ISSUING", { status: "REJECTED", updatedAt: t, expiresAt: new Date(0) }, { updatedAt: NOW })).toBeDefined();
    expect(await store.get("corp", "T-6")).toBeUndefined();
  }, 90_000);

  it("an undo never touches a record another call wrote: a late create refused over a live record, a late claim that lost the race", async () => {
    const { paused, store } = stores("late-other:");
    const tx = pending("T-5");
    expect(await store.create(tx)).toBe(true);
    const winner = { status: "ISSUING", updatedAt: new Date(NOW.getTime() + 1000) } as const;
    expect(await store.transition("corp", "T-5", "PENDING", winner)).toEqual({ ...tx, ...winner }); // the other approver's claim

    for (const write of [
      () => paused.create(pending("T-5", new Date(NOW.getTime() + 5000))), // another request with this transactionID: refused, the record is live ISSUING
      () => paused.transition("corp", "T-5", "PENDING", { status: "ISSUING", updatedAt: new Date(NOW.getTime() + 6000) }), // loses the CAS
    ]) {
      const before = await scriptRuns(redis.server);
      await timeOutWhileWriting(write);
      // Two scripts ran: the late write and its undo (one EVAL right behind it). Without the undo only one would.
      expect(await until(async () => (await scriptRuns(redis.server)) >= before + 2), "Redis ran the late write and its undo").toBe(true);
      await redis.client.ping(); // barrier: nothing of the store's is still on the connection
      expect(await scriptRuns(redis.server)).toBe(before + 2);
      expect(await store.get("corp", "T-5")).toEqual({ ...tx, ...winner }); // the other approver's claim stands
    }
  }, 90_000);
});
