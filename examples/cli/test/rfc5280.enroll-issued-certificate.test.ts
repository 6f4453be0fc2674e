/**
 * `scep enroll` and `scep renew` write the issued certificate (and a generated key) only when it is a whole X.509
 * certificate (RFC 5280 §4.1) for the request's key. A CA on loopback answers a correctly signed and encrypted
 * SUCCESS whose certificate is for the requested key but whose TBSCertificate `signature` field is a SET, not an
 * AlgorithmIdentifier (re-signed by the CA): @scep/core read only the fields it used and took it, and the CLI wrote a
 * file other tools cannot read (core now refuses it too). Or a certificate for another key. The CLI runs in this process (`main`).
 */
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildCaCaps, buildCertRep, buildGetCaCertResponse, decodePkiMessage, exportPrivateKeyPem, generateCsr, generateRsaKeyPair } from "@scep/core";
import * as der from "../../../packages/core/src/lib/der.js";
import { createTestCa, type TestCa } from "../../../packages/core/test/support/server-pki.js";
import { runInProcess as scep, serveFetch, type Loopback } from "./support/in-process.js";

type Issue = "good" | "tbs-signature-not-an-algorithm" | "another-key";

let dir: string;
let ca: TestCa;
let http: Loopback;
let url: string;
let issue: Issue = "good";

/** `certificateDer` with its TBSCertificate `signature` AlgorithmIdentifier made a SET of the same content, re-signed by the CA. */
async function withTbsSignatureASet(certificateDer: Uint8Array): Promise<Uint8Array> {
  const [tbs, algorithm] = der.children(der.parse(certificateDer));
  const fields = der.children(tbs);
  const at = fields[0]!.tag === 0xa0 ? 2 : 1; // version [0] EXPLICIT, serialNumber, signature
  const tbsDer = der.encode(der.seq(...fields.map((f, i) => (i === at ? Uint8Array.from([0x31, ...der.raw(f).subarray(1)]) : der.raw(f)))));
  const signature = new Uint8Array(await crypto.subtle.sign({ name: "RSASSA-PKCS1-v1_5" }, ca.keys.privateKey, tbsDer as Uint8Array<ArrayBuffer>));
  return der.encode(der.seq(tbsDer, der.raw(algorithm), der.tlv(der.Tag.BIT_STRING, new Uint8Array([0]), signature)));
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "scep-cli-issued-"));
  ca = await createTestCa("Issued Certificate CA");
  const other = await generateRsaKeyPair(2048);
  const otherCsr = await generateCsr({ keys: other, subject: "CN=someone else" });
  http = await serveFetch(async (req) => {
    const op = new URL(req.url).searchParams.get("operation");
    if (op === "GetCACaps") return new Response(buildCaCaps(["AES", "POSTPKIOperation", "SHA-256", "SCEPStandard", "Renewal"]), { headers: { "content-type": "text/plain" } });
    if (op === "GetCACert") {
      const reply = await buildGetCaCertResponse([ca.cert]);
      return new Response(reply.body as Uint8Array<ArrayBuffer>, { headers: { "content-type": reply.contentType } });
    }
    const request = await decodePkiMessage(new Uint8Array(await req.arrayBuffer()), { decrypters: [ca.key] });
    const good = (await ca.issue(issue === "another-key" ? otherCsr : request.csr!.der)).der;
    const issued = issue === "tbs-signature-not-an-algorithm" ? await withTbsSignatureASet(good) : good;
    const reply = await buildCertRep({ request: request, signer: ca.key, status: "SUCCESS", certificates: [issued, ca.cert.der] });
    return new Response(reply as Uint8Array<ArrayBuffer>, { headers: { "content-type": "application/x-pki-message" } });
  });
  url = `${http.base}/scep`;
});
afterAll(async () => {
  await http?.close();
  rmSync(dir, { recursive: true, force: true });
});

// @scep/core refuses this one itself now (it reads the TBS signature field: RFC 5280 §4.1.2.3); the CLI's own check
// (X509Certificate) stays as the second guard for whatever core reads and OpenSSL would not.
const NOT_X509 = /^scep: (the SUCCESS CertRep's certificates do not parse: TBSCertificate signature: .+|the certificate the CA issued does not parse as an X\.509 certificate \(.+\); nothing was written) \[ERR_CERTREP\]$/;

describe("enroll and renew: the issued certificate is checked before anything is written", () => {
  it("enroll: a certificate that does not parse as X.509 is exit 1, one line, and neither the certificate nor the generated key is written", async () => {
    const cwd = mkdtempSync(join(dir, "enroll-"));
    issue = "tbs-signature-not-an-algorithm";
    const r = await scep(["enroll", "--url", url, "--challenge", "pw", "--cn", "device", "--out", "device.pem"], cwd);
    expect([r.code, r.out, r.err.length]).toEqual([1, [], 1]);
    expect(r.err[0]).toMatch(NOT_X509);
    expect(readdirSync(cwd)).toEqual([]);
    // The same CA with a whole certificate: written, with the key next to it.
    issue = "good";
    const ok = await scep(["enroll", "--url", url, "--challenge", "pw", "--cn", "device", "--out", "device.pem"], cwd);
    expect([ok.code, ok.err]).toEqual([0, []]);
    expect(readdirSync(cwd).sort()).toEqual(["device.key", "device.pem"]);
  });

  it("enroll: a certificate for another key is exit 1, one line, nothing written", async () => {
    const cwd = mkdtempSync(join(dir, "enroll-other-"));
    issue = "another-key";
    const r = await scep(["enroll", "--url", url, "--challenge", "pw", "--cn", "device", "--out", "device.pem"], cwd);
    expect([r.code, r.out, r.err.length]).toEqual([1, [], 1]);
    expect(r.err[0]).toMatch(/^scep: .* \[ERR_CERTREP\]$/);
    expect(readdirSync(cwd)).toEqual([]);
  });

  it("renew (--new-key too): a certificate that does not parse as X.509 is exit 1, one line, no --out and no new key written", async () => {
    const cwd = mkdtempSync(join(dir, "renew-"));
    const keys = await generateRsaKeyPair(2048);
    writeFileSync(join(cwd, "old.key"), await exportPrivateKeyPem(keys.privateKey));
    writeFileSync(join(cwd, "old.pem"), (await ca.issue(await generateCsr({ keys, subject: "CN=device" }))).toPem());
    issue = "tbs-signature-not-an-algorithm";
    for (const extra of [[], ["--new-key"]]) {
      const r = await scep(["renew", "--url", url, "--cert", "old.pem", "--key", "old.key", "--out", "new.pem", ...extra], cwd);
      expect([extra, r.code, r.out, r.err.length]).toEqual([extra, 1, [], 1]);
      expect(r.err[0]).toMatch(NOT_X509);
      expect(readdirSync(cwd).sort()).toEqual(["old.key", "old.pem"]);
    }
    issue = "good";
    const ok = await scep(["renew", "--url", url, "--cert", "old.pem", "--key", "old.key", "--out", "new.pem"], cwd);
    expect([ok.code, ok.err]).toEqual([0, []]);
    expect(existsSync(join(cwd, "new.pem"))).toBe(true);
  });
});
