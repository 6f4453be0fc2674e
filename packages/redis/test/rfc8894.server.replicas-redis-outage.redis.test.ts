/**
 * Chaos: two replicas (two @scep/core servers, each with its own ioredis connection) share one real redis-server for
 * their transactions and one-time challenges; devices enroll concurrently through both with the in-repo ScepClient,
 * and redis-server is stopped (SIGSTOP: a Redis that hangs, the harder case than one that refuses connections, since
 * the commands sent meanwhile still run once it goes on) for the middle of the run, then let go (SIGCONT). The outage
 * begins mid-enrollment: when the first of those requests, its transactionID already claimed in Redis, is about to
 * spend its one-time challenge.
 *
 * Held to: every enrollment during the outage is answered, while Redis is still stopped, with HTTP 503 and a
 * Retry-After (ScepClient's TransportError, status 503, retryAfterSeconds), never a 500, never a hang, never an
 * unhandled rejection; nothing is left half-written: once Redis is back, without restarting either replica, each of
 * those devices enrolls with the same request again (same key, so the same transactionID, RFC 8894 §3.2.1.4.1, and
 * the same one-time challenge, which must not have stayed spent), on the other replica, and is issued; the issue hook
 * ran once per device; a device issued before the outage that sends its request again gets the same certificate.
 * The same with redis-server killed (SIGKILL: connections refused) and restarted on its AOF (`appendfsync always`), the
 * replicas' clients reconnecting by themselves.
 */
import Redis from "ioredis";
import { afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ScepClient, createScepServer, createSelfSignedSigner, generateCsr, generateRsaKeyPair, isScepError, type IssueContext, type LocalKey, type ScepEvent, type ScepServer } from "@scep/core";
import { ORIGIN, baseProfile, createTestCa, issuingHook, type TestCa } from "../../core/test/support/server-pki.js";
import { startRedisServer, waitFor, type RedisServer } from "../../../test-support/peers";
import { usePrivateRedis } from "./support/private-redis.js";
import { RedisChallengeStore, RedisTransactionStore, redisClientOptions, type RedisClient } from "../src/index.js";

const redis = usePrivateRedis({}, { second: true });
/** Each Redis command's deadline (the stores' `commandTimeoutMs`); the outage lasts at least two of them. */
const STORE_TIMEOUT_MS = 1000;
const RETRY_AFTER_S = 5;
const DEVICES = 12;
/** How long a claim on a transactionID lasts unless renewed (Redis's own time: the key's TTL). */
const CLAIM_LEASE_MS = 1000;

interface Device {
  name: string;
  keys: CryptoKeyPair;
  signer: LocalKey;
  /** The device's one CSR, with its one-time challenge: every (re-)enrollment sends it. */
  csr: Uint8Array;
}

let ca: TestCa;
let keys: CryptoKeyPair[];
beforeAll(async () => {
  ca = await createTestCa("Outage Redis CA");
  keys = await Promise.all(Array.from({ length: DEVICES }, () => generateRsaKeyPair(2048)));
}, 120_000);

const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
beforeEach(() => void process.on("unhandledRejection", onUnhandled));
afterEach(() => void process.off("unhandledRejection", onUnhandled));

interface Replica {
  server: ScepServer;
  client: ScepClient;
  challenges: GatedChallengeStore;
}

/** A RedisChallengeStore whose consume first waits for `gate()` (the outage's start, once armed). */
class GatedChallengeStore extends RedisChallengeStore {
  gate: () => Promise<void> = async () => {};
  override async consume(challenge: string, options: { profile: string; consumption?: string; binding?: string }): Promise<boolean> {
    await this.gate();
    return super.consume(challenge, options);
  }
}

/** A replica: its own connection, stores on the shared Redis, and a ScepClient whose fetch is the server's. */
function replica(connection: RedisClient, calls: IssueContext[], events: ScepEvent[]): Replica {
  const options = { keyPrefix: "outage:", commandTimeoutMs: STORE_TIMEOUT_MS, retryAfterSeconds: RETRY_AFTER_S };
  const challenges = new GatedChallengeStore(connection, options);
  const server = createScepServer({
    profiles: [{ ...baseProfile(ca, { type: "store", store: challenges }), transactions: new RedisTransactionStore(connection, options), issue: issuingHook(ca, calls), claimLeaseMs: CLAIM_LEASE_MS }],
    onEvent: (e) => void events.push(e),
  });
  const client = new ScepClient({ url: `${ORIGIN}/scep`, fetch: (input, init) => server.fetch(new Request(input, init)) });
  return { server, client, challenges };
}

/** What one enrollment came to: the CertRep's status and serial, or the HTTP status and Retry-After of a refusal. */
type Outcome = { status: "SUCCESS" | "FAILURE" | "PENDING"; serial?: string } | { http: number; retryAfterSeconds?: number; code: string };

async function enroll(r: Replica, d: Device): Promise<Outcome> {
  try {
    const rep = await r.client.enroll({ csr: d.csr, signer: d.signer });
    return { status: rep.status, ...(rep.certificate ? { serial: rep.certificate.serialNumberHex } : {}) };
  } catch (error) {
    if (isScepError(error) && "status" in error) {
      const e = error as { status?: number; retryAfterSeconds?: number; code: string };
      return { http: e.status ?? 0, ...(e.retryAfterSeconds !== undefined ? { retryAfterSeconds: e.retryAfterSeconds } : {}), code: e.code };
    }
    throw error;
  }
}

