/**
 * RFC 5280 §5.3.1 keyCompromise (CA/B Forum BR 4.9.1.1, 6.1.1.3) against two Express example processes sharing one
 * data directory and one real redis-server (replicas A and B): a certificate issued by A and revoked through A's
 * admin API with reason keyCompromise makes B refuse its public key for good. A PKCSReq for that key with the right
 * challenge, signed by the revoked certificate (what `scep renew --challenge` sends) or by a self-signed certificate
 * (`scep enroll --key`), gets FAILURE badRequest "this key was revoked as compromised: generate a new key", event
 * reason `key_compromised`, never a certificate; a new key enrolls. A certificate revoked superseded leaves its key
 * usable: the same key enrolls anew, until the entry is upgraded to keyCompromise (CA/B BR §4.9.1.1): then B refuses it
 * too and its CRL lists the serial as keyCompromise. With --pending, a request for the key recorded PENDING before the revocation is
 * REJECTED when the operator approves it (CertPoll: the same FAILURE), and a new one is refused at once.
 */
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LocalKey, createSelfSignedSigner, generateRsaKeyPair, type CertRep } from "@scep/core";
import { startRedisServer, type RedisServer } from "../../../test-support/peers";
import { AdminExamples, entryOf, reasonLine, type AdminExample } from "./support/admin-example.js";

const examples = new AdminExamples("scep-keycomp-", "keycomp-admin-token-0123456789", "keycomp-secret");
let redis: RedisServer;
let a: AdminExample;
let b: AdminExample;

beforeAll(async () => {
  redis = await startRedisServer();
  a = await examples.start({ SCEP_REDIS_URL: redis.url });
  b = await examples.start({ SCEP_REDIS_URL: redis.url });
}, 120_000);
afterAll(async () => {
  await examples.close();
  await redis?.stop();
});

/** A PKCSReq for `keys` with the challenge (none for a renewal), signed by `signer`, sent to `r`: the decoded CertRep. */
const pkcsReq = (r: AdminExample, keys: CryptoKeyPair, subject: string, signer: LocalKey, transactionId?: string, renewal = false): Promise<CertRep> =>
  examples.pkcsReq(r, keys, subject, { signer, renewal, ...(transactionId ? { transactionId } : {}) });

const selfSigned = (keys: CryptoKeyPair, subject: string) => createSelfSignedSigner({ keys, subject });

async function revoke(r: AdminExample, serialNumber: string, reason: string): Promise<void> {
  const answer = await examples.admin(r, "revoke", { serialNumber, reason });
  expect([answer.status, answer.body.reason]).toEqual([200, reason]);
}

describe("a key revoked as compromised on replica A is never certified again by replica B", () => {
  it("keyCompromise: the same key is FAILURE badRequest with the text and event reason key_compromised (signed by the revoked certificate or self-signed); a new key is issued", async () => {
    const keys = await generateRsaKeyPair(2048);
    const issued = await pkcsReq(a, keys, "CN=device-1", await selfSigned(keys, "CN=device-1"));
    expect(issued.status).toBe("SUCCESS");
    const certificate = issued.certificate!;
    await revoke(a, certificate.serialNumberHex, "keyCompromise");

    // `scep renew --cert device-1.pem --key device-1.key --challenge …`: a PKCSReq signed by the revoked certificate.
    const renewing = LocalKey.from(certificate, keys.privateKey);
    for (const signer of [renewing, await selfSigned(keys, "CN=device-1")]) {
      const rep = await pkcsReq(b, keys, "CN=device-1", signer);
      expect(rep).toMatchObject({ status: "FAILURE", failInfo: "badRequest", failInfoText: "this key was revoked as compromised: generate a new key" });
      expect(rep.certificate).toBeUndefined();
      expect(await b.proc.waitForJson("scep", (e) => e.transactionId === rep.transactionId)).toMatchObject({ operation: "PKCSReq", outcome: "failure", reason: "key_compromised", failInfo: "badRequest" });
    }

    const fresh = await generateRsaKeyPair(2048);
    const renewed = await pkcsReq(b, fresh, "CN=device-1", LocalKey.from(certificate, keys.privateKey));
    expect(renewed.status).toBe("SUCCESS");
    expect(renewed.certificate!.serialNumberHex).not.toBe(certificate.serialNumberHex);
  }, 120_000);

  it("superseded: the same key enrolls anew (only keyCompromise blocks a key)", async () => {
    const keys = await generateRsaKeyPair(2048);
    const first = await pkcsReq(a, keys, "CN=device-2", await selfSigned(keys, "CN=device-2"));
    expect(first.status).toBe("SUCCESS");
    await revoke(a, first.certificate!.serialNumberHex, "superseded");
    const again = await pkcsReq(b, keys, "CN=device-2", LocalKey.from(first.certificate!, keys.privateKey));
    expect(again.status).toBe("SUCCESS");
    expect(again.certificate!.serialNumberHex).not.toBe(first.certificate!.serialNumberHex);
    // A RenewalReq signed by the revoked certificate (`scep renew --renewal-req`) is told the reason (RFC 5280 §5.3.1),
    // read from the shared store by the other replica, so the CLI does not ask for a new key.
    const renewing = LocalKey.from(first.certificate!, keys.privateKey);
    const renewal = await pkcsReq(b, keys, "CN=device-2", renewing, undefined, true);
    expect(renewal).toMatchObject({ status: "FAILURE", failInfo: "badCertId", failInfoText: "the certificate being renewed was revoked (superseded)" });

    // CA/B BR §4.9.1.1: the key is found compromised later; A upgrades the entry, and B (through the Redis store's
    // revision) refuses the key from then on and serves a CRL that says keyCompromise.
    await revoke(a, first.certificate!.serialNumberHex, "keyCompromise");
    const refused = await pkcsReq(b, keys, "CN=device-2", await selfSigned(keys, "CN=device-2"));
    expect(refused).toMatchObject({ status: "FAILURE", failInfo: "badRequest", failInfoText: "this key was revoked as compromised: generate a new key" });
    expect(await pkcsReq(b, keys, "CN=device-2", renewing, undefined, true)).toMatchObject({ status: "FAILURE", failInfo: "badCertId", failInfoText: "the certificate being renewed was revoked (keyCompromise)" });
    const text = await examples.crlText(b, "upgraded.crl");
    expect(entryOf(text, first.certificate!.serialNumberHex)).toMatch(reasonLine("Key Compromise"));
  }, 120_000);
});

