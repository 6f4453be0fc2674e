/**
 * CA/B Forum BR §4.9.1.1 (all certificates of a compromised key are revoked), RFC 5280 §5.3.1 (a hold made
 * permanent), §5.2.3 (one new CRL per change): through the admin API of the Express example (a child process on
 * loopback, revocations in its data directory: FileRevocationStore). One key enrolls three times, another key once;
 * one of the key's certificates is put on certificateHold. A keyCompromise revoke of the first certificate answers
 * 200 with `alsoRevoked` naming the other two (the held one included), the audit line says the same, and the CRL is
 * signed once for the lot: its number is exactly one above the one before, and it lists all three with reason Key
 * Compromise (the held one with its hold's revocation date), the other key's certificate not at all
 * (`openssl crl -text`).
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Certificate, buildPkcsReq, createSelfSignedSigner, generateCsr, generateRsaKeyPair, readCertRep } from "@scep/core";
import { TrackedExamples, type StartedExample } from "../../server-kit/test/support/example-process.js";

const EXAMPLE_DIR = fileURLToPath(new URL("..", import.meta.url));
const TOKEN = "all-certs-admin-token-0123456789";
const CHALLENGE = "all-certs-secret";
const examples = new TrackedExamples(EXAMPLE_DIR);
let tmp: string;
let server: StartedExample;
let ca: Certificate;

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), "scep-keycomp-all-"));
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

/** Enrolls `keys` as `subject`; the issued serial (hex). */
async function enroll(keys: CryptoKeyPair, subject: string): Promise<string> {
  const signer = await createSelfSignedSigner({ keys, subject });
  const csr = await generateCsr({ keys, subject, challengePassword: CHALLENGE });
  const req = await buildPkcsReq({ csr, signer, recipient: ca });
  const res = await fetch(`${server.base}/scep?operation=PKIOperation`, { method: "POST", body: req.der as Uint8Array<ArrayBuffer>, headers: { "content-type": "application/x-pki-message" }, signal: AbortSignal.timeout(30_000) });
  expect(res.status).toBe(200);
  const rep = await readCertRep(new Uint8Array(await res.arrayBuffer()), { decrypter: signer, caCertificates: [ca], request: req });
  expect(rep.status).toBe("SUCCESS");
  return rep.certificate!.serialNumberHex;
}

async function revoke(serialNumber: string, reason: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${server.base}/admin/scep/revoke`, { method: "POST", headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" }, body: JSON.stringify({ serialNumber, reason }) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** GET /scep/ca.crl as `openssl crl -text`, verified with the CA certificate. */
async function crlText(name: string): Promise<string> {
  const res = await fetch(`${server.base}/scep/ca.crl`);
  expect(res.status).toBe(200);
  writeFileSync(join(tmp, name), new Uint8Array(await res.arrayBuffer()));
  writeFileSync(join(tmp, "ca.pem"), ca.toPem());
  return openssl(["crl", "-inform", "DER", "-in", name, "-noout", "-text", "-CAfile", "ca.pem", "-verify"]);
}

const crlNumber = (text: string): number => Number(/X509v3 CRL Number:\s*\n\s+(\d+)\n/.exec(text)![1]);
/** The entry block of `serial` in `openssl crl -text`, or undefined when the CRL does not list it. */
const entryOf = (text: string, serial: string): string | undefined => {
  const at = text.indexOf(`Serial Number: ${serial.toUpperCase()}\n`);
  if (at === -1) return undefined;
  const next = text.indexOf("Serial Number:", at + 1);
  return text.slice(at, next === -1 ? text.indexOf("Signature Algorithm", at) : next);
};
const KEY_COMPROMISE = /CRL Reason Code:\s*\n\s+Key Compromise\n/;

describe("POST /admin/scep/revoke keyCompromise: every certificate of the key, one CRL (CA/B BR §4.9.1.1)", () => {
  it("revokes the key's other certificates (a held one made permanent), reports them in the answer and the audit line, and re-signs the CRL once", async () => {
    const keys = await generateRsaKeyPair(2048);
    const first = await enroll(keys, "CN=all-1");
    const second = await enroll(keys, "CN=all-2");
    const held = await enroll(keys, "CN=all-held");
    const otherKey = await enroll(await generateRsaKeyPair(2048), "CN=all-1");

    expect(await revoke(held, "certificateHold")).toMatchObject({ status: 200, body: { reason: "certificateHold", created: true, alsoRevoked: [] } });
    const before = await crlText("before.crl");
    expect(entryOf(before, held)).toMatch(/CRL Reason Code:\s*\n\s+Certificate Hold\n/);
    const heldDate = /Revocation Date: (.+)\n/.exec(entryOf(before, held)!)![1];

    const result = await revoke(first, "keyCompromise");
    expect(result).toEqual({ status: 200, body: { serialNumber: first, subject: "CN=all-1", reason: "keyCompromise", revokedAt: expect.any(String), created: true, updated: false, alsoRevoked: [second, held].sort() } });
    expect(await server.proc.waitForJson("admin", (e) => e.action === "revoke" && e.serialNumber === first)).toMatchObject({ reason: "keyCompromise", alsoRevoked: [second, held].sort() });

    const after = await crlText("after.crl");
    expect(crlNumber(after)).toBe(crlNumber(before) + 1); // signed once for the three, not once per serial
    for (const serial of [first, second, held]) expect(entryOf(after, serial)).toMatch(KEY_COMPROMISE);
    expect(/Revocation Date: (.+)\n/.exec(entryOf(after, held)!)![1]).toBe(heldDate);
    expect(entryOf(after, otherKey)).toBeUndefined();

    // The held certificate can no longer be put back on hold (nor released): it stays Key Compromise.
    expect(await revoke(held, "certificateHold")).toMatchObject({ status: 200, body: { reason: "keyCompromise", created: false, updated: false, alsoRevoked: [] } });
  }, 180_000);
});
