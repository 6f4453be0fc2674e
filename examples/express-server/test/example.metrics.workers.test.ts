/**
 * `/metrics` of the example server with `--workers 2` (node:cluster: each connection goes to one worker): every
 * scrape, whichever worker it reaches, shows the whole server's counts, merged by the primary from every worker's
 * OpenTelemetry collection (examples/server-kit/src/cluster-metrics.ts). Counters never go back: not when a worker
 * is killed and restarted (its last counts stay in the primary), not when a worker does not answer (it counts with
 * its last numbers, and the scrape is answered after the 2 s bound, never hangs). Real processes, real HTTP on
 * loopback, each request on its own connection unless said otherwise, so the primary spreads them over both workers.
 */
import { request, Agent, type IncomingHttpHeaders } from "node:http";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Certificate, buildPkcsReq, createSelfSignedSigner, generateCsr, generateRsaKeyPair, readCertRep } from "@scep/core";
import { type ExampleProcess, startExample } from "../../server-kit/test/support/example-process.js";
import { METRICS_COLLECT_TIMEOUT_MS } from "../../server-kit/src/cluster-metrics.js";

const EXAMPLE_DIR = new URL("..", import.meta.url).pathname;
const CHALLENGE = "metrics-workers-challenge";

let tmp: string;
let proc: ExampleProcess;
let port: number;
let caPath: string;
let workers: { worker: number; pid: number }[];
let keys: CryptoKeyPair;

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), "scep-metrics-workers-"));
  const started = await startExample(EXAMPLE_DIR, { SCEP_DATA_DIR: tmp, SCEP_CHALLENGE: CHALLENGE, SCEP_WORKERS: "2", SCEP_KEY_WORKERS: "0", SCEP_KEEP_ALIVE_TIMEOUT_MS: "60000" });
  proc = started.proc;
  port = started.listening.port;
  caPath = started.listening.caCertificate;
  workers = (started.listening as unknown as { workers: { worker: number; pid: number }[] }).workers;
  keys = await generateRsaKeyPair(2048);
}, 60_000);
afterAll(async () => {
  for (const w of workers ?? []) {
    try {
      process.kill(w.pid, "SIGCONT");
    } catch {
      /* gone */
    }
  }
  await proc?.terminate();
  rmSync(tmp, { recursive: true, force: true });
});

/** One HTTP request; on a connection of its own unless `agent` is given. */
function http(method: string, path: string, options: { agent?: Agent; body?: Uint8Array } = {}): Promise<{ status: number; headers: IncomingHttpHeaders; body: Buffer; ms: number }> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, method, path, agent: options.agent ?? false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c)).on("end", () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks), ms: performance.now() - t0 }));
    });
    req.on("error", reject).end(options.body);
  });
}

/** The scep event lines the workers wrote (one per SCEP request). */
const scepEvents = (): { worker: number; operation: string }[] =>
  proc.events("scep") as { worker: number; operation: string }[];

/** Waits until `n` scep event lines were written (they are flushed once per event-loop turn, after the answer). */
async function untilEvents(n: number): Promise<{ worker: number; operation: string }[]> {
  const deadline = Date.now() + 30_000;
  while (scepEvents().length < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  return scepEvents();
}

async function enroll(i: number): Promise<string> {
  const ca = Certificate.from(readFileSync(caPath, "utf8"));
  const subject = `CN=metrics-workers-${i}`;
  const csr = await generateCsr({ keys, subject, challengePassword: CHALLENGE });
  const signer = await createSelfSignedSigner({ keys, subject });
  const req = await buildPkcsReq({ csr, signer, recipient: ca });
  const res = await http("POST", "/scep?operation=PKIOperation", { body: req.der });
  return (await readCertRep(new Uint8Array(res.body), { decrypter: signer, caCertificates: [ca], request: req })).status;
}

interface Scrape {
  enrollments: number;
  getCaCaps: number;
  reporting: number;
  workers: number;
  caExpirySeries: number;
  ms: number;
}

/** Scrapes `/metrics` and sums the series: every enrollment counted, every GetCACaps in the duration histogram. */
async function scrape(agent?: Agent): Promise<Scrape> {
  const res = await http("GET", "/metrics", agent ? { agent } : {});
  const text = res.body.toString("utf8");
  expect(res.status, text).toBe(200);
  const values = (re: RegExp): number[] => [...text.matchAll(re)].map((m) => Number(m[1]));
  const sum = (re: RegExp): number => values(re).reduce((a, b) => a + b, 0);
  return {
    enrollments: sum(/^scep_server_enrollments_total\{[^}]*\} (\S+)$/gm),
    getCaCaps: sum(/^scep_server_request_duration_count\{[^}]*scep_operation="GetCACaps"[^}]*\} (\S+)$/gm),
    reporting: sum(/^scep_metrics_workers_reporting\{[^}]*\} (\S+)$/gm),
    workers: sum(/^scep_metrics_workers\{[^}]*\} (\S+)$/gm),
    caExpirySeries: values(/^scep_certificate_time_to_expiry\{[^}]*scep_certificate_role="ca"[^}]*\} (\S+)$/gm).length,
    ms: res.ms,
  };
}

/** `n` scrapes one after another, each on its own connection (the primary hands them to the workers in turn). */
async function scrapes(n: number): Promise<Scrape[]> {
  const out: Scrape[] = [];
  for (let i = 0; i < n; i++) out.push(await scrape());
  return out;
}

