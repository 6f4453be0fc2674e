/**
 * Proxy overhead benchmark (issue 10): the same kind of PKCSReqs sent straight
 * to an upstream CA and through the example proxy (a child process, as
 * `pnpm start:proxy` runs it) to that same upstream, in one run, at a fixed
 * concurrency over keep-alive connections. Upstreams: our Express example
 * server and micromdm `scepserver`, each on loopback. Direct and proxied
 * batches alternate (direct, proxied, proxied, direct, …) so a drift in the
 * machine's load hits both alike. Every message is distinct (own CN and
 * transactionID, built before the timed window); every proxied one has its own
 * one-time URL, registered through the admin API before the timed window, so
 * the proxied path pays for the whole check (identifier, profile record,
 * challenge consume) plus the extra hop.
 *
 * Prints, per upstream: requests/s direct and proxied, the ratio, p50/p99
 * latency of each and the difference (the latency the proxy adds), the CPU
 * time per request of the upstream and of the proxy process (/proc; on a
 * loaded machine the machine-independent figure: the proxy's own cost), failures
 * (non-200 answers; micromdm's file depot fails ~5% under 8 concurrent
 * requests, on either path). Goals: ≥ 90 % of direct throughput and < 2 ms
 * added p50. Nothing is asserted: a measurement, not a test.
 *
 * Run: `pnpm bench:proxy`. Environment: `BENCH_REQUESTS` (per path, upstream
 * and round; default 50), `BENCH_ROUNDS` (default 2), `BENCH_CONCURRENCY`
 * (default 8), `BENCH_UPSTREAMS` (default `example,micromdm`).
 */
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import * as http from "node:http";
import { loadavg, cpus } from "node:os";
import { performance } from "node:perf_hooks";
import { Certificate, buildPkcsReq, createSelfSignedSigner, generateCsr, generateRsaKeyPair } from "@scep/core";
import { startExampleUpstream, startMicromdmUpstream, startProxy, type RunningProxy, type Upstream } from "../test/support/harness.js";

const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 50);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 8);
const UPSTREAMS = (process.env.BENCH_UPSTREAMS ?? "example,micromdm").split(",").map((s) => s.trim()).filter(Boolean) as Array<"example" | "micromdm">;
const KEYS = 8;

// tsx passes the root script's --tsconfig to child processes (relative to the repository root); the example
// server and the proxy run in their own directories and find their own tsconfig.json.
delete process.env.TSX_TSCONFIG_PATH;

const log = (s = ""): void => void process.stdout.write(s + "\n");

interface Sample {
  ms: number;
  ok: boolean;
}

const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY * 2 });

function post(url: string, body: Uint8Array): Promise<Sample> {
  const started = performance.now();
  return new Promise((resolve) => {
    const req = http.request(url, { method: "POST", agent, headers: { "content-type": "application/x-pki-message", "content-length": body.length } }, (res) => {
      res.resume();
      res.once("end", () => resolve({ ms: performance.now() - started, ok: res.statusCode === 200 && res.headers["content-type"] === "application/x-pki-message" }));
      res.once("error", () => resolve({ ms: performance.now() - started, ok: false }));
    });
    req.once("error", () => resolve({ ms: performance.now() - started, ok: false }));
    req.end(body);
  });
}

/** Sends every (url, body) at `CONCURRENCY` in flight; the wall time and each request's latency. */
async function batch(jobs: Array<{ url: string; body: Uint8Array }>): Promise<{ wallMs: number; samples: Sample[] }> {
  const samples: Sample[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < jobs.length) {
        const job = jobs[next++]!;
        samples.push(await post(job.url, job.body));
      }
    }),
  );
  return { wallMs: performance.now() - started, samples };
}

/** User + system CPU time of a process so far, in ms (/proc/<pid>/stat; USER_HZ 100). */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
}

const percentile = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;

/** `n` distinct PKCSReqs for `upstream` (CSR with its static challenge, own CN). */
async function messages(upstream: Upstream, keys: CryptoKeyPair[], n: number, tag: string): Promise<Uint8Array[]> {
  const ca = Certificate.from(upstream.caPem);
  const out: Uint8Array[] = [];
  for (let i = 0; i < n; i++) {
    const k = keys[i % keys.length]!;
    const subject = `CN=bench-${tag}-${i}`;
    const csr = await generateCsr({ keys: k, subject, challengePassword: upstream.challenge });
    const signer = await createSelfSignedSigner({ keys: k, subject });
    out.push((await buildPkcsReq({ csr, signer, recipient: ca, cipher: "aes128", digest: "sha256", transactionId: randomBytes(16).toString("hex").toUpperCase() })).der);
  }
  return out;
}

/** Registers `n` profiles on CA `caName`; their one-time URLs. */
async function register(proxy: RunningProxy, caName: string, n: number, tag: string): Promise<string[]> {
  const urls: string[] = [];
  for (let i = 0; i < n; i++) urls.push((await proxy.register({ hostId: `bench-${tag}-${i}`, profileId: "bench", caName })).url);
  return urls;
}

