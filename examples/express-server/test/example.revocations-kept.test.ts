/**
 * Revocations kept in the data directory without --redis-url (revocations.jsonl, crl-numbers): a revocation through
 * the admin API is still on the CRL after a restart (GET /scep/ca.crl, read with `openssl crl -inform DER -text`) and
 * the revoked certificate no longer signs a renewal (RFC 8894 §3.3.1.2: FAILURE badCertId); with --workers 2 a revoke
 * through one worker is on the CRL that GetCRL (RFC 8894 §3.3.5) and GET /scep/ca.crl answer on every worker; CRL
 * numbers only grow, across workers and restarts (RFC 5280 §5.2.3). Before, each process (and each worker) kept them
 * in memory: lost on restart, unknown to the other workers.
 */
import { execFile } from "node:child_process";
import { request } from "node:http";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { LocalKey, ScepClient, buildGetCrl, generateCsr, generateRsaKeyPair, readCertRep, selectRecipient } from "@scep/core";
import { TrackedExamples } from "../../server-kit/test/support/example-process.js";
import { pkcsReqAndPoll } from "../../server-kit/test/support/pkcs-req.js";

const EXAMPLE_DIR = fileURLToPath(new URL("..", import.meta.url));
const TOKEN = "admin-token-for-revocations-kept-0c1d";
const CHALLENGE = "revocations-kept-challenge";
const tmp = mkdtempSync(join(tmpdir(), "scep-revocations-kept-"));
const examples = new TrackedExamples(EXAMPLE_DIR);
afterAll(async () => {
  await examples.terminateAll();
  rmSync(tmp, { recursive: true, force: true });
});

const start = (dataDir: string, extra: Record<string, string> = {}) => examples.start({ SCEP_DATA_DIR: dataDir, SCEP_CHALLENGE: CHALLENGE, SCEP_ADMIN_TOKEN: TOKEN, SCEP_KEY_WORKERS: "0", ...extra });

function openssl(args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile("openssl", [...args], { cwd: tmp, timeout: 60_000 }, (error, stdout, stderr) => (error ? reject(new Error(`openssl ${args.join(" ")}: ${stderr}${stdout}`)) : resolve(stdout))),
  );
}

/** The CRL's text as `openssl crl -inform DER -text` prints it. */
async function crlText(der: Uint8Array, name: string): Promise<string> {
  writeFileSync(join(tmp, name), der);
  return openssl(["crl", "-inform", "DER", "-in", name, "-noout", "-text"]);
}
const crlNumber = (text: string): bigint => BigInt(/X509v3 CRL Number:\s*\n\s*(\d+)/.exec(text)![1]!);

/** GET /scep/ca.crl on a new connection each time (a --workers primary hands connections out round-robin). */
function getCrl(base: string, path = "/scep/ca.crl", body?: Uint8Array): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const req = request(`${base}${path}`, { agent: false, method: body ? "POST" : "GET", headers: body ? { "content-type": "application/x-pki-message" } : {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => (res.statusCode === 200 ? resolve(new Uint8Array(Buffer.concat(chunks))) : reject(new Error(`${path}: HTTP ${res.statusCode}`))));
    });
    req.on("error", reject);
    req.end(body);
  });
}

async function enroll(base: string, subject: string) {
  const e = await pkcsReqAndPoll(`${base}/scep`, { subject, challenge: CHALLENGE });
  expect(e.first.status).toBe("SUCCESS");
  const certificate = e.first.certificate!;
  return { ...e, certificate, serial: Buffer.from(certificate.serialNumber).toString("hex") };
}

