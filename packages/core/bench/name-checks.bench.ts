/**
 * Micro-benchmark: what the subject / subjectAltName / SubjectPublicKeyInfo checks cost one enrollment, counted the
 * way a PKCSReq reaches an issuing CA (the server's checkCsrPolicy, then an issue hook that calls nameProblem,
 * endEntityExtensions and buildCertificate, as the embedded CA does). Signing is left out (a fixed cost that no
 * check changes): the issuer's `sign` returns a fixed signature.
 *
 * Each figure is the fastest of 15 rounds (the machine is shared).
 *
 * Run: `nice -n 19 node --import tsx packages/core/bench/name-checks.bench.ts` (BENCH_ITERATIONS, default 20000;
 * BENCH_SRC, a path to another copy of packages/core/src to measure instead, relative to this file or absolute).
 */
import { performance } from "node:perf_hooks";
import type * as Core from "../src/index.js";
import type * as Extensions from "../src/x509/extensions.js";
import type * as Builder from "../src/x509/certificate-builder.js";
import type * as Names from "../src/x509/name.js";
import type * as X509 from "../src/lib/x509.js";

// BENCH_SRC: another copy of packages/core/src (e.g. main's, from `git archive`) to compare against.
const src = process.env.BENCH_SRC ?? "../src";
const { CertificationRequest, LocalKey, buildCertificate, checkCsrPolicy, endEntityExtensions, generateCsr, generateRsaKeyPair, nameProblem } = (await import(`${src}/index.js`)) as typeof Core;
const { generalNamesProblem } = (await import(`${src}/x509/extensions.js`)) as typeof Extensions;
const { publicKeyProblem } = (await import(`${src}/x509/certificate-builder.js`)) as typeof Builder;
const { reencodeName } = (await import(`${src}/x509/name.js`)) as typeof Names;
const { x509 } = (await import(`${src}/lib/x509.js`)) as typeof X509;
type Signer = Core.Signer;

const N = Number(process.env.BENCH_ITERATIONS ?? 20_000);

