/**
 * Micro-benchmark: what the subject / subjectAltName / SubjectPublicKeyInfo checks cost one enrollment, counted the
 * way a PKCSReq reaches an issuing CA (the server's checkCsrPolicy, then an issue hook that calls nameProblem,
 * endEntityExtensions and buildCertificate, as the embedded CA does): buildCertificate's share is called as the
 * functions it runs (its subject check and re-encoding, its key and subjectAltName checks), so the figure is
 * synchronous and leaves out signing, a fixed cost no check changes. Each request of the run is its own (a pool of 512
 * requests with distinct subjects and subjectAltNames, more than the 256 values the checks remember).
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
const { CertificationRequest, LocalKey, checkCsrPolicy, endEntityExtensions, generateCsr, generateRsaKeyPair, nameProblem } = (await import(`${src}/index.js`)) as typeof Core;
const { generalNamesProblem } = (await import(`${src}/x509/extensions.js`)) as typeof Extensions;
const { publicKeyProblem } = (await import(`${src}/x509/certificate-builder.js`)) as typeof Builder;
const { reencodeName } = (await import(`${src}/x509/name.js`)) as typeof Names;
const { x509 } = (await import(`${src}/lib/x509.js`)) as typeof X509;

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

const keys = await generateRsaKeyPair();
// Apple MDM-style subjects and subjectAltNames, each request its own (the checks remember the last 256 values they let
// through, by their bytes: a pool larger than that makes every first read a real one).
const POOL = 512;
const pool: InstanceType<typeof CertificationRequest>[] = [];
for (let i = 0; i < POOL; i++) {
  const id = `8A3C2F90-6C5B-4E3A-9D41-${(0x2b7f3e8a1c55 + i).toString(16).toUpperCase()}`;
  pool.push(
    new CertificationRequest(
      await generateCsr({
        keys,
        subject: `CN=${id}, OU=Devices, O=Example Corp, C=US`,
        challengePassword: "secret",
        san: { dns: [`device-${i}.example.com`], email: ["user@example.com"], uri: [`urn:uuid:${id.toLowerCase()}`] },
      }),
    ),
  );
}
const csr = pool[0]!;
const sanOf = (c: InstanceType<typeof CertificationRequest>): Uint8Array => c.extensions.find((e) => e.oid === "2.5.29.17")!.value;
const san = sanOf(csr);
let next = 0;
/** The next request of the pool. */
const fresh = (): InstanceType<typeof CertificationRequest> => pool[next++ % POOL]!;

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
console.log(`node ${process.version}, ${N} iterations each`);
// One check on a value it has not seen (each enrollment's request is new), and the same check again on the same value
// (what a later caller in the same enrollment pays).
const name = time("nameProblem(subject), new value", () => nameProblem(fresh().subjectDer));
time("nameProblem(subject), checked before", () => nameProblem(csr.subjectDer));
const reencode = time("reencodeName(subject), new value", () => reencodeName(fresh().subjectDer));
time("reencodeName(subject), checked before", () => reencodeName(csr.subjectDer));
const spki = time("publicKeyProblem(spki) (readSpki)", () => publicKeyProblem(csr.spki));
const gn = time("generalNamesProblem(subjectAltName), new value", () => generalNamesProblem(sanOf(fresh())));
time("generalNamesProblem(subjectAltName), checked before", () => generalNamesProblem(san));
// The checks of one enrollment, synchronous (buildCertificate's share is its subject check and re-encoding and its
// subjectAltName and key checks), each enrollment on a newly parsed request as the server parses each one.
const checks = time("one enrollment's checks (sync)", () => {
  const c = fresh();
  checkCsrPolicy(c); // the server's CSR policy
  nameProblem(c.subjectDer); // the embedded CA's own check
  endEntityExtensions({ csr: c, issuer: ca, subject: c.subjectDer });
  nameProblem(c.subjectDer); // buildCertificate: checkSubject …
  reencodeName(c.subjectDer); // … and the subject it writes
  publicKeyProblem(c.spki); // readSpki
  generalNamesProblem(sanOf(c)); // checkSubjectAltName
});

console.log(
  `one read each: nameProblem ${name.toFixed(2)}, reencodeName ${reencode.toFixed(2)}, readSpki ${spki.toFixed(2)}, generalNamesProblem ${gn.toFixed(2)} µs; one enrollment's checks ${checks.toFixed(2)} µs`,
);
