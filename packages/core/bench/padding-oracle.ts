/**
 * Padding-oracle timing check (issue 12 §4; Bleichenbacher against
 * RSAES-PKCS1-v1_5 key transport). Two classes of PKCSReq, built by
 * test/support/oracle-messages.ts, are sent to a SCEP server in random
 * order, dudect style: class A has a bad RSA padding in its key transport,
 * class B a good padding around the wrong content key. Both are answered
 * FAILURE badMessageCheck with the same bytes shape (server.padding-oracle.test.ts);
 * here the time of each answer is measured, through `server.fetch` (what a
 * client sees, minus the network) and through `decodePkiMessage` alone
 * (where a difference would come from), and the two classes are compared
 * with Welch's t statistic, on all samples and on samples below the pooled
 * 50th and 90th percentiles (dudect crops this way, since timing noise is
 * one-sided).
 *
 * Threshold: |t| < 4.5 is reported "no evidence of a timing difference";
 * 4.5 ≤ |t| < 10 "probable leak"; |t| ≥ 10 "leak" (dudect's thresholds).
 * It is a measurement, not a test: a loaded machine adds noise, not bias,
 * and the script exits 0 either way (1 only when |t| ≥ 10 on every measure).
 *
 * Run: `pnpm bench:oracle`. Environment: ORACLE_TRIALS (per class and
 * measure, default 2000), ORACLE_POOL (distinct messages per class, default
 * 64), ORACLE_WARMUP (default 200).
 */
import { performance } from "node:perf_hooks";
import { KeyWorkerPool, LocalKey, createScepServer, decodePkiMessage } from "../src/index.js";
import { oracleMessage, type OracleKind } from "../test/support/oracle-messages.js";
import { NOW, createTestPki } from "../test/support/pki.js";

const TRIALS = Number(process.env.ORACLE_TRIALS ?? 2000);
const POOL = Number(process.env.ORACLE_POOL ?? 64);
const WARMUP = Number(process.env.ORACLE_WARMUP ?? 200);
const KEY_WORKERS = Number(process.env.ORACLE_KEY_WORKERS ?? 0);
const THRESHOLD = 4.5;
const LEAK = 10;

interface Summary {
  n: number;
  mean: number;
  variance: number;
  median: number;
}

function summarize(xs: readonly number[]): Summary {
  const n = xs.length;
  const mean = xs.reduce((a, b) => a + b, 0) / n;
  const variance = xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1);
  const sorted = [...xs].sort((a, b) => a - b);
  return { n, mean, variance, median: sorted[Math.floor(n / 2)]! };
}

/** Welch's t statistic of two samples. */
function welch(a: readonly number[], b: readonly number[]): number {
  const x = summarize(a);
  const y = summarize(b);
  return (x.mean - y.mean) / Math.sqrt(x.variance / x.n + y.variance / y.n);
}

function percentile(xs: readonly number[], p: number): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

function verdict(t: number): string {
  const a = Math.abs(t);
  return a < THRESHOLD ? "no evidence of a timing difference" : a < LEAK ? "PROBABLE LEAK" : "LEAK";
}

