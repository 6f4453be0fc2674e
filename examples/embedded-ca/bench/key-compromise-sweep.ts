// Measures what a keyCompromise revoke's sweep of the issuance index (CA/B BR §4.9.1.1) costs with a large index:
// how long the revoke takes and the longest stretch it holds the event loop (a request waiting on the same process
// waits that long). A script, not a timed test: `nice -n 19 node --import tsx bench/key-compromise-sweep.ts [count]`
// from examples/embedded-ca (default 20 000 certificates).
//
// The index is written directly (IndexLine format, certificate included) with certificates of 64 RSA-2048 keys signed
// by a P-256 key (the sweep neither checks the issuer nor the signature; generating 20 000 RSA keys would take
// minutes); the compromised key is a key of its own, certified three times by the CA itself among them.
//
// Measured 2026-12-01 (20 003 certificates, 17.6 MB; 2 cores shared with a CI run, nice 19): the sweep took 0.5–1.2 s
// and yields after every batch of 512 lines; the work between two yields is 8–14 ms (15–27 µs a line: parse, base64
// decode, match), the first read of the index 18–21 ms per 1 MiB chunk (15–18 µs a line). The wall-clock gaps the
// ticker saw (25–90 ms, once 228 ms) are mostly this niced process not being scheduled, and GC; none is the sweep's
// own work. So the sweep stays as it is (no key-hash index).
import { execFileSync } from "node:child_process";
import { generateKeyPairSync, webcrypto } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { openFileCa } from "../src/index.js";
import { encodeIndexLine, parseIndexLine } from "../src/issuance-index.js";
import { certificateKeyMatcher } from "../src/compromised-keys.js";

x509.cryptoProvider.set(webcrypto as unknown as Crypto);
const count = Number(process.argv[2] ?? 20_000);
const dir = mkdtempSync(join(tmpdir(), "sweep-bench-"));
const dataDir = join(dir, "data");

async function main(): Promise<void> {
  const issuerKeys = await webcrypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, false, ["sign", "verify"]);
  const subjects: CryptoKey[] = [];
  for (let i = 0; i < 64; i++) {
    const { publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const der = publicKey.export({ format: "der", type: "spki" });
    subjects.push(await webcrypto.subtle.importKey("spki", der, { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" }, true, ["verify"]));
  }
  const ca = await openFileCa({ dataDir, certificateFiles: false });
  const csr = (subject: string): Uint8Array => {
    execFileSync("openssl", ["req", "-new", "-key", "k.key", "-subj", subject, "-outform", "DER", "-out", "k.csr"], { cwd: dir, stdio: "ignore" });
    return new Uint8Array(readFileSync(join(dir, "k.csr")));
  };
  execFileSync("openssl", ["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", "k.key"], { cwd: dir, stdio: "ignore" });
  const first = await ca.issue({ csrDer: csr("/CN=compromised-0") });

  const started = performance.now();
  const lines: Uint8Array[] = [];
  const notBefore = new Date();
  const notAfter = new Date(notBefore.getTime() + 365 * 86_400_000);
  for (let i = 0; i < count; i++) {
    const serialNumber = (0x4000000000n + BigInt(i)).toString(16);
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber,
      subject: `CN=device-${i},O=bench`,
      issuer: "CN=Bench Issuer",
      notBefore,
      notAfter,
      signingAlgorithm: { name: "ECDSA", hash: "SHA-256" },
      publicKey: subjects[i % subjects.length]!,
      signingKey: issuerKeys.privateKey,
    });
    lines.push(encodeIndexLine({
      serial: serialNumber,
      subject: cert.subject,
      notBefore: notBefore.toISOString(),
      notAfter: notAfter.toISOString(),
      issuedAt: notBefore.toISOString(),
      certificate: Buffer.from(cert.rawData).toString("base64"),
    }));
    if (lines.length === 5_000) writeFileSync(join(dataDir, "index.jsonl"), Buffer.concat(lines.splice(0)), { flag: "a" });
  }
  writeFileSync(join(dataDir, "index.jsonl"), Buffer.concat(lines.splice(0)), { flag: "a" });
  const others = [await ca.issue({ csrDer: csr("/CN=compromised-1") }), await ca.issue({ csrDer: csr("/CN=compromised-2") })];
  const size = readFileSync(join(dataDir, "index.jsonl")).length;
  console.log(`index: ${count + 3} certificates, ${(size / 1e6).toFixed(1)} MB, written in ${((performance.now() - started) / 1000).toFixed(1)} s`);

  // The look-up map is built by the first look-up: measured apart from the sweep.
  for (const what of ["first look-up (builds the serial map)", "keyCompromise revoke (sweep)", "keyCompromise revoke again (all already revoked)"]) {
    const histogram = monitorEventLoopDelay({ resolution: 1 });
    let longest = 0;
    let last = performance.now();
    let ticking = true;
    const tick = (): void => {
      const now = performance.now();
      longest = Math.max(longest, now - last);
      last = now;
      if (ticking) setImmediate(tick);
    };
    histogram.enable();
    setImmediate(tick);
    const t0 = performance.now();
    let detail = "";
    if (what.startsWith("first")) await ca.getCertificate(first.serialNumber);
    else detail = ` alsoRevoked=${(await ca.revoke(first.serialNumber, "keyCompromise")).alsoRevoked.length}`;
    const elapsed = performance.now() - t0;
    ticking = false;
    histogram.disable();
    console.log(`${what}: ${elapsed.toFixed(0)} ms, longest event-loop block ${longest.toFixed(1)} ms (p99 delay ${(histogram.percentile(99) / 1e6).toFixed(1)} ms, max ${(histogram.max / 1e6).toFixed(1)} ms)${detail}`);
  }
  void others;

  // The synchronous work per index line, measured apart from the scheduler (the gaps above include the time a niced
  // process on a loaded machine is not running): the scan's parse, and the sweep's parse plus base64 decode and match.
  const text = readFileSync(join(dataDir, "index.jsonl"), "utf8").split("\n").filter((l) => l !== "");
  const matches = certificateKeyMatcher(new Uint8Array(readFileSync(join(dir, "k.csr")))); // any needle: none match
  for (let round = 0; round < 2; round++) {
    let t = performance.now();
    for (const l of text) parseIndexLine(l);
    const parseUs = ((performance.now() - t) * 1000) / text.length;
    t = performance.now();
    for (const l of text) {
      const r = parseIndexLine(l);
      if (r?.certificate) matches(Buffer.from(r.certificate, "base64"));
    }
    const sweepUs = ((performance.now() - t) * 1000) / text.length;
    const perChunk = (bytes: number): number => Math.round(bytes / (size / text.length));
    console.log(
      `per line: parse ${parseUs.toFixed(1)} µs, parse + decode + match ${sweepUs.toFixed(1)} µs; longest synchronous step: ` +
        `scan ${perChunk(1 << 20)} lines/1 MiB = ${((perChunk(1 << 20) * parseUs) / 1000).toFixed(1)} ms, ${perChunk(1 << 18)} lines/256 KiB = ${((perChunk(1 << 18) * parseUs) / 1000).toFixed(1)} ms; ` +
        `sweep 512 lines = ${((512 * sweepUs) / 1000).toFixed(1)} ms, 128 lines = ${((128 * sweepUs) / 1000).toFixed(1)} ms`,
    );
  }
}

main().finally(() => rmSync(dir, { recursive: true, force: true }));
