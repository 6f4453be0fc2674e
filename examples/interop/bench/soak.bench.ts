/**
 * Memory soak (issue 13, goal 4): our example server (Express, one process)
 * serves N enrollments at a fixed concurrency, and every K enrollments the
 * bench samples its resident set (VmRSS from /proc/<pid>/status) and, through
 * a preloaded probe (heap-probe.ts, over an IPC channel), its JS heap: the
 * bytes allocated so far and the live heap after a forced full collection.
 *
 * It prints the series, then the verdict: the least-squares slope of RSS (and
 * of the live heap) after the warm-up, and over the second half of that, in MB
 * per 10,000 enrollments with ± 2 standard errors, and whether each is flat
 * within noise (growth that fades out is a long warm-up; a leak keeps its
 * slope); the JS-heap
 * bytes allocated per enrollment; and the peak RSS against the 200 MB goal.
 * Nothing is asserted: this is a measurement, not a test.
 *
 * Every enrollment is distinct for the server: a fresh PKCSReq (transactionID,
 * senderNonce, content key) built by the bench while the load runs, from a pool
 * of requesters (distinct CNs, each with its own CSR and self-signed
 * certificate). Every reply's signature, status, transactionID and
 * recipientNonce are checked; every 25th is opened too, and its certificate
 * compared with the request.
 *
 * Run: `pnpm bench:soak` (= `pnpm --filter @scep/core build && node --import
 * tsx examples/interop/bench/soak.bench.ts`). The goal's 50,000 enrollments take
 * a few minutes of both cores; `BENCH_SOAK=5000 pnpm bench:soak` shows the
 * shape in about a minute.
 *
 * | variable | default | meaning |
 * | --- | --- | --- |
 * | `BENCH_SOAK` | 50000 | enrollments served |
 * | `BENCH_SOAK_EVERY` | N / 50 (at least 100) | enrollments between samples |
 * | `BENCH_SOAK_WARMUP` | N / 5 | enrollments left out of the slope (JIT, pools and bounded caches filling) |
 * | `BENCH_SOAK_GC` | 1 | 0: do not force a full collection at each sample (then there is no live-heap series) |
 * | `BENCH_SOAK_REQUESTERS` | 64 | distinct requesters (CN, CSR, self-signed certificate) the PKCSReqs cycle through |
 * | `BENCH_CONCURRENCY` | 8 | requests in flight |
 * | `BENCH_CA_BITS` | 2048 | the CA's RSA key size |
 * | `BENCH_EXAMPLE` / `BENCH_ENTRY` | `express` | which example server (as in server-load.bench.ts) |
 *
 * @module
 */
import { randomBytes } from "node:crypto";
import { Agent } from "node:http";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import {
  Certificate,
  LocalKey,
  buildPkcsReq,
  createSelfSignedSigner,
  generateCsr,
  generateRsaKeyPair,
  isScepError,
  readCertRep,
} from "../../../packages/core/dist/index.js";
import { opensslCreateCa } from "../../../test-support/peers";
import type { HeapSample } from "./heap-probe.js";
import { bundleScript, cpuMsOf, ourServerEntry, postPkiMessage, startNodeServer } from "./support.js";

const N = Number(process.env.BENCH_SOAK ?? 50_000);
const EVERY = Number(process.env.BENCH_SOAK_EVERY ?? Math.max(100, Math.round(N / 50)));
const WARMUP = Number(process.env.BENCH_SOAK_WARMUP ?? Math.round(N / 5));
const FORCE_GC = process.env.BENCH_SOAK_GC !== "0";
const REQUESTERS = Number(process.env.BENCH_SOAK_REQUESTERS ?? 64);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 8);
const CA_BITS = Number(process.env.BENCH_CA_BITS ?? 2048);
const CHECK_EVERY = 25;
const EXAMPLE = process.env.BENCH_EXAMPLE ?? "express";
const GOAL_RSS_MB = 200;
/** Below this slope RSS counts as flat even when the fit is precise enough to tell it from zero. */
const FLAT_MB_PER_10K = 1;
const REPO = fileURLToPath(new URL("../../../", import.meta.url));
// As `pnpm start` runs it: bundled (scripts/bundle-example.mjs), plain node, no tsx; the probe is bundled too.
const { entry: ENTRY, nodeArgs: ENTRY_NODE_ARGS, env: ENTRY_ENV } = ourServerEntry(REPO, EXAMPLE, process.env.BENCH_ENTRY || undefined);