async function main(): Promise<void> {
  log(`proxy bench: ${REQUESTS} requests per path and round, ${ROUNDS} rounds, concurrency ${CONCURRENCY}; ${cpus().length} CPUs, load ${loadavg().map((l) => l.toFixed(2)).join(" ")} (shared machine)`);
  const upstreams: Upstream[] = [];
  let proxy: RunningProxy | undefined;
  try {
    for (const kind of UPSTREAMS) upstreams.push(kind === "micromdm" ? await startMicromdmUpstream() : await startExampleUpstream());
    proxy = await startProxy(upstreams.map((u) => ({ name: u.kind, type: "custom" as const, url: u.url, challenge: u.challenge })));
    const keys = await Promise.all(Array.from({ length: KEYS }, () => generateRsaKeyPair(2048)));
    for (const upstream of upstreams) {
      const direct = { wallMs: 0, samples: [] as Sample[], upstreamCpuMs: 0 };
      const proxied = { wallMs: 0, samples: [] as Sample[], upstreamCpuMs: 0, proxyCpuMs: 0 };
      const proxyPid = proxy.proc.child.pid!;
      // Warm both paths (connections, JIT, the proxy's caps cache).
      const warm = await messages(upstream, keys, 2 * CONCURRENCY, `${upstream.kind}-warm`);
      const warmUrls = await register(proxy, upstream.kind, CONCURRENCY, `${upstream.kind}-warm`);
      await batch(warm.slice(0, CONCURRENCY).map((body) => ({ url: `${upstream.url}?operation=PKIOperation`, body })));
      await batch(warm.slice(CONCURRENCY).map((body, i) => ({ url: `${warmUrls[i]}?operation=PKIOperation`, body })));
      for (let round = 0; round < ROUNDS; round++) {
        const d = await messages(upstream, keys, REQUESTS, `${upstream.kind}-d${round}`);
        const p = await messages(upstream, keys, REQUESTS, `${upstream.kind}-p${round}`);
        const urls = await register(proxy, upstream.kind, REQUESTS, `${upstream.kind}-${round}`);
        const runDirect = async (): Promise<void> => {
          const cpu0 = cpuMs(upstream.pid);
          const r = await batch(d.map((body) => ({ url: `${upstream.url}?operation=PKIOperation`, body })));
          direct.upstreamCpuMs += cpuMs(upstream.pid) - cpu0;
          direct.wallMs += r.wallMs;
          direct.samples.push(...r.samples);
        };
        const runProxied = async (): Promise<void> => {
          const cpu0 = cpuMs(upstream.pid);
          const proxyCpu0 = cpuMs(proxyPid);
          const r = await batch(p.map((body, i) => ({ url: `${urls[i]}?operation=PKIOperation`, body })));
          proxied.upstreamCpuMs += cpuMs(upstream.pid) - cpu0;
          proxied.proxyCpuMs += cpuMs(proxyPid) - proxyCpu0;
          proxied.wallMs += r.wallMs;
          proxied.samples.push(...r.samples);
        };
        if (round % 2 === 0) {
          await runDirect();
          await runProxied();
        } else {
          await runProxied();
          await runDirect();
        }
      }
      const stats = (r: typeof direct) => {
        const ms = r.samples.map((s) => s.ms).sort((x, y) => x - y);
        return { rps: (r.samples.length / r.wallMs) * 1000, p50: percentile(ms, 50), p99: percentile(ms, 99), failed: r.samples.filter((s) => !s.ok).length, n: r.samples.length };
      };
      const ds = stats(direct);
      const ps = stats(proxied);
      const ratio = ps.rps / ds.rps;
      const added50 = ps.p50 - ds.p50;
      const added99 = ps.p99 - ds.p99;
      log("");
      log(`upstream ${upstream.kind} (${upstream.kind === "micromdm" ? "micromdm scepserver" : "our Express example server"})`);
      log(`  direct   ${ds.rps.toFixed(1).padStart(7)} req/s  p50 ${ds.p50.toFixed(2).padStart(7)} ms  p99 ${ds.p99.toFixed(2).padStart(7)} ms  failed ${ds.failed}/${ds.n}`);
      log(`  proxied  ${ps.rps.toFixed(1).padStart(7)} req/s  p50 ${ps.p50.toFixed(2).padStart(7)} ms  p99 ${ps.p99.toFixed(2).padStart(7)} ms  failed ${ps.failed}/${ps.n}`);
      const perReq = (ms: number, n: number): string => (ms / n).toFixed(2);
      log(`  CPU per request: upstream ${perReq(direct.upstreamCpuMs, ds.n)} ms direct, ${perReq(proxied.upstreamCpuMs, ps.n)} ms proxied; the proxy process ${perReq(proxied.proxyCpuMs, ps.n)} ms (10 ms resolution per batch)`);
      log(`  ratio ${(ratio * 100).toFixed(1)} % of direct throughput (goal ≥ 90 %: ${ratio >= 0.9 ? "met" : "NOT met"}); added p50 ${added50.toFixed(2)} ms (goal < 2 ms: ${added50 < 2 ? "met" : "NOT met"}), added p99 ${added99.toFixed(2)} ms`);
    }
    log("");
    log(`load after: ${loadavg().map((l) => l.toFixed(2)).join(" ")}`);
  } finally {
    agent.destroy();
    await proxy?.stop();
    for (const u of upstreams) await u.stop();
  }
}

await main();
