/**
 * RFC 8894 §3.3.3 end to end (openxpki#126, OmniTrustILM/core#544): the Express example as a child process on
 * loopback, issuing with its embedded CA, with one-time challenges from the admin API. A device whose SUCCESS reply
 * was lost re-sends the same PKCSReq (same transactionID, key and CSR; a new self-signed signer and senderNonce):
 * it gets the certificate it was issued, not FAILURE for a used challenge, and the embedded CA's index holds one
 * certificate for it, not two.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ScepClient, buildPkcsReq, createSelfSignedSigner, generateCsr, generateRsaKeyPair, readCertRep, selectRecipient } from "@scep/core";
import { startExample, type ExampleProcess } from "../../server-kit/test/support/example-process.js";

const EXAMPLE_DIR = fileURLToPath(new URL("..", import.meta.url));
const TOKEN = "admin-token-for-tests-resend-4411";
const tmp = mkdtempSync(join(tmpdir(), "scep-resend-"));
let proc: ExampleProcess;
let base: string;

beforeAll(async () => {
  const s = await startExample(EXAMPLE_DIR, { SCEP_ADMIN_TOKEN: TOKEN, SCEP_DATA_DIR: join(tmp, "data") }, ["--one-time-challenges"]);
  proc = s.proc;
  base = s.base;
});
afterAll(async () => {
  await proc?.terminate();
  rmSync(tmp, { recursive: true, force: true });
});

async function admin(path: string, body?: unknown): Promise<unknown> {
  const res = await fetch(`${base}/admin/scep${path}`, {
    method: body === undefined ? "GET" : "POST",
    headers: { authorization: `Bearer ${TOKEN}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  expect(res.status).toBe(body === undefined ? 200 : 201);
  return res.json();
}

describe("RFC 8894 §3.3.3: a re-sent PKCSReq after a lost SUCCESS, through the example server and its embedded CA", () => {
  it("one-time challenge: the re-send gets the same certificate; the CA issued one", async () => {
    const { challenge } = (await admin("/challenges", { ttlSeconds: 600 })) as { challenge: string };
    const subject = "CN=resend-device-1, O=Resend Test";
    const keys = await generateRsaKeyPair(2048);
    const csr = await generateCsr({ keys, subject, challengePassword: challenge });
    const client = new ScepClient({ url: `${base}/scep` });
    const caCerts = await client.getCaCert();
    const send = async () => {
      const signer = await createSelfSignedSigner({ keys, subject });
      const req = await buildPkcsReq({ csr, signer, recipient: selectRecipient(caCerts) });
      return { req, rep: await readCertRep(await client.pkiOperation(req.der), { decrypter: signer, caCertificates: caCerts, request: req }) };
    };

    const first = await send(); // the reply never reaches the device
    expect(first.rep.status).toBe("SUCCESS");
    const again = await send();
    expect(again.req.transactionId).toBe(first.req.transactionId);
    expect([again.rep.status, again.rep.failInfoText]).toEqual(["SUCCESS", undefined]);
    expect(again.rep.certificate!.serialNumberHex).toBe(first.rep.certificate!.serialNumberHex);
    expect(Buffer.from(again.rep.certificate!.der).equals(Buffer.from(first.rep.certificate!.der))).toBe(true);

    const index = (await admin(`/certificates?subject=${encodeURIComponent("resend-device-1")}`)) as { total: number; certificates: { serialNumber: string }[] };
    expect(index.total).toBe(1);
    const serial = (hex: string): string => hex.toLowerCase().replace(/^0+/, "");
    expect(serial(index.certificates[0]!.serialNumber)).toBe(serial(first.rep.certificate!.serialNumberHex));
  });
});
