/**
 * The transaction-store writes that time out but land, seen from a SCEP server
 * (RFC 8894 §3.3.3: a PENDING request, then approve): RedisTransactionStore
 * and RedisChallengeStore on one real redis-server, paused (SIGSTOP) while
 * the server writes a transaction, so the store's deadline fires (the device
 * is answered 503, `approve` throws ERR_STORE_UNAVAILABLE) and Redis runs the
 * write when it resumes.
 * - The PENDING record of a request with a one-time challenge: the server gives
 *   the challenge back after the 503; had the late record stayed, the device's
 *   resend would be answered from it without the challenge, and the challenge
 *   would enroll a second device.
 * - An approve's claim (PENDING→ISSUING): had it stayed, the operator's retry
 *   would be refused "no pending transaction" until the lease lapsed.
 * Real redis-server on loopback, no mock of it.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { buildPkcsReq, createScepServer, type ScepProfile, type ScepServer, type Transaction, type TransactionStatus, type TransactionStore, type TransactionUpdate } from "@scep/core";
import { NOW, createDevice, createTestCa, issuingHook, postPki, readReply, type Device, type TestCa } from "../../core/test/support/server-pki.js";
import { usePrivateRedis } from "./support/private-redis.js";
import { pause } from "./support/redis-probes.js";
import { RedisChallengeStore, RedisTransactionStore } from "../src/index.js";

const redis = usePrivateRedis();
let ca: TestCa;
beforeAll(async () => {
  ca = await createTestCa("Late write CA");
}, 60_000);

/**
 * The profile's transaction store: RedisTransactionStore with a 10 s deadline, except the one call made while
 * `pauseNext` is set, which goes to one with 300 ms while Redis is paused, and resumes Redis once it has rejected.
 */
class PausableTransactions implements TransactionStore {
  pauseNext = false;
  readonly #store: RedisTransactionStore;
  readonly #short: RedisTransactionStore;
  constructor(prefix: string) {
    this.#store = new RedisTransactionStore(redis.client, { keyPrefix: prefix, commandTimeoutMs: 10_000, now: () => NOW });
    this.#short = new RedisTransactionStore(redis.client, { keyPrefix: prefix, commandTimeoutMs: 300, now: () => NOW });
  }
  async #write<T>(call: (s: RedisTransactionStore) => Promise<T>): Promise<T> {
    if (!this.pauseNext) return call(this.#store);
    this.pauseNext = false;
    await pause(redis.server); // stopped before the script is sent: it waits in the socket and must time out
    try {
      return await call(this.#short);
    } finally {
      redis.server.resume();
    }
  }
  get(profile: string, transactionId: string): Promise<Transaction | undefined> {
    return this.#store.get(profile, transactionId);
  }
  create(tx: Transaction): Promise<boolean> {
    return this.#write((s) => s.create(tx));
  }
  transition(profile: string, transactionId: string, from: TransactionStatus, update: TransactionUpdate, expect?: { updatedAt: Date }): Promise<Transaction | undefined> {
    return this.#write((s) => s.transition(profile, transactionId, from, update, expect));
  }
  list(profile: string, options?: { status?: TransactionStatus; limit?: number }): Promise<Transaction[]> {
    return this.#store.list(profile, options);
  }
  delete(profile: string, transactionId: string): Promise<void> {
    return this.#store.delete(profile, transactionId);
  }
}

function setup(prefix: string): { server: ScepServer; transactions: PausableTransactions; challenges: RedisChallengeStore } {
  const transactions = new PausableTransactions(prefix);
  const challenges = new RedisChallengeStore(redis.client, { keyPrefix: prefix, commandTimeoutMs: 10_000, now: () => NOW });
  const hook = issuingHook(ca, [], (ctx) => (ctx.approved ? undefined : { status: "PENDING" }));
  const profile: ScepProfile = { name: "p", path: "/scep", caCertificate: ca.cert, signer: ca.key, challenge: { type: "store", store: challenges }, transactions, issue: hook };
  return { server: createScepServer({ profiles: [profile], now: () => NOW }), transactions, challenges };
}

async function send(server: ScepServer, device: Device, transactionId?: string) {
  const built = await buildPkcsReq({ csr: device.csr, signer: device.signer, recipient: ca.cert, now: NOW, ...(transactionId ? { transactionId } : {}) });
  const res = await postPki(server, "/scep", built.der);
  return { built, status: res.status, rep: res.status === 200 ? await readReply(res, built, { decrypter: device.signer, caCertificates: [ca.cert] }) : undefined };
}

describe("RFC 8894 §3.3.3 with Redis: a transaction write that times out but lands does not outlive the error", () => {
  it("a PENDING record whose create timed out: the resend spends the challenge again, and the challenge enrolls no second device", async () => {
    const { server, transactions, challenges } = setup("srv-create:");
    await send(server, await createDevice({ cn: "warm-up", challengePassword: await challenges.issue({ profile: "p" }) })); // Redis knows the scripts
    const challenge = await challenges.issue({ profile: "p" });
    const device = await createDevice({ cn: "device-1", challengePassword: challenge });

    transactions.pauseNext = true;
    const first = await send(server, device);
    expect(first.status).toBe(503);

    const resent = await send(server, device, first.built.transactionId); // RFC 8894 §3.3.3: same transactionID
    expect(resent.rep).toMatchObject({ status: "PENDING", transactionId: first.built.transactionId });
    expect(await transactions.get("p", first.built.transactionId)).toMatchObject({ status: "PENDING", challengeValidated: true });

    const other = await send(server, await createDevice({ cn: "device-2", challengePassword: challenge }));
    expect(other.rep).toMatchObject({ status: "FAILURE", failInfo: "badRequest" }); // the challenge was used once: by device-1's resend
    expect(await transactions.get("p", other.built.transactionId)).toBeUndefined();
  }, 90_000);

  it("an approve whose claim timed out: the operator's retry approves it, and the device's CertPoll gets the certificate", async () => {
    const { server, transactions, challenges } = setup("srv-approve:");
    const device = await createDevice({ cn: "device-3", challengePassword: await challenges.issue({ profile: "p" }) });
    const { built, rep } = await send(server, device);
    expect(rep).toMatchObject({ status: "PENDING" });
    await transactions.transition("p", "nobody", "PENDING", { status: "ISSUING", updatedAt: NOW }); // Redis knows the script

    transactions.pauseNext = true;
    await expect(server.approve("p", built.transactionId)).rejects.toMatchObject({ code: "ERR_STORE_UNAVAILABLE" });

    const done = await server.approve("p", built.transactionId); // not "no pending transaction"
    expect(done.status).toBe("ISSUED");
    expect(done.certificate).toBeDefined();
    expect((await send(server, device, built.transactionId)).rep).toMatchObject({ status: "SUCCESS" });
  }, 90_000);
});