async function revoke(base: string, serialNumber: string): Promise<number> {
  const res = await fetch(`${base}/admin/scep/revoke`, { method: "POST", headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" }, body: JSON.stringify({ serialNumber, reason: "keyCompromise" }) });
  return res.status;
}

describe("revocations without --redis-url are kept in the data directory", () => {
  it("a revocation is still on GET /scep/ca.crl after a restart, the revoked certificate's renewal is refused (badCertId), and the CRL number never goes back", async () => {
    const dataDir = join(tmp, "restart");
    const first = await start(dataDir);
    // The banner says where each kind of state is: the revocations in files that outlive the process, the rest in memory.
    expect(first.proc.banner("shared state")).toBe("revocations and CRL numbers in the data directory (kept across restarts); PENDING transactions, one-time challenges, counters in this process's memory (lost on restart; no Redis)");
    const device = await enroll(first.base, "CN=revoked-then-restarted");
    expect(await revoke(first.base, device.serial)).toBe(200);
    const before = await crlText(await getCrl(first.base), "before.crl");
    expect(before).toContain(`Serial Number: ${device.serial.toUpperCase()}`);
    expect(await first.proc.terminate()).toEqual({ code: 0, signal: null });

    const second = await start(dataDir);
    const after = await crlText(await getCrl(second.base), "after.crl");
    expect(after).toContain(`Serial Number: ${device.serial.toUpperCase()}`);
    expect(after).toMatch(/X509v3 CRL Reason Code:\s*\n\s+Key Compromise/);
    // RFC 5280 §5.2.3: never back. Nothing changed across the restart, so the new process serves the CRL the old one
    // published in the data directory (the same number) until a revocation or half its validity calls for a new one.
    expect(crlNumber(after) >= crlNumber(before)).toBe(true);

    // RFC 8894 §3.3.1.2: a RenewalReq signed by the revoked certificate.
    const keys = await generateRsaKeyPair(2048);
    const csr = await generateCsr({ keys, subject: "CN=revoked-then-restarted" });
    const rep = await new ScepClient({ url: `${second.base}/scep` }).enroll({ signer: LocalKey.from(device.certificate, device.keys.privateKey), csr, renewal: true });
    expect([rep.status, rep.status === "FAILURE" ? rep.failInfo : undefined]).toEqual(["FAILURE", "badCertId"]);
    expect(await second.proc.terminate()).toEqual({ code: 0, signal: null });
  }, 180_000);

  it("--workers 2: a revoke through the admin API is on the CRL that GetCRL and GET /scep/ca.crl answer on both workers; CRL numbers never go back, across workers and a restart", async () => {
    const dataDir = join(tmp, "workers");
    const cluster = await start(dataDir, { SCEP_WORKERS: "2" });
    // Not "this process (memory)": the revocations and CRL numbers this test shows both workers sharing are in the data directory.
    expect(cluster.proc.banner("shared state")).toBe("revocations and CRL numbers in the data directory (shared by the 2 workers, kept across restarts); counters in each worker's memory (no Redis)");
    const device = await enroll(cluster.base, "CN=revoked-under-workers");
    // Both workers serve the CRL first (new connections go round-robin to both): one signs it, the other adopts it.
    for (let i = 0; i < 4; i += 1) expect(await crlText(await getCrl(cluster.base), `first-${i}.crl`)).not.toContain("Serial Number:");
    expect(await revoke(cluster.base, device.serial)).toBe(200);

    const getCrlReq = await buildGetCrl({ issuer: device.certificate.issuerDer, serialNumber: device.certificate.serialNumber, signer: device.signer, recipient: selectRecipient(device.caCerts) });
    const numbers: bigint[] = [];
    for (let i = 0; i < 6; i += 1) {
      const http = await crlText(await getCrl(cluster.base), `http-${i}.crl`);
      expect(http).toContain(`Serial Number: ${device.serial.toUpperCase()}`);
      numbers.push(crlNumber(http));
    }
    expect(numbers).toEqual([...numbers].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))); // round-robin over both workers: never back
    // (Consecutive connections, so that round-robin gives GetCRL to both workers.)
    for (let i = 0; i < 6; i += 1) {
      const rep = await readCertRep(await getCrl(cluster.base, "/scep?operation=PKIOperation", getCrlReq.der), { decrypter: device.signer, caCertificates: device.caCerts, request: getCrlReq });
      expect([rep.status, rep.crls.length]).toEqual(["SUCCESS", 1]);
      expect(await crlText(rep.crls[0]!, `scep-${i}.crl`)).toContain(`Serial Number: ${device.serial.toUpperCase()}`);
    }
    const getCrlWorkers = new Set(
      cluster.proc
        .events("scep")
        .filter((e) => JSON.stringify(e).includes("GetCRL"))
        .map((e) => e.worker),
    );
    expect([...getCrlWorkers].sort()).toEqual([1, 2]);
    expect(await cluster.proc.terminate()).toEqual({ code: 0, signal: null });

    const again = await start(dataDir, { SCEP_WORKERS: "2" });
    const after = await crlText(await getCrl(again.base), "after-restart.crl");
    expect(after).toContain(`Serial Number: ${device.serial.toUpperCase()}`);
    expect(crlNumber(after) >= numbers.reduce((a, b) => (a > b ? a : b))).toBe(true); // never back (the published CRL, unchanged)
    expect(await again.proc.terminate()).toEqual({ code: 0, signal: null });
  }, 240_000);
});
