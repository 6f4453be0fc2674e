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
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Certificate, CertificationRequest, LocalKey, buildCertPoll, buildPkcsReq, createSelfSignedSigner, generateCsr, generateRsaKeyPair, readCertRep, type CertRep } from "@scep/core";
import { startRedisServer, type RedisServer } from "../../../test-support/peers";
import { TrackedExamples, type StartedExample } from "../../server-kit/test/support/example-process.js";

const EXAMPLE_DIR = fileURLToPath(new URL("..", import.meta.url));
const TOKEN = "keycomp-admin-token-0123456789";
const CHALLENGE = "keycomp-secret";
const examples = new TrackedExamples(EXAMPLE_DIR);
let redis: RedisServer;
let tmp: string;
let a: StartedExample;
let b: StartedExample;
let ca: Certificate;

beforeAll(async () => {
  redis = await startRedisServer();
  tmp = mkdtempSync(join(tmpdir(), "scep-keycomp-"));
  const env = { SCEP_DATA_DIR: join(tmp, "data"), SCEP_REDIS_URL: redis.url, SCEP_ADMIN_TOKEN: TOKEN, SCEP_CHALLENGE: CHALLENGE };
  a = await examples.start(env);
  b = await examples.start(env);
  ca = Certificate.from(readFileSync(a.listening.caCertificate, "utf8"));
}, 120_000);
afterAll(async () => {
  await examples.terminateAll();
  await redis?.stop();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

/** A PKCSReq for `keys` with the challenge, signed by `signer`, sent to `r`: the decoded CertRep. */
async function pkcsReq(r: StartedExample, keys: CryptoKeyPair, subject: string, signer: LocalKey, transactionId?: string, renewal = false): Promise<CertRep> {
  const csr = await generateCsr({ keys, subject, ...(renewal ? {} : { challengePassword: CHALLENGE }) });
  const req = await buildPkcsReq({ csr, signer, recipient: ca, renewal, ...(transactionId ? { transactionId } : {}) });
  const res = await fetch(`${r.base}/scep?operation=PKIOperation`, { method: "POST", body: req.der as Uint8Array<ArrayBuffer>, headers: { "content-type": "application/x-pki-message" }, signal: AbortSignal.timeout(30_000) });
  expect(res.status).toBe(200);
  return readCertRep(new Uint8Array(await res.arrayBuffer()), { decrypter: signer, caCertificates: [ca], request: req });
}

const selfSigned = (keys: CryptoKeyPair, subject: string) => createSelfSignedSigner({ keys, subject });

async function certPoll(r: StartedExample, keys: CryptoKeyPair, subject: string, signer: LocalKey, transactionId: string): Promise<CertRep> {
  const subjectDer = CertificationRequest.from(await generateCsr({ keys, subject })).subjectDer;
  const built = await buildCertPoll({ issuer: ca, subject: subjectDer, transactionId, signer, recipient: ca });
  const res = await fetch(`${r.base}/scep?operation=PKIOperation`, { method: "POST", body: built.der as Uint8Array<ArrayBuffer>, headers: { "content-type": "application/x-pki-message" }, signal: AbortSignal.timeout(30_000) });
  expect(res.status).toBe(200);
  return readCertRep(new Uint8Array(await res.arrayBuffer()), { decrypter: signer, caCertificates: [ca], request: built });
}

async function approve(r: StartedExample, transactionId: string): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${r.base}/admin/scep/approve`, { method: "POST", headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" }, body: JSON.stringify({ transactionId }) });
  return { status: res.status, body: await res.json() };
}

async function revoke(r: StartedExample, serialNumber: string, reason: string): Promise<void> {
  const res = await fetch(`${r.base}/admin/scep/revoke`, { method: "POST", headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" }, body: JSON.stringify({ serialNumber, reason }) });
  expect([res.status, ((await res.json()) as { reason: string }).reason]).toEqual([200, reason]);
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
    const crl = await fetch(`${b.base}/scep/ca.crl`);
    expect(crl.status).toBe(200);
    writeFileSync(join(tmp, "upgraded.crl"), new Uint8Array(await crl.arrayBuffer()));
    const text = execFileSync("openssl", ["crl", "-inform", "DER", "-in", join(tmp, "upgraded.crl"), "-noout", "-text"], { encoding: "utf8" });
    const serial = first.certificate!.serialNumberHex.toUpperCase();
    expect(text).toMatch(new RegExp(`Serial Number: ${serial}\\s*\\n\\s+Revocation Date: [^\\n]+\\n\\s+CRL entry extensions:\\s*\\n\\s+X509v3 CRL Reason Code:\\s*\\n\\s+Key Compromise\\n`));
  }, 120_000);
});

describe("--pending: a request recorded before the revocation is rejected at approval, a new one at once", () => {
  let p: StartedExample;
  beforeAll(async () => {
    // Its own CA (the describe above has finished with the replicas' by now: describes run in order).
    p = await examples.start({ SCEP_DATA_DIR: join(tmp, "pending"), SCEP_ADMIN_TOKEN: TOKEN, SCEP_CHALLENGE: CHALLENGE }, ["--pending"]);
    ca = Certificate.from(readFileSync(p.listening.caCertificate, "utf8"));
  }, 120_000);

  it("approve of the earlier request: 200 REJECTED, CertPoll FAILURE with the text (event key_compromised); a new PKCSReq for the key: FAILURE at once, nothing PENDING", async () => {
    const keys = await generateRsaKeyPair(2048);
    const signer = await selfSigned(keys, "CN=pending-1");
    expect((await pkcsReq(p, keys, "CN=pending-1", signer, "KEYCOMP-PENDING-1")).status).toBe("PENDING");
    expect(await approve(p, "KEYCOMP-PENDING-1")).toEqual({ status: 200, body: expect.objectContaining({ status: "ISSUED" }) });
    const issued = await certPoll(p, keys, "CN=pending-1", signer, "KEYCOMP-PENDING-1");
    expect(issued.status).toBe("SUCCESS");

    const second = await selfSigned(keys, "CN=pending-2");
    expect((await pkcsReq(p, keys, "CN=pending-2", second, "KEYCOMP-PENDING-2")).status).toBe("PENDING");
    await revoke(p, issued.certificate!.serialNumberHex, "keyCompromise");
    expect(await approve(p, "KEYCOMP-PENDING-2")).toEqual({ status: 200, body: expect.objectContaining({ status: "REJECTED" }) });
    const polled = await certPoll(p, keys, "CN=pending-2", second, "KEYCOMP-PENDING-2");
    expect(polled).toMatchObject({ status: "FAILURE", failInfo: "badRequest", failInfoText: "this key was revoked as compromised: generate a new key" });
    expect(await p.proc.waitForJson("scep", (e) => e.operation === "CertPoll" && e.transactionId === "KEYCOMP-PENDING-2")).toMatchObject({ outcome: "failure", reason: "key_compromised" });

    const third = await pkcsReq(p, keys, "CN=pending-3", await selfSigned(keys, "CN=pending-3"), "KEYCOMP-PENDING-3");
    expect(third).toMatchObject({ status: "FAILURE", failInfo: "badRequest", failInfoText: "this key was revoked as compromised: generate a new key" });
    const pendingList = (await (await fetch(`${p.base}/admin/scep/pending`, { headers: { authorization: `Bearer ${TOKEN}` } })).json()) as { pending?: { transactionId: string }[] };
    expect(JSON.stringify(pendingList)).not.toContain("KEYCOMP-PENDING-3");
  }, 120_000);
});