for (const [name, value] of Object.entries({ BENCH_SOAK: N, BENCH_SOAK_EVERY: EVERY, BENCH_SOAK_REQUESTERS: REQUESTERS, BENCH_CONCURRENCY: CONCURRENCY })) {
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name}: a positive integer (got ${value})`);
}
if (!Number.isInteger(WARMUP) || WARMUP < 0 || WARMUP >= N) throw new Error(`BENCH_SOAK_WARMUP: from 0 to BENCH_SOAK - 1 (got ${WARMUP})`);

const log = (s = ""): void => void process.stdout.write(s + "\n");
const fmtLoad = (): string => loadavg().map((l) => l.toFixed(2)).join(" ");
const mb = (bytes: number): string => (bytes / 1048576).toFixed(1);

const work = mkdtempSync(join(tmpdir(), "scep-soak-bench-"));
process.once("exit", () => rmSync(work, { recursive: true, force: true }));
for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => process.exit(130));

/** VmRSS and VmHWM of a process, in bytes. */
function rssOf(pid: number): { rss: number; hwm: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? NaN) * 1024;
  return { rss: kb("VmRSS"), hwm: kb("VmHWM") };
}

/** CPU time all processes spent busy so far (not idle, not I/O wait), in ms, from /proc/stat's first line. */
function machineBusyMs(): number {
  const [user, nice, system, , , irq, softirq, steal] = readFileSync("/proc/stat", "utf8").split("\n", 1)[0]!.trim().split(/\s+/).slice(1).map(Number);
  return ((user! + nice! + system! + irq! + softirq! + steal!) * 1000) / 100;
}

/** Least-squares line through (x, y): slope, its standard error, and the residuals' standard deviation. */
function fit(points: readonly [number, number][]): { slope: number; slopeSe: number; residualSd: number } {
  const n = points.length;
  const mx = points.reduce((a, [x]) => a + x, 0) / n;
  const my = points.reduce((a, [, y]) => a + y, 0) / n;
  const sxx = points.reduce((a, [x]) => a + (x - mx) ** 2, 0);
  const slope = points.reduce((a, [x, y]) => a + (x - mx) * (y - my), 0) / sxx;
  const sse = points.reduce((a, [x, y]) => a + (y - (my + slope * (x - mx))) ** 2, 0);
  const residualSd = Math.sqrt(sse / Math.max(1, n - 2));
  return { slope, slopeSe: residualSd / Math.sqrt(sxx), residualSd };
}

// ------------------------------------------------------------------ setup

log(`# SCEP server memory soak: ${ENTRY}`);
log(`node ${process.version}, ${cpus()[0]?.model ?? "unknown CPU"} × ${cpus().length}; load average at start ${fmtLoad()}`);
log(`${N} enrollments at concurrency ${CONCURRENCY}, a sample every ${EVERY}, warm-up ${WARMUP}; RSA-${CA_BITS} CA, ${REQUESTERS} RSA-2048 requesters`);

const ca = await opensslCreateCa({ subject: "/O=scep-sdk bench/CN=Soak SCEP CA", rsaBits: CA_BITS });
const caCertPath = join(work, "ca.pem");
const caKeyPath = join(work, "ca.key");
writeFileSync(caCertPath, ca.certPem);
writeFileSync(caKeyPath, ca.keyPem, { mode: 0o600 });
const caCertificate = Certificate.from(ca.certPem);
const challenge = randomBytes(12).toString("hex");

interface Requester {
  cn: string;
  csr: Uint8Array;
  signer: LocalKey;
}

const keyPairs = await Promise.all(Array.from({ length: Math.min(16, REQUESTERS) }, () => generateRsaKeyPair(2048)));
const requesters: Requester[] = await Promise.all(
  Array.from({ length: REQUESTERS }, async (_, i) => {
    const keys = keyPairs[i % keyPairs.length]!;
    const cn = `soak-${i}`;
    const subject = `CN=${cn},O=scep-sdk bench`;
    const [csr, signer] = await Promise.all([generateCsr({ keys, subject, challengePassword: challenge }), createSelfSignedSigner({ keys, subject, days: 3650 })]);
    return { cn, csr, signer };
  }),
);

// ------------------------------------------------------------------ the server, with the heap probe

const server = await startNodeServer({
  entry: ENTRY,
  cwd: REPO,
  nodeArgs: [...ENTRY_NODE_ARGS, "--import", pathToFileURL(bundleScript(REPO, join(REPO, "examples/interop/bench/heap-probe.ts"), join(work, "heap-probe.mjs"))).href],
  ipc: true,
  env: {
    ...process.env,
    ...ENTRY_ENV,
    PORT: "0",
    HOST: "127.0.0.1",
    SCEP_DATA_DIR: join(work, "data"),
    SCEP_CHALLENGE: challenge,
    SCEP_CA_CERT: caCertPath,
    SCEP_CA_KEY: caKeyPath,
    SCEP_WORKERS: "1",
  },
});
const url = new URL(`http://127.0.0.1:${server.port}/scep?operation=PKIOperation`);
const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
log(`server pid ${server.pid} on port ${server.port}`);

