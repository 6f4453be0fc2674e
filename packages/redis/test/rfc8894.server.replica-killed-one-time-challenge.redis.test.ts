/**
 * RFC 8894 §3.3.1/§3.3.3 with one-time challenges across replicas: a replica killed mid-issue has already spent the
 * device's challenge (its consume ran; its claim on the transactionID lapses, nobody renews it), so the device's
 * re-send of the same PKCSReq (same transactionID, key and subject), taken over by another replica once the claim
 * lapsed, must pass the challenge check as the re-send of the request that spent it; any other request with that
 * challenge is still refused. Before, the re-send got FAILURE "challenge password invalid or already used": the
 * device's one-time challenge spent, and no certificate ever delivered to it (found by a chaos run: two example
 * servers on one Redis, kill -9 of one mid-load).
 *
 * Both replicas share one redis-server (each its own connection). The killed replica is a server whose issue hook,
 * once entered, cuts its Redis connection (its claim then lapses within CLAIM_LEASE_MS, in Redis's own time) and never
 * returns while the test runs: what kill -9 leaves behind.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { buildPkcsReq, createScepServer, createSelfSignedSigner, type IssueHook, type ScepEvent, type ScepServer } from "@scep/core";
import { NOW, baseProfile, createDevice, createTestCa, issuingHook, postPki, readReply, type Device, type TestCa } from "../../core/test/support/server-pki.js";
import { usePrivateRedis } from "./support/private-redis.js";
import { RedisChallengeStore, RedisTransactionStore } from "../src/index.js";

const redis = usePrivateRedis({}, { second: true });
let ca: TestCa;
beforeAll(async () => {
  ca = await createTestCa("Killed Replica Redis CA");
}, 60_000);

const CLAIM_LEASE_MS = 600;
const PREFIX = "killed-replica:";

/** The device's PKCSReq under `transactionId` (a new self-signed signer and senderNonce each time, as a re-send after a lost reply). */
async function send(server: ScepServer, device: Device, transactionId?: string) {
  const signer = await createSelfSignedSigner({ keys: device.keys, subject: device.subject, now: NOW });
  const built = await buildPkcsReq({ csr: device.csr, signer, recipient: ca.cert, now: NOW, ...(transactionId ? { transactionId } : {}) });
  return { built, rep: await readReply(await postPki(server, "/scep", built.der), built, { decrypter: signer, caCertificates: [ca.cert] }) };
}

describe("RFC 8894 §3.3.3: a replica killed after spending the one-time challenge", () => {
  it("the device's re-send on the other replica is issued once the claim lapsed; another request with that challenge is still refused", async () => {
    const events: ScepEvent[] = [];
    let entered!: () => void;
    const inHook = new Promise<void>((resolve) => (entered = resolve));
    let release!: () => void;
    const never = new Promise<void>((resolve) => (release = resolve));
    const issuing = issuingHook(ca);
    // The replica that dies: its hook cuts its connection (nothing renews or lets go of its claim) and hangs.
    const dying: IssueHook = async () => {
      redis.second.disconnect();
      entered();
      await never;
      return { status: "FAILURE", failInfo: "badRequest", failInfoText: "this replica is dead" };
    };
    const replica = (client: typeof redis.client, issue: IssueHook): ScepServer =>
      createScepServer({
        profiles: [
          {
            ...baseProfile(ca, { type: "store", store: new RedisChallengeStore(client, { keyPrefix: PREFIX, now: () => NOW }) }),
            transactions: new RedisTransactionStore(client, { keyPrefix: PREFIX, now: () => NOW }),
            issue,
            claimLeaseMs: CLAIM_LEASE_MS,
          },
        ],
        now: () => NOW,
        onEvent: (e) => events.push(e),
      });
    const a = replica(redis.second, dying);
    const b = replica(redis.client, issuing);
    const challenge = await new RedisChallengeStore(redis.client, { keyPrefix: PREFIX, now: () => NOW }).issue({ profile: "p" });
    const device = await createDevice({ cn: "killed-replica-device", challengePassword: challenge });
    const other = await createDevice({ cn: "killed-replica-other", challengePassword: challenge });

    // The first send, to the replica that dies: its claim and its consume are in Redis when its hook is entered.
    const signer = await createSelfSignedSigner({ keys: device.keys, subject: device.subject, now: NOW });
    const built = await buildPkcsReq({ csr: device.csr, signer, recipient: ca.cert, now: NOW });
    const lost = postPki(a, "/scep", built.der); // its reply never reaches the device
    await inHook;
    try {
      // The device re-sends (a lost reply): the other replica waits for the dead claim to lapse, then takes it over.
      const resent = await send(b, device, built.transactionId);
      expect([resent.rep.status, resent.rep.failInfoText]).toEqual(["SUCCESS", undefined]);
      expect(resent.rep.certificate!.subject).toBe(device.subject);
      expect(events.at(-1)).toMatchObject({ operation: "PKCSReq", outcome: "success", reason: "issued", transactionId: built.transactionId });
      // The challenge stays spent for anything else: another key (its own transactionID, or the device's).
      for (const tid of [undefined, built.transactionId]) {
        const refused = await send(b, other, tid);
        expect([refused.rep.status, refused.rep.failInfo]).toEqual(["FAILURE", "badRequest"]);
      }
      // And a request of the device's own key under another transactionID is another enrollment: refused too.
      const again = await send(b, device, "another-transaction-of-the-device");
      expect([again.rep.status, again.rep.failInfoText]).toEqual(["FAILURE", "challenge password invalid or already used"]);
    } finally {
      release();
      await lost.catch(() => undefined);
    }
  }, 60_000);
});
