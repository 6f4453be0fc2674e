/**
 * The load and crash scenarios of issue 12 (items 5 and 6) against the
 * Express example server as child processes (`node dist/main.mjs`, the bundle
 * `pnpm start` runs, as users run it): one process, or two replicas on one data directory and
 * one real redis-server. Used by `pnpm stress:load` / `pnpm stress:crash`
 * (thousands of enrollments) and by the suite's small variant.
 *
 * @module
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Certificate } from "@scep/core";
import { startRedisServer, type RedisServer } from "../../../test-support/peers.js";
import { startExample, type ExampleProcess } from "../../server-kit/test/support/example-process.js";
import { checkIndex, latencySummary, makeKeys, runLoad, type IndexCheck, type LoadResult } from "./enrollment-load.js";

const EXAMPLE_DIR = fileURLToPath(new URL("../../express-server/", import.meta.url));
const CHALLENGE = "stress-challenge";

interface Replica {
  proc: ExampleProcess;
  base: string;
}

/** The figures a scenario reports (scripts print them, tests assert them). */
export interface ScenarioReport {
  scenario: string;
  replicas: number;
  enrollments: number;
  concurrency: number;
  issued: number;
  failures: LoadResult["failures"];
  /** Network errors retried as new enrollments (crash scenarios: requests in flight at the kill). */
  retried: number;
  /** Enrollments per second over the whole run (crash scenarios: including the restart). */
  perSecond: number;
  latencyMs: { p50: number; p99: number; max: number };
  index: IndexCheck;
  /** Crash scenarios: enrollments finished when the server was killed, and how many after its restart. */
  killedAfter?: number;
  issuedAfterRestart?: number;
}

/** A private data directory, the servers and (for replicas) a redis-server; `close()` stops and removes all. */
async function setUp(replicas: 1 | 2): Promise<{ dataDir: string; env: Record<string, string>; servers: Replica[]; redis: RedisServer | undefined; close(): Promise<void> }> {
  const tmp = mkdtempSync(join(tmpdir(), "scep-stress-"));
  const dataDir = join(tmp, "data");
  const redis = replicas === 2 ? await startRedisServer() : undefined;
  // Generous limits: the load itself must not be refused or timed out.
  const env: Record<string, string> = { SCEP_DATA_DIR: dataDir, SCEP_CHALLENGE: CHALLENGE, SCEP_MAX_IN_FLIGHT: "10000", ...(redis ? { SCEP_REDIS_URL: redis.url } : {}) };
  const servers: Replica[] = [];
  // The first creates the CA; the second (replica) reads it.
  for (let i = 0; i < replicas; i++) {
    const s = await startExample(EXAMPLE_DIR, env);
    servers.push({ proc: s.proc, base: s.base });
  }
  return {
    dataDir,
    env,
    servers,
    redis,
    async close() {
      await Promise.all(servers.map((s) => s.proc.terminate()));
      await redis?.stop();
      rmSync(tmp, { recursive: true, force: true });
    },
  };
}

function report(scenario: string, replicas: number, total: number, concurrency: number, r: LoadResult, index: IndexCheck): ScenarioReport {
  return {
    scenario,
    replicas,
    enrollments: total,
    concurrency,
    issued: r.issued.length,
    failures: r.failures,
    retried: r.retried,
    perSecond: Math.round((r.issued.length / (r.elapsedMs / 1000)) * 10) / 10,
    latencyMs: latencySummary(r.latenciesMs),
    index,
  };
}

/** Item 5: `total` distinct enrollments from `concurrency` clients against one process or two replicas on Redis. */
export async function loadScenario(o: { replicas: 1 | 2; total: number; concurrency: number }): Promise<ScenarioReport> {
  const env = await setUp(o.replicas);
  try {
    const ca = Certificate.from(readFileSync(join(env.dataDir, "ca.pem"), "utf8"));
    const r = await runLoad({ targets: () => env.servers.map((s) => s.base), ca, challenge: CHALLENGE, total: o.total, concurrency: o.concurrency, prefix: `load${o.replicas}`, keys: await makeKeys(4) });
    return report(o.replicas === 1 ? "load, one process" : "load, two replicas on one redis-server", o.replicas, o.total, o.concurrency, r, checkIndex(env.dataDir, r.issued));
  } finally {
    await env.close();
  }
}