const caKeys = await generateRsaKeyPair();
const caCert = await x509.X509CertificateGenerator.createSelfSigned({
  serialNumber: "01",
  name: "CN=Bench CA, O=scep-sdk",
  notBefore: new Date("2026-01-01T00:00:00Z"),
  notAfter: new Date("2036-01-01T00:00:00Z"),
  keys: caKeys,
  signingAlgorithm: { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" },
  extensions: [new x509.BasicConstraintsExtension(true, undefined, true)],
});
const ca = LocalKey.from(new Uint8Array(caCert.rawData), caKeys.privateKey);
const fakeSigner: Signer = { certificate: ca.certificate, sign: async () => new Uint8Array(256) } as unknown as Signer;

const keys = await generateRsaKeyPair();
// An Apple MDM-style subject and SAN.
const csr = new CertificationRequest(
  await generateCsr({
    keys,
    subject: "CN=8A3C2F90-6C5B-4E3A-9D41-2B7F3E8A1C55, OU=Devices, O=Example Corp, C=US",
    challengePassword: "secret",
    san: { dns: ["device-42.example.com"], email: ["user@example.com"], uri: ["urn:uuid:8a3c2f90-6c5b-4e3a-9d41-2b7f3e8a1c55"] },
  }),
);
const san = csr.extensions.find((e) => e.oid === "2.5.29.17")!.value;

const ROUNDS = 15;

/** µs per call: the fastest of ROUNDS rounds of N / ROUNDS calls (the machine is shared; the minimum is the least disturbed). */
function time(label: string, fn: () => unknown): number {
  for (let i = 0; i < N / 4; i++) fn(); // warm-up
  let best = Infinity;
  for (let r = 0; r < ROUNDS; r++) {
    const start = performance.now();
    for (let i = 0; i < N / ROUNDS; i++) fn();
    best = Math.min(best, ((performance.now() - start) * 1000 * ROUNDS) / N);
  }
  console.log(`${label.padEnd(56)} ${best.toFixed(2).padStart(8)} µs`);
  return best;
}
async function timeAsync(label: string, fn: () => Promise<unknown>): Promise<number> {
  for (let i = 0; i < N / 4; i++) await fn();
  let best = Infinity;
  for (let r = 0; r < ROUNDS; r++) {
    const start = performance.now();
    for (let i = 0; i < N / ROUNDS; i++) await fn();
    best = Math.min(best, ((performance.now() - start) * 1000 * ROUNDS) / N);
  }
  console.log(`${label.padEnd(56)} ${best.toFixed(2).padStart(8)} µs`);
  return best;
}

console.log(`node ${process.version}, ${N} iterations each`);
// One check on bytes it has not seen (a fresh copy each time, as each enrollment's CSR is new), and the same check
// again on the same array (what a later caller in the same enrollment pays).
const copy = time("Uint8Array.slice of the subject (subtract)", () => csr.subjectDer.slice());
const name = time("nameProblem(subject), new bytes", () => nameProblem(csr.subjectDer.slice())) - copy;
time("nameProblem(subject), checked before", () => nameProblem(csr.subjectDer));
const reencode = time("reencodeName(subject), new bytes", () => reencodeName(csr.subjectDer.slice())) - copy;
time("reencodeName(subject), checked before", () => reencodeName(csr.subjectDer));
const spki = time("publicKeyProblem(spki) (readSpki)", () => publicKeyProblem(csr.spki));
const sanCopy = time("Uint8Array.slice of the subjectAltName (subtract)", () => san.slice());
const gn = time("generalNamesProblem(subjectAltName), new bytes", () => generalNamesProblem(san.slice())) - sanCopy;
time("generalNamesProblem(subjectAltName), checked before", () => generalNamesProblem(san));
const extensions = endEntityExtensions({ csr, issuer: ca });
const options = {
  issuer: fakeSigner,
  subject: csr.subjectDer,
  publicKey: csr.spki,
  serialNumber: Uint8Array.of(1, 2, 3),
  notBefore: new Date("2026-01-01T00:00:00Z"),
  notAfter: new Date("2027-01-01T00:00:00Z"),
  extensions,
};
// The checks of one enrollment, synchronous (buildCertificate's share is its subject check and re-encoding and its
// subjectAltName and key checks), each enrollment on a newly parsed request as the server parses each one.
const checks =
  time("one enrollment's checks (sync), with the request's parse", () => {
    const fresh = new CertificationRequest(csr.der);
    checkCsrPolicy(fresh); // the server's CSR policy
    nameProblem(fresh.subjectDer); // the embedded CA's own check
    endEntityExtensions({ csr: fresh, issuer: ca, subject: fresh.subjectDer });
    nameProblem(fresh.subjectDer); // buildCertificate: checkSubject …
    reencodeName(fresh.subjectDer); // … and the subject it writes
    publicKeyProblem(fresh.spki); // readSpki
    generalNamesProblem(fresh.extensions.find((e) => e.oid === "2.5.29.17")!.value); // checkSubjectAltName
  }) - time("new CertificationRequest(der) + find SAN (subtract)", () => new CertificationRequest(csr.der).extensions.find((e) => e.oid === "2.5.29.17"));
console.log(`one enrollment's checks without the request's parse: ${checks.toFixed(2)} µs`);
// A whole enrollment's checks, each on a newly parsed request (as the server parses each one).
const parse = time("new CertificationRequest(der) (subtract)", () => new CertificationRequest(csr.der));
const enrollment =
  (await timeAsync("one enrollment: policy, hook check, extensions, build", async () => {
    const fresh = new CertificationRequest(csr.der);
    checkCsrPolicy(fresh);
    nameProblem(fresh.subjectDer); // the embedded CA's own check
    const ext = endEntityExtensions({ csr: fresh, issuer: ca, subject: fresh.subjectDer });
    await buildCertificate({ ...options, subject: fresh.subjectDer, publicKey: fresh.spki, extensions: ext });
  })) - parse;
console.log(`one enrollment without the request's parse: ${enrollment.toFixed(2)} µs`);
console.log(
  `one read each: nameProblem ${name.toFixed(2)}, reencodeName ${reencode.toFixed(2)}, readSpki ${spki.toFixed(2)}, generalNamesProblem ${gn.toFixed(2)} µs`,
);
// Without the memo an enrollment reads the subject 4 times (policy, embedded CA, endEntityExtensions,
// buildCertificate) and re-encodes it once, reads the subjectAltName 3 times, readSpki 3 times.
console.log(`repeated reads an enrollment would make without the memo (3 × nameProblem + 2 × generalNamesProblem): ${(3 * name + 2 * gn).toFixed(2)} µs`);