/**
 * The run: 4 devices issued, `outage()` begins (resolves once Redis is down), 8 devices enroll concurrently through
 * both replicas and must all be answered 503 + Retry-After before `recovery()` (Redis back) runs; then those 8 send
 * the same requests to the other replica and are issued, and the first 4's re-sends get their certificates again.
 */
async function chaos(connections: [RedisClient, RedisClient], outage: () => Promise<void>, recovery: () => Promise<void>): Promise<void> {
  const calls: IssueContext[] = [];
  const events: ScepEvent[] = [];
  const replicas = connections.map((c) => replica(c, calls, events));
  const devices: Device[] = await Promise.all(
    keys.map(async (k, i) => {
      const name = `CN=outage-${i}`;
      const challenge = await replicas[i % 2]!.challenges.issue({ profile: "p" });
      return { name, keys: k, signer: await createSelfSignedSigner({ keys: k, subject: name }), csr: await generateCsr({ keys: k, subject: name, challengePassword: challenge }) };
    }),
  );
  const before = devices.slice(0, 4);
  const during = devices.slice(4);

  // Before the outage: issued on whichever replica.
  const first = await Promise.all(before.map((d, i) => enroll(replicas[i % 2]!, d)));
  expect(first.map((o) => ("status" in o ? o.status : o.http))).toEqual(["SUCCESS", "SUCCESS", "SUCCESS", "SUCCESS"]);

  // The outage begins at the first challenge consume of these enrollments: that request has claimed its
  // transactionID (an ISSUING record in Redis), others are before or at their claim. Every answer arrives while Redis
  // is still down (no hang), and is 503 with Retry-After.
  let started: Promise<void> | undefined;
  for (const r of replicas) r.challenges.gate = () => (started ??= outage());
  let down: Outcome[];
  try {
    down = await Promise.all(during.map((d, i) => enroll(replicas[i % 2]!, d)));
  } finally {
    for (const r of replicas) r.challenges.gate = async () => {};
    await started;
    await recovery();
  }
  expect(started).toBeDefined();
  expect(down).toEqual(during.map(() => ({ http: 503, retryAfterSeconds: RETRY_AFTER_S, code: "ERR_TRANSPORT" })));
  expect(events.filter((e) => e.status === 500)).toEqual([]);
  expect(events.filter((e) => e.status === 503).map((e) => e.reason)).toEqual(during.map(() => "store_unavailable"));

  // Back, with the same connections: each device sends its request again (same key and challenge) to the other
  // replica; whatever the outage left (a consume or claim that ran late, once Redis went on) was undone.
  const after = await Promise.all(during.map((d, i) => enroll(replicas[(i + 1) % 2]!, d)));
  expect(after.map((o) => ("status" in o ? o.status : `${o.http} ${o.code}`))).toEqual(during.map(() => "SUCCESS"));
  // The devices issued before the outage, sending again: the same certificate, no new issuance (RFC 8894 §3.3.3).
  const again = await Promise.all(before.map((d, i) => enroll(replicas[(i + 1) % 2]!, d)));
  expect(again.map((o) => ("serial" in o ? o.serial : undefined))).toEqual(first.map((o) => ("serial" in o ? o.serial : undefined)));
  // One issuance per device, none of them twice.
  expect(calls).toHaveLength(DEVICES);
  expect(new Set(calls.map((c) => c.transactionId)).size).toBe(DEVICES);
  expect(unhandled).toEqual([]);
}

describe("two replicas on one Redis, Redis down mid-run", () => {
  it("stopped (SIGSTOP) then let go: 503 + Retry-After while it hangs; afterwards the same requests are issued on the other replica, the hook once per device, nothing left spent or claimed", async () => {
    await chaos([redis.client, redis.second], () => redis.server.pause(), async () => redis.server.resume());
  });

  it("killed (SIGKILL) then restarted on its AOF: 503 + Retry-After while connections are refused; once the clients reconnected by themselves the same requests are issued, nothing left spent or claimed", async () => {
    const server: RedisServer = await startRedisServer({ persistence: "aof" });
    const connections = [0, 1].map(() => new Redis({ ...server.connection, ...redisClientOptions, lazyConnect: true })) as [Redis, Redis];
    // As a server does: a client's connection errors go to a listener (ioredis prints them to stderr without one).
    const connectionErrors: string[] = [];
    for (const c of connections) c.on("error", (e: Error) => void connectionErrors.push(e.message));
    try {
      await Promise.all(connections.map((c) => c.connect()));
      await chaos(connections, () => server.kill(), async () => {
        await server.restart();
        // The replicas are not restarted: their clients reconnect on their own (ioredis' retryStrategy).
        for (const c of connections) await waitFor(async () => ((await c.ping().catch(() => undefined)) === "PONG" ? true : undefined), { timeoutMs: 30_000, what: "a replica's client to reconnect" });
      });
    } finally {
      for (const c of connections) c.disconnect();
      await server.stop();
    }
  });
});