/**
 * Item 6: the same load, and once `killAfter` enrollments have finished, `kill -9` of the (first) process; it is
 * restarted on the same data directory while the clients re-send their lost requests as they were (on the
 * other replica, or on the restarted process once it listens).
 */
export async function crashScenario(o: { replicas: 1 | 2; total: number; concurrency: number; killAfter: number; afterRestart: number }): Promise<ScenarioReport> {
  const env = await setUp(o.replicas);
  try {
    const ca = Certificate.from(readFileSync(join(env.dataDir, "ca.pem"), "utf8"));
    let restarting: Promise<void> | undefined;
    let killedAt = 0;
    let restarted: Replica | undefined;
    const victim = env.servers[0]!;
    const r = await runLoad({
      targets: async () => {
        if (restarting && o.replicas === 1) await restarting;
        return env.servers.map((s) => s.base);
      },
      ca,
      challenge: CHALLENGE,
      total: o.total,
      concurrency: o.concurrency,
      prefix: `crash${o.replicas}`,
      keys: await makeKeys(4),
      retries: 20,
      onProgress: (done) => {
        if (done !== o.killAfter || restarting) return;
        killedAt = done;
        restarting = (async () => {
          victim.proc.child.kill("SIGKILL");
          await victim.proc.exited;
          // The other replica serves alone meanwhile; a single process is waited for (see targets).
          if (o.replicas === 2) env.servers.splice(env.servers.indexOf(victim), 1);
          const s = await startExample(EXAMPLE_DIR, env.env);
          restarted = { proc: s.proc, base: s.base };
          if (o.replicas === 2) env.servers.push(restarted);
          else env.servers[0] = restarted;
        })();
      },
    });
    await restarting;
    // Then the restarted process alone: it issues on from the same data directory.
    const after = await runLoad({ targets: () => [restarted!.base], ca, challenge: CHALLENGE, total: o.afterRestart, concurrency: o.concurrency, prefix: `after${o.replicas}`, keys: await makeKeys(1) });
    const all: LoadResult = { ...r, issued: [...r.issued, ...after.issued], failures: [...r.failures, ...after.failures], latenciesMs: r.latenciesMs };
    const out = report(o.replicas === 1 ? "kill -9 mid-load, one process" : "kill -9 of one of two replicas mid-load", o.replicas, o.total + o.afterRestart, o.concurrency, all, checkIndex(env.dataDir, all.issued));
    return { ...out, killedAfter: killedAt, issuedAfterRestart: after.issued.length };
  } finally {
    await env.close();
  }
}

/** The problems of a load report (empty: it holds). */
export function loadProblems(r: ScenarioReport, expected: number, exactIndex: boolean): string[] {
  const p: string[] = [];
  if (r.failures.length) p.push(`${r.failures.length} failed enrollments, first: ${r.failures[0]!.subject}: ${r.failures[0]!.reason}`);
  if (r.issued !== expected) p.push(`${r.issued} certificates received, expected ${expected}`);
  if (r.index.skippedLines) p.push(`${r.index.skippedLines} torn index lines`);
  if (r.index.duplicateSerials.length) p.push(`serials twice in the index: ${r.index.duplicateSerials.slice(0, 3).join(", ")}`);
  if (r.index.duplicateReceived.length) p.push(`serials received twice: ${r.index.duplicateReceived.slice(0, 3).join(", ")}`);
  if (r.index.missing.length) p.push(`${r.index.missing.length} received certificates not in the index`);
  if (!r.index.caFilesIntact) p.push("CA files do not parse");
  if (exactIndex ? r.index.records !== expected : r.index.records < expected) p.push(`index holds ${r.index.records} records for ${expected} certificates`);
  return p;
}

/** The JSON line the stress scripts print for a report: its figures, with the lists counted, and its problems. */
export function reportLine(r: ScenarioReport, problems: readonly string[]): string {
  return JSON.stringify({ ...r, failures: r.failures.length, index: { ...r.index, duplicateSerials: r.index.duplicateSerials.length, duplicateReceived: r.index.duplicateReceived.length, missing: r.index.missing.length }, problems });
}
