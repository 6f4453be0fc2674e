/**
 * RFC 8894 §3.3.3 with shared stores: a device whose SUCCESS reply was lost
 * re-sends the same PKCSReq, and the re-send lands on another replica. The
 * transaction the first replica recorded ISSUED in RedisTransactionStore
 * answers it with the same certificate; the one-time challenge
 * (RedisChallengeStore) is not asked again. The record costs two script runs
 * per enrollment (the claim's create before the challenge, its transition to
 * ISSUED after the hook). Redis paused while the record is written: the
 * device still gets its certificate. Real redis-server on loopback.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { buildPkcsReq, createScepServer, createSelfSignedSigner, type IssueContext, type ScepEvent, type ScepProfile, type ScepServer } from "@scep/core";
import { NOW, createDevice, createTestCa, hex, issuingHook, postPki, readReply, type Device, type TestCa } from "../../core/test/support/server-pki.js";
import { usePrivateRedis } from "./support/private-redis.js";
import { pause, scriptRuns } from "./support/redis-probes.js";
import { RedisChallengeStore, RedisTransactionStore } from "../src/index.js";

const redis = usePrivateRedis({}, { second: true });
let ca: TestCa;
beforeAll(async () => {
  ca = await createTestCa("Resend Redis CA");
}, 60_000);

let prefixes = 0;

/** Two replicas on the same Redis (each its own connection), one-time challenges; `commandTimeoutMs` of both stores. */
function replicas(commandTimeoutMs = 10_000) {
  const keyPrefix = `resend-${++prefixes}:`;
  const calls: IssueContext[] = [];
  const events: ScepEvent[] = [];
  // The n-th event (1-based), once emitted: a SUCCESS's event follows its ISSUED record's write (it may leave first).
  const waiting: { n: number; resolve: () => void }[] = [];
  const onEvent = (e: ScepEvent): void => {
    events.push(e);
    for (const w of waiting) if (w.n <= events.length) w.resolve();
  };
  const nth = (n: number): Promise<void> => (events.length >= n ? Promise.resolve() : new Promise((resolve) => void waiting.push({ n, resolve })));
  const make = (client: typeof redis.client): ScepServer => {
    const challenges = new RedisChallengeStore(client, { keyPrefix, commandTimeoutMs: 10_000, now: () => NOW });
    const transactions = new RedisTransactionStore(client, { keyPrefix, commandTimeoutMs, now: () => NOW });
    const profile: ScepProfile = { name: "p", path: "/scep", caCertificate: ca.cert, signer: ca.key, challenge: { type: "store", store: challenges }, transactions, issue: issuingHook(ca, calls) };
    return createScepServer({ profiles: [profile], now: () => NOW, onEvent });
  };
  const challenges = new RedisChallengeStore(redis.client, { keyPrefix, now: () => NOW });
  return { a: make(redis.client), b: make(redis.second!), calls, events, nth, challenges, transactions: new RedisTransactionStore(redis.client, { keyPrefix, now: () => NOW }) };
}

async function send(server: ScepServer, device: Device) {
  const signer = await createSelfSignedSigner({ keys: device.keys, subject: device.subject, now: NOW });
  const built = await buildPkcsReq({ csr: device.csr, signer, recipient: ca.cert, now: NOW });
  return { built, rep: await readReply(await postPki(server, "/scep", built.der), built, { decrypter: signer, caCertificates: [ca.cert] }) };
}

describe("RFC 8894 §3.3.3: a re-send after a lost SUCCESS, on another replica (RedisTransactionStore)", () => {
  it("gets the same certificate; the one-time challenge is not asked again; the hook ran once; two script runs record it", async () => {
    const r = replicas();
    const device = await createDevice({ cn: "resend-redis", challengePassword: await r.challenges.issue({ profile: "p" }) });
    const before = await scriptRuns(redis.server);
    const first = await send(r.a, device); // the reply never reaches the device
    // The SUCCESS waits at most 100 ms for its record (a loaded machine's Redis may take longer); its event follows
    // the write, and a device re-sends seconds later, not at once: the re-send goes once the record settled.
    await r.nth(1);
    const recordRuns = (await scriptRuns(redis.server)) - before;
    const again = await send(r.b, device);
    expect([first.rep.status, again.rep.status]).toEqual(["SUCCESS", "SUCCESS"]);
    expect(hex(again.rep.certificate!.der)).toBe(hex(first.rep.certificate!.der));
    expect(r.calls).toHaveLength(1);
    expect(r.events.map((e) => e.reason)).toEqual(["issued", "issued_resent"]);
    expect((await r.transactions.get("p", first.built.transactionId))?.status).toBe("ISSUED");
    // The claim's create, the challenge's consume and the claim's transition to ISSUED: one script run each.
    expect(recordRuns).toBe(3);
  });

  it("Redis paused while the record is written: the device gets its certificate without waiting for the store's 300 ms timeout, never a 503; the event follows, issued_not_recorded", async () => {
    const r = replicas(300);
    const device = await createDevice({ cn: "resend-redis-paused", challengePassword: await r.challenges.issue({ profile: "p" }) });
    // Paused once the challenge is consumed: the issue hook runs, then the record's create times out.
    const hooked = issuingHook(ca, r.calls);
    const server = createScepServer({
      profiles: [
        {
          name: "p",
          path: "/scep",
          caCertificate: ca.cert,
          signer: ca.key,
          challenge: { type: "store", store: new RedisChallengeStore(redis.client, { keyPrefix: `resend-${prefixes}:`, now: () => NOW }) },
          transactions: new RedisTransactionStore(redis.client, { keyPrefix: `resend-${prefixes}:`, commandTimeoutMs: 300, now: () => NOW }),
          issue: async (ctx) => {
            const answer = await hooked(ctx);
            await pause(redis.server);
            return answer;
          },
        },
      ],
      now: () => NOW,
      onEvent: (e) => {
        r.events.push(e);
        settled();
      },
    });
    let settled!: () => void;
    const event = new Promise<void>((resolve) => (settled = resolve));
    try {
      const first = await send(server, device);
      expect(first.rep.status).toBe("SUCCESS");
      expect(hex(first.rep.certificate!.spki)).toBe(hex(device.signer.certificate.spki));
      // The SUCCESS left after 100 ms of waiting for the record; its event waits for the store's answer (a timeout).
      expect(r.events).toEqual([]);
      await event;
      expect(r.events.at(-1)).toMatchObject({ outcome: "success", reason: "issued_not_recorded", status: 200 });
    } finally {
      redis.server.resume();
    }
  });
});
