/**
 * RFC 5280 §5.3.1 keyCompromise (CA/B Forum BR 4.9.1.1, 6.1.1.3) against two Express example processes sharing one
 * data directory and one real redis-server (replicas A and B): a certificate issued by A and revoked through A's
 * admin API with reason keyCompromise makes B refuse its public key for good. A PKCSReq for that key with the right
 * challenge, signed by the revoked certificate (what `scep renew --challenge` sends) or by a self-signed certificate
 * (`scep enroll --key`), gets FAILURE badRequest "this key was revoked as compromised: generate a new key", event
 * reason `key_compromised`, never a certificate; a new key enrolls. A certificate revoked superseded leaves its key
 * usable: the same key enrolls anew.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Certificate, LocalKey, buildPkcsReq, createSelfSignedSigner, generateCsr, generateRsaKeyPair, readCertRep, type CertRep } from "@scep/core";
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
async function pkcsReq(r: StartedExample, keys: CryptoKeyPair, subject: string, signer: LocalKey): Promise<CertRep> {
  const csr = await generateCsr({ keys, subject, challengePassword: CHALLENGE });
  const req = await buildPkcsReq({ csr, signer, recipient: ca });
  const res = await fetch(`${r.base}/scep?operation=PKIOperation`, { method: "POST", body: req.der as Uint8Array<ArrayBuffer>, headers: { "content-type": "application/x-pki-message" }, signal: AbortSignal.timeout(30_000) });
  expect(res.status).toBe(200);
  return readCertRep(new Uint8Array(await res.arrayBuffer()), { decrypter: signer, caCertificates: [ca], request: req });
}

const selfSigned = (keys: CryptoKeyPair, subject: string) => createSelfSignedSigner({ keys, subject });

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
  }, 120_000);
});
