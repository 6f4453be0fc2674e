// Measures a keyCompromise revoke when ONE key has many certificates (CA/B BR §4.9.1.1: every certificate of the key
// is revoked in the same call), with the file revocation store: the sweep's revocations are written to
// revocations.jsonl. A script, not a timed test: `nice -n 19 node --import tsx bench/key-compromise-one-key.ts [count]`
// from examples/embedded-ca (default 20 000 certificates).
//
// The index is written directly: `count` lines with distinct serials, each holding the same real certificate (one
// this CA issued), so every line is of the compromised key; the revoke of the real one sweeps them all.
//
// Measured 2026-12-02, 20 000 certificates of one key, 2 cores shared with other helpers' test runs (load 11–14),
// nice 19: one revocation per certificate (lock, read of what was appended, append, fdatasync, read back, 20 000
// times): the sweep 417.8 s, a revoke again (all already keyCompromise, no line written) 226.4 s; all of the sweep's
// lines in one locked append and one fdatasync (FileRevocationStore.revokeMany): 4.6 s, again 1.9 s. The same
// revocations.jsonl (2.84 MB, 20 001 entries) either way.
import { execFileSync } from "node:child_process";
import { appendFileSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openFileCa } from "../src/index.js";
import { encodeIndexLine } from "../src/issuance-index.js";

const count = Number(process.argv[2] ?? 20_000);
const dir = mkdtempSync(join(tmpdir(), "sweep-one-key-"));
const dataDir = join(dir, "data");

async function main(): Promise<void> {
  execFileSync("openssl", ["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", "k.key"], { cwd: dir, stdio: "ignore" });
  execFileSync("openssl", ["req", "-new", "-key", "k.key", "-subj", "/CN=compromised", "-outform", "DER", "-out", "k.csr"], { cwd: dir, stdio: "ignore" });
  const ca = await openFileCa({ dataDir, certificateFiles: false });
  const issued = await ca.issue({ csrDer: new Uint8Array(readFileSync(join(dir, "k.csr"))) });
  const certificate = Buffer.from(issued.certificateDer).toString("base64");
  const notAfter = new Date(Date.now() + 300 * 86_400_000).toISOString(); // unexpired: the sweep skips expired lines
  const lines: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    const serial = "41" + i.toString(16).padStart(32, "0");
    lines.push(encodeIndexLine({ serial, subject: `CN=device-${i}`, notBefore: new Date().toISOString(), notAfter, issuedAt: new Date().toISOString(), certificate }));
  }
  appendFileSync(join(dataDir, "index.jsonl"), Buffer.concat(lines));
  await ca.getCertificate(issued.serialNumber); // builds the serial map: not timed with the sweep

  for (const what of ["keyCompromise revoke (sweep)", "keyCompromise revoke again (all already revoked)"]) {
    const t0 = performance.now();
    const { alsoRevoked } = await ca.revoke(issued.serialNumber, "keyCompromise");
    const elapsed = performance.now() - t0;
    const size = statSync(join(dataDir, "revocations.jsonl")).size;
    console.log(`${what}: ${(elapsed / 1000).toFixed(2)} s, alsoRevoked=${alsoRevoked.length}, revocations.jsonl ${(size / 1e6).toFixed(2)} MB`);
  }
  console.log(`listed: ${(await ca.revocations.list()).length}`);
}

main().finally(() => rmSync(dir, { recursive: true, force: true }));
