/**
 * CA/B Forum BR §4.9.1.1 / §7.2.2, RFC 5280 §5.3.1: a certificate revoked superseded and later found compromised is
 * re-revoked keyCompromise through the admin API of the Express example (a child process on loopback, revocations in
 * its data directory: FileRevocationStore). The answer is 200 with the entry upgraded (reason keyCompromise, the first
 * revokedAt kept, `created: false`, `updated: true`), the CRL is signed again with a higher number and lists the serial
 * with reason Key Compromise and its first revocation date (`openssl crl -text`), and the key, which enrolled anew
 * while the certificate was only superseded, is from then on refused (FAILURE badRequest, event `key_compromised`).
 * A later superseded (a downgrade) changes nothing.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Certificate, buildPkcsReq, createSelfSignedSigner, generateCsr, generateRsaKeyPair, readCertRep, type CertRep } from "@scep/core";
import { TrackedExamples, type StartedExample } from "../../server-kit/test/support/example-process.js";

const EXAMPLE_DIR = fileURLToPath(new URL("..", import.meta.url));
const TOKEN = "upgrade-admin-token-0123456789";
const CHALLENGE = "upgrade-secret";
const examples = new TrackedExamples(EXAMPLE_DIR);
let tmp: string;
let server: StartedExample;
let ca: Certificate;

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), "scep-keycomp-upgrade-"));
  server = await examples.start({ SCEP_DATA_DIR: join(tmp, "data"), SCEP_ADMIN_TOKEN: TOKEN, SCEP_CHALLENGE: CHALLENGE });
  ca = Certificate.from(readFileSync(server.listening.caCertificate, "utf8"));
}, 120_000);
afterAll(async () => {
  await examples.terminateAll();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

function openssl(args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile("openssl", [...args], { cwd: tmp, timeout: 60_000 }, (error, stdout, stderr) => (error ? reject(new Error(`openssl ${args.join(" ")}: ${stderr}${stdout}`)) : resolve(stdout))),
  );
}

async function enroll(keys: CryptoKeyPair, subject: string): Promise<CertRep> {
  const signer = await createSelfSignedSigner({ keys, subject });
  const csr = await generateCsr({ keys, subject, challengePassword: CHALLENGE });
  const req = await buildPkcsReq({ csr, signer, recipient: ca });
  const res = await fetch(`${server.base}/scep?operation=PKIOperation`, { method: "POST", body: req.der as Uint8Array<ArrayBuffer>, headers: { "content-type": "application/x-pki-message" }, signal: AbortSignal.timeout(30_000) });
  expect(res.status).toBe(200);
  return readCertRep(new Uint8Array(await res.arrayBuffer()), { decrypter: signer, caCertificates: [ca], request: req });
}

async function revoke(serialNumber: string, reason: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${server.base}/admin/scep/revoke`, { method: "POST", headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" }, body: JSON.stringify({ serialNumber, reason }) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** GET /scep/ca.crl as `openssl crl -text`. */
async function crlText(name: string): Promise<string> {
  const res = await fetch(`${server.base}/scep/ca.crl`);
  expect(res.status).toBe(200);
  writeFileSync(join(tmp, name), new Uint8Array(await res.arrayBuffer()));
  writeFileSync(join(tmp, "ca.pem"), ca.toPem());
  return openssl(["crl", "-inform", "DER", "-in", name, "-noout", "-text", "-CAfile", "ca.pem", "-verify"]);
}

const crlNumber = (text: string): number => Number(/X509v3 CRL Number:\s*\n\s+(\d+)\n/.exec(text)![1]);
/** The entry block of `serial` in `openssl crl -text`. */
const entryOf = (text: string, serial: string): string => {
  const at = text.indexOf(`Serial Number: ${serial.toUpperCase()}`);
  expect(at).toBeGreaterThan(-1);
  const next = text.indexOf("Serial Number:", at + 1);
  return text.slice(at, next === -1 ? text.indexOf("Signature Algorithm", at) : next);
};

describe("POST /admin/scep/revoke: superseded, then keyCompromise (CA/B BR §4.9.1.1)", () => {
  it("upgrades the entry (200, updated: true, first revokedAt), re-signs the CRL with reason Key Compromise, and the key that enrolled anew while superseded is refused from then on; a downgrade changes nothing", async () => {
    const keys = await generateRsaKeyPair(2048);
    const first = await enroll(keys, "CN=upgrade-1");
    expect(first.status).toBe("SUCCESS");
    const serial = first.certificate!.serialNumberHex;

    const superseded = await revoke(serial, "superseded");
    expect(superseded).toEqual({ status: 200, body: { serialNumber: serial, subject: "CN=upgrade-1", reason: "superseded", revokedAt: expect.any(String), created: true, updated: false, alsoRevoked: [] } });
    const before = await crlText("superseded.crl");
    expect(entryOf(before, serial)).toMatch(/CRL Reason Code:\s*\n\s+Superseded\n/);

    // Only superseded: the same key enrolls anew.
    const anew = await enroll(keys, "CN=upgrade-1");
    expect(anew.status).toBe("SUCCESS");
    expect(anew.certificate!.serialNumberHex).not.toBe(serial);

    const upgraded = await revoke(serial, "keyCompromise");
    // The certificate the key got anew is revoked with it (CA/B BR §4.9.1.1).
    expect(upgraded).toEqual({ status: 200, body: { ...superseded.body, reason: "keyCompromise", created: false, updated: true, alsoRevoked: [anew.certificate!.serialNumberHex] } });
    expect(await server.proc.waitForJson("admin", (e) => e.action === "revoke" && e.serialNumber === serial && e.updated === true)).toMatchObject({ reason: "keyCompromise", created: false });

    const after = await crlText("upgraded.crl");
    expect(crlNumber(after)).toBeGreaterThan(crlNumber(before));
    expect(entryOf(after, serial)).toMatch(/CRL Reason Code:\s*\n\s+Key Compromise\n/);
    // The revocation date stays the first one's (second precision on the CRL).
    const date = (text: string) => /Revocation Date: (.+)\n/.exec(entryOf(text, serial))![1];
    expect(date(after)).toBe(date(before));

    const refused = await enroll(keys, "CN=upgrade-2");
    expect(refused).toMatchObject({ status: "FAILURE", failInfo: "badRequest", failInfoText: "this key was revoked as compromised: generate a new key" });
    expect(refused.certificate).toBeUndefined();
    // (The transactionID is the key's hash, the same for each request of this key: pick the refusal's event.)
    expect(await server.proc.waitForJson("scep", (e) => e.transactionId === refused.transactionId && e.outcome === "failure")).toMatchObject({ operation: "PKCSReq", reason: "key_compromised", failInfo: "badRequest" });

    // A downgrade, or keyCompromise again: the entry stays, nothing is re-signed.
    for (const reason of ["superseded", "keyCompromise"]) expect(await revoke(serial, reason)).toEqual({ status: 200, body: { ...upgraded.body, updated: false, alsoRevoked: [] } });
    expect(crlNumber(await crlText("again.crl"))).toBe(crlNumber(after));
    expect((await enroll(await generateRsaKeyPair(2048), "CN=upgrade-3")).status).toBe("SUCCESS");
  }, 180_000);
});