function probe(): Promise<HeapSample> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("the heap probe did not answer within 30 s")), 30_000);
    const onMessage = (m: HeapSample): void => {
      if (m?.probe !== "sample") return;
      clearTimeout(timer);
      server.child.off("message", onMessage);
      resolve(m);
    };
    server.child.on("message", onMessage);
    server.child.send({ probe: "sample", gc: FORCE_GC });
  });
}

interface Sample {
  done: number;
  ms: number;
  rss: number;
  hwm: number;
  cpuMs: number;
  heap: HeapSample;
}

const samples: Sample[] = [];
const t0 = performance.now();
const busy0 = machineBusyMs();
const client0 = process.cpuUsage();

async function sample(done: number): Promise<void> {
  // RSS first: the forced collection the probe may run comes after it.
  const { rss, hwm } = rssOf(server.pid);
  const cpuMs = cpuMsOf([server.pid]);
  samples.push({ done, ms: performance.now() - t0, rss, hwm, cpuMs, heap: await probe() });
}

// ------------------------------------------------------------------ load

let next = 0;
let done = 0;
let nextMark = EVERY;
let sampling: Promise<void> = Promise.resolve();
const failures = new Map<string, number>();

async function enrollOne(i: number): Promise<void> {
  const r = requesters[i % requesters.length]!;
  const built = await buildPkcsReq({
    csr: r.csr,
    signer: r.signer,
    recipient: caCertificate,
    cipher: "aes128",
    digest: "sha256",
    // The default (SHA-256 of the public key) would repeat across messages sharing a key.
    transactionId: randomBytes(16).toString("hex").toUpperCase(),
  });
  const raw = await postPkiMessage(agent, url, built.der);
  let reason: string | undefined;
  if (!raw.ok) reason = raw.reason;
  else {
    try {
      const full = i % CHECK_EVERY === 0;
      const rep = await readCertRep(raw.body, { caCertificates: [caCertificate], request: built, ...(full ? { decrypter: r.signer } : {}) });
      if (rep.status !== "SUCCESS") reason = `${rep.status}${rep.failInfo ? ` ${rep.failInfo}` : ""}${rep.failInfoText ? `: ${rep.failInfoText}` : ""}`;
      else if (full && !rep.certificates.some((c) => c.subject.includes(`CN=${r.cn}`) && Buffer.compare(Buffer.from(c.spki), Buffer.from(r.signer.certificate.spki)) === 0)) {
        reason = "SUCCESS without the requested certificate";
      }
    } catch (e) {
      reason = isScepError(e) ? `unreadable reply: ${e.code}: ${e.message}` : `unreadable reply: ${(e as Error).message}`;
    }
  }
  if (reason !== undefined) failures.set(reason, (failures.get(reason) ?? 0) + 1);
  done++;
  if (done >= nextMark) {
    const at = done;
    nextMark += EVERY;
    sampling = sampling.then(() => sample(at));
  }
}

await sample(0);
try {
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      for (let i = next++; i < N; i = next++) await enrollOne(i);
    }),
  );
  await sampling;
  if (samples[samples.length - 1]!.done !== N) await sample(N);
} finally {
  agent.destroy();
  server.child.disconnect();
  await server.stop();
}
const wallMs = performance.now() - t0;
const clientCpu = process.cpuUsage(client0);
const othersCores = Math.max(0, machineBusyMs() - busy0 - (samples[samples.length - 1]!.cpuMs - samples[0]!.cpuMs) - (clientCpu.user + clientCpu.system) / 1000) / wallMs;

// ------------------------------------------------------------------ report

log();
log(`| enrollments | elapsed s | enrollments/s | RSS MB | JS heap MB | live heap MB${FORCE_GC ? "" : " (no GC forced)"} | allocated KiB/enrollment | server CPU ms/enrollment |`);
log(`| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |`);
for (const [i, s] of samples.entries()) {
  const prev = samples[i - 1];
  const n = prev ? s.done - prev.done : 0;
  const per = (f: (x: Sample) => number): string => (prev && n ? (f(s) - f(prev)) / n : NaN).toFixed(2);
  log(
    `| ${s.done} | ${(s.ms / 1000).toFixed(1)} | ${prev && n ? (n / ((s.ms - prev.ms) / 1000)).toFixed(1) : "—"} | ${mb(s.rss)} | ${mb(s.heap.heapUsed)} | ${mb(s.heap.heapAfterGc)} | ` +
      `${prev && n ? ((s.heap.allocatedBytes - prev.heap.allocatedBytes) / n / 1024).toFixed(1) : "—"} | ${prev && n ? per((x) => x.cpuMs) : "—"} |`,
  );
}