const totals = (s: Scrape[]): [number, number][] => s.map((x) => [x.enrollments, x.getCaCaps]);

describe("--workers 2: /metrics shows the whole server", () => {
  let caps = 0;

  it("every scrape, on either worker, shows every enrollment and every GetCACaps of both workers, once", async () => {
    const statuses: string[] = [];
    for (let i = 0; i < 4; i++) statuses.push(await enroll(i));
    expect(statuses).toEqual(["SUCCESS", "SUCCESS", "SUCCESS", "SUCCESS"]);
    for (let i = 0; i < 10; i++) expect((await http("GET", "/scep?operation=GetCACaps")).status).toBe(200);
    caps = 10;
    const events = await untilEvents(14);
    // Both workers served some: each one alone would show fewer than the totals.
    expect(new Set(events.map((e) => e.worker))).toEqual(new Set([1, 2]));
    const seen = await scrapes(12);
    expect(totals(seen)).toEqual(seen.map(() => [4, caps]));
    expect(seen.map((s) => [s.reporting, s.workers])).toEqual(seen.map(() => [2, 2]));
    // The CA's days to expiry: one series, not one per worker.
    expect(seen.map((s) => s.caExpirySeries)).toEqual(seen.map(() => 1));
    // RFC 9110 §9.3.2: a HEAD scrape carries the Content-Length a GET would, and no content.
    const get = await http("GET", "/metrics");
    expect(get.headers["content-length"]).toBe(String(get.body.length));
    const head = await http("HEAD", "/metrics");
    expect([head.status, head.headers["content-type"], head.headers["content-length"], head.body.length]).toEqual([200, "text/plain; version=0.0.4; charset=utf-8", expect.stringMatching(/^[1-9]\d*$/), 0]);
  }, 120_000);

  it("a worker killed (kill -9) and restarted leaves its counts in the totals: they never go back", async () => {
    const victim = workers[0]!;
    process.kill(victim.pid, "SIGKILL");
    await proc.waitForJson("worker-exit", (e) => e.pid === victim.pid);
    const again = await proc.waitForJson("worker-listening", (e) => e.worker === victim.worker && e.pid !== victim.pid);
    workers = [{ worker: victim.worker, pid: again.pid as number }, workers[1]!];
    const before = await scrapes(8);
    expect(totals(before)).toEqual(before.map(() => [4, caps]));
    const had = scepEvents().length;
    for (let i = 0; i < 6; i++) expect((await http("GET", "/scep?operation=GetCACaps")).status).toBe(200);
    caps += 6;
    await untilEvents(had + 6);
    const after = await scrapes(8);
    expect(totals(after)).toEqual(after.map(() => [4, caps]));
    expect(after.map((s) => s.reporting)).toEqual(after.map(() => 2));
  }, 120_000);

  it("a worker that does not answer (SIGSTOP) does not hang the scrape: answered after the bound, its last counts kept", async () => {
    // One keep-alive connection, and which worker serves it: its GetCACaps event line names the worker.
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const had = scepEvents().length;
      expect((await http("GET", "/scep?operation=GetCACaps", { agent })).status).toBe(200);
      caps += 1;
      const served = (await untilEvents(had + 1))[had]!.worker;
      const other = workers.find((w) => w.worker !== served)!;
      expect((await scrape(agent)).getCaCaps).toBe(caps); // both answered: the kept numbers are current
      process.kill(other.pid, "SIGSTOP");
      try {
        const stalled = await scrape(agent);
        expect([stalled.enrollments, stalled.getCaCaps, stalled.reporting, stalled.workers]).toEqual([4, caps, 1, 2]);
        expect(stalled.ms).toBeGreaterThanOrEqual(METRICS_COLLECT_TIMEOUT_MS - 50);
        expect(stalled.ms).toBeLessThan(METRICS_COLLECT_TIMEOUT_MS + 5_000);
        // Still the same connection, on the same worker.
        const before = scepEvents().length;
        expect((await http("GET", "/scep?operation=GetCACaps", { agent })).status).toBe(200);
        caps += 1;
        expect((await untilEvents(before + 1))[before]!.worker).toBe(served);
      } finally {
        process.kill(other.pid, "SIGCONT");
      }
      const resumed = await scrape(agent);
      expect([resumed.enrollments, resumed.getCaCaps, resumed.reporting]).toEqual([4, caps, 2]);
    } finally {
      agent.destroy();
    }
  }, 60_000);

  it("a primary that does not answer (SIGSTOP): the scrape gets 503 after 3 s, never one worker's numbers; 200 again once it runs", async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      expect((await scrape(agent)).getCaCaps).toBe(caps); // the connection is open (to a worker) before the primary stops
      process.kill(proc.child.pid!, "SIGSTOP");
      let res: Awaited<ReturnType<typeof http>>;
      try {
        res = await http("GET", "/metrics", { agent });
      } finally {
        process.kill(proc.child.pid!, "SIGCONT");
      }
      expect([res.status, res.body.toString()]).toEqual([503, "metrics unavailable: the cluster primary did not answer\n"]);
      expect([res.headers["retry-after"], res.headers["content-length"]]).toEqual(["1", String(res.body.length)]);
      expect(res.ms).toBeGreaterThanOrEqual(METRICS_COLLECT_TIMEOUT_MS + 1_000 - 50);
      const after = await scrape(agent);
      expect([after.enrollments, after.getCaCaps, after.reporting]).toEqual([4, caps, 2]);
    } finally {
      agent.destroy();
    }
  }, 60_000);
});