describe("--pending: a request recorded before the revocation is rejected at approval, a new one at once", () => {
  let p: AdminExample;
  beforeAll(async () => {
    // Its own data directory and CA.
    p = await examples.start({ SCEP_DATA_DIR: join(examples.dir, "pending") }, ["--pending"]);
  }, 120_000);

  it("approve of the earlier request: 200 REJECTED, CertPoll FAILURE with the text (event key_compromised); a new PKCSReq for the key: FAILURE at once, nothing PENDING", async () => {
    const keys = await generateRsaKeyPair(2048);
    const signer = await selfSigned(keys, "CN=pending-1");
    expect((await pkcsReq(p, keys, "CN=pending-1", signer, "KEYCOMP-PENDING-1")).status).toBe("PENDING");
    expect(await examples.admin(p, "approve", { transactionId: "KEYCOMP-PENDING-1" })).toEqual({ status: 200, body: expect.objectContaining({ status: "ISSUED" }) });
    const issued = await examples.certPoll(p, keys, "CN=pending-1", signer, "KEYCOMP-PENDING-1");
    expect(issued.status).toBe("SUCCESS");

    const second = await selfSigned(keys, "CN=pending-2");
    expect((await pkcsReq(p, keys, "CN=pending-2", second, "KEYCOMP-PENDING-2")).status).toBe("PENDING");
    await revoke(p, issued.certificate!.serialNumberHex, "keyCompromise");
    expect(await examples.admin(p, "approve", { transactionId: "KEYCOMP-PENDING-2" })).toEqual({ status: 200, body: expect.objectContaining({ status: "REJECTED" }) });
    const polled = await examples.certPoll(p, keys, "CN=pending-2", second, "KEYCOMP-PENDING-2");
    expect(polled).toMatchObject({ status: "FAILURE", failInfo: "badRequest", failInfoText: "this key was revoked as compromised: generate a new key" });
    expect(await p.proc.waitForJson("scep", (e) => e.operation === "CertPoll" && e.transactionId === "KEYCOMP-PENDING-2")).toMatchObject({ outcome: "failure", reason: "key_compromised" });

    const third = await pkcsReq(p, keys, "CN=pending-3", await selfSigned(keys, "CN=pending-3"), "KEYCOMP-PENDING-3");
    expect(third).toMatchObject({ status: "FAILURE", failInfo: "badRequest", failInfoText: "this key was revoked as compromised: generate a new key" });
    const pendingList = (await (await fetch(`${p.base}/admin/scep/pending`, { headers: { authorization: `Bearer ${examples.token}` } })).json()) as { pending?: { transactionId: string }[] };
    expect(JSON.stringify(pendingList)).not.toContain("KEYCOMP-PENDING-3");
  }, 120_000);
});