const failed = [...failures.values()].reduce((a, b) => a + b, 0);
const after = samples.filter((s) => s.done >= WARMUP);
const first = after[0]!;
const last = samples[samples.length - 1]!;
log();
log(`## verdict (${N} enrollments in ${(wallMs / 1000).toFixed(1)} s, ${(N / (wallMs / 1000)).toFixed(1)}/s; load average at end ${fmtLoad()})`);
log(
  `machine: ${cpus().length} cores; other processes kept ${othersCores.toFixed(2)} of them busy on average; the bench used ` +
    `${((clientCpu.user + clientCpu.system) / 1000 / N).toFixed(2)} ms CPU per enrollment (building and checking messages)`,
);
log(`failed enrollments: ${failed}${failed ? ` (${[...failures].sort((a, b) => b[1] - a[1]).slice(0, 3).map(([r, c]) => `${c}× ${r}`).join("; ")})` : ""}`);
if (after.length < 3) {
  log(`too few samples after the warm-up (${after.length}) for a slope: lower BENCH_SOAK_EVERY or BENCH_SOAK_WARMUP`);
} else {
  const span = last.done - first.done;
  /** The slope over `values` in MB per 10k enrollments, ± 2 standard errors, and its verdict (FLAT within noise, GROWS, FALLS). */
  const slopeOf = (values: [number, number][]): { text: string; verdict: string; residualSd: number } => {
    const { slope, slopeSe, residualSd } = fit(values);
    const per10k = (slope * 10_000) / 1048576;
    const se10k = (slopeSe * 10_000) / 1048576;
    const flat = Math.abs(per10k) <= 2 * se10k || Math.abs(per10k) < FLAT_MB_PER_10K;
    return {
      text: `${per10k >= 0 ? "+" : ""}${per10k.toFixed(2)} ± ${(2 * se10k).toFixed(2)} MB per 10k enrollments`,
      // A slope below zero beyond the noise is memory given back (the allocator returning pages), not a leak.
      verdict: flat ? "FLAT within noise" : per10k > 0 ? "GROWS" : "FALLS",
      residualSd,
    };
  };
  const verdict = (label: string, values: [number, number][]): void => {
    const all = slopeOf(values);
    // The second half too: growth that slows down to nothing is a warm-up that lasted longer than BENCH_SOAK_WARMUP, a leak does not slow down.
    const half = values.slice(Math.floor(values.length / 2));
    const late = half.length >= 5 ? slopeOf(half) : undefined;
    log(
      `${label}: slope ${all.text} over the ${span} enrollments after the warm-up (${mb(values[0]![1])} → ${mb(values[values.length - 1]![1])} MB, ` +
        `fit residuals ${mb(all.residualSd)} MB sd): ${all.verdict}` +
        (late ? `; over the last ${half[half.length - 1]![0] - half[0]![0]}: ${late.text}: ${late.verdict}` : ""),
    );
  };
  log(`(flat: the slope is within 2 standard errors of 0, or below ${FLAT_MB_PER_10K} MB per 10k enrollments; FALLS: below 0 beyond that, memory given back)`);
  verdict("RSS", after.map((s) => [s.done, s.rss]));
  if (FORCE_GC) verdict("live JS heap (after a full GC)", after.map((s) => [s.done, s.heap.heapAfterGc]));
  const allocated = (last.heap.allocatedBytes - first.heap.allocatedBytes) / span;
  const cpu = (last.cpuMs - first.cpuMs) / span;
  log(
    `per-request allocation: ${(allocated / 1024).toFixed(1)} KiB of JS heap per enrollment after the warm-up (objects, counted by v8.GCProfiler in the server; ` +
      `ArrayBuffer/Buffer contents and OpenSSL memory are outside the JS heap and not counted), ${((last.heap.collections - first.heap.collections) / (span / 1000)).toFixed(1)} collections per 1000; ` +
      `server CPU ${cpu.toFixed(2)} ms per enrollment`,
  );
}
log(`peak RSS (VmHWM): ${mb(last.hwm)} MB: goal < ${GOAL_RSS_MB} MB ${last.hwm / 1048576 < GOAL_RSS_MB ? "MET" : "MISSED"}`);