async function measure(name: string, pools: Record<OracleKind, Uint8Array[]>, run: (message: Uint8Array) => Promise<void>): Promise<number[]> {
  for (let i = 0; i < WARMUP; i++) await run(pools[i % 2 ? "bad-padding" : "wrong-key"][i % POOL]!);
  const samples: Record<OracleKind, number[]> = { "bad-padding": [], "wrong-key": [] };
  const counts: Record<OracleKind, number> = { "bad-padding": 0, "wrong-key": 0 };
  while (counts["bad-padding"] < TRIALS || counts["wrong-key"] < TRIALS) {
    // Random class order (dudect): drift and periodic noise hit both classes alike.
    let kind: OracleKind = Math.random() < 0.5 ? "bad-padding" : "wrong-key";
    if (counts[kind] >= TRIALS) kind = kind === "bad-padding" ? "wrong-key" : "bad-padding";
    const message = pools[kind][counts[kind] % POOL]!;
    const t0 = performance.now();
    await run(message);
    samples[kind].push((performance.now() - t0) * 1000); // µs
    counts[kind]++;
  }
  const a = samples["bad-padding"];
  const b = samples["wrong-key"];
  const sa = summarize(a);
  const sb = summarize(b);
  console.log(`\n${name}: ${TRIALS} trials per class`);
  console.log(`  bad RSA padding      mean ${sa.mean.toFixed(1)} µs  median ${sa.median.toFixed(1)} µs  sd ${Math.sqrt(sa.variance).toFixed(1)} µs`);
  console.log(`  wrong content key    mean ${sb.mean.toFixed(1)} µs  median ${sb.median.toFixed(1)} µs  sd ${Math.sqrt(sb.variance).toFixed(1)} µs`);
  console.log(`  difference of means  ${(sa.mean - sb.mean).toFixed(1)} µs (standard error ${Math.sqrt(sa.variance / sa.n + sb.variance / sb.n).toFixed(1)} µs)`);
  const ts: number[] = [];
  for (const p of [100, 90, 50]) {
    const cut = percentile([...a, ...b], p);
    const ca = p === 100 ? a : a.filter((x) => x <= cut);
    const cb = p === 100 ? b : b.filter((x) => x <= cut);
    const t = welch(ca, cb);
    ts.push(t);
    console.log(`  Welch t ${p === 100 ? "(all samples)      " : `(below pooled p${p})`} = ${t.toFixed(2).padStart(6)}  (n ${ca.length}/${cb.length}): ${verdict(t)}`);
  }
  return ts;
}

async function main(): Promise<void> {
  console.log(`padding-oracle timing check: threshold |t| < ${THRESHOLD} (dudect), node ${process.version}`);
  const pki = await createTestPki();
  const keyPool = KEY_WORKERS > 0 ? new KeyWorkerPool({ size: KEY_WORKERS }) : undefined;
  const ca = keyPool ? LocalKey.from(pki.ca.certificate, pki.caKeys.privateKey, { workerPool: keyPool }) : pki.ca;
  console.log(`CA key: RSA decryption ${keyPool ? `on a KeyWorkerPool of ${KEY_WORKERS} thread(s)` : "on the calling thread"}`);
  const requester = pki.requesters.rsa;
  const pools: Record<OracleKind, Uint8Array[]> = { "bad-padding": [], "wrong-key": [] };
  for (const kind of ["bad-padding", "wrong-key"] as const) {
    for (let i = 0; i < POOL; i++) pools[kind].push(await oracleMessage(pki.ca, requester, kind, { transactionId: "ORACLE-1" }));
  }
  const sizes = new Set([...pools["bad-padding"], ...pools["wrong-key"]].map((m) => m.length));
  console.log(`messages: ${POOL} distinct per class, ${[...sizes].join("/")} bytes each`);

  const decoded = await measure("decodePkiMessage (verify, RSA decrypt, AES-CBC)", pools, async (m) => {
    try {
      await decodePkiMessage(m, { decrypters: [ca] });
      throw new Error("an oracle message decoded");
    } catch (e) {
      if ((e as { code?: string }).code !== "ERR_DECRYPT_FAILED") throw e;
    }
  });

  const server = createScepServer({
    profiles: [{ name: "p", path: "/scep", caCertificate: pki.ca.certificate, signer: ca, challenge: { type: "static", password: "oracle" }, issue: async () => ({ status: "FAILURE" }) }],
    now: () => NOW,
  });
  const served = await measure("server.fetch (the FAILURE CertRep a client gets)", pools, async (m) => {
    const res = await server.fetch(new Request("http://scep.test/scep?operation=PKIOperation", { method: "POST", body: m as Uint8Array<ArrayBuffer>, headers: { "content-type": "application/x-pki-message" } }));
    await res.arrayBuffer();
    if (res.status !== 200) throw new Error(`HTTP ${res.status}`);
  });

  const all = [...decoded, ...served];
  const worst = all.reduce((a, b) => (Math.abs(b) > Math.abs(a) ? b : a), 0);
  console.log(`\nlargest |t| = ${Math.abs(worst).toFixed(2)} (threshold ${THRESHOLD}): ${verdict(worst)}`);
  process.exitCode = all.every((t) => Math.abs(t) >= LEAK) ? 1 : 0;
  await keyPool?.close();
}

await main();
