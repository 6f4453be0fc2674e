/**
 * What the benchmarks in this directory share: the keep-alive node:http load
 * generator that POSTs PKIOperation bodies, the CPU time of a process read
 * from /proc (Linux), and starting an example server on a free port.
 *
 * @module
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import * as http from "node:http";
import { join, relative } from "node:path";
import { bundledExampleEntry } from "../../server-kit/test/support/example-process.js";

const CLOCK_TICKS = 100; // USER_HZ: 100 on every Linux this runs on (`getconf CLK_TCK`)

/** User + system CPU time of processes (all their threads), in ms. Throws when a process is gone. */
export function cpuMsOf(pids: readonly number[]): number {
  let ms = 0;
  for (const pid of pids) {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the parenthesised command: state is field 3, utime 14, stime 15.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    ms += ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
  }
  return ms;
}

/** One reply: the body of an HTTP 200, else why there was none. */
export type Raw = { ok: true; body: Uint8Array } | { ok: false; reason: string };

/** POSTs one body (`application/x-pki-message`) through `agent`; never rejects. */
export function postPkiMessage(agent: http.Agent, target: URL, body: Uint8Array): Promise<Raw> {
  return new Promise((resolve) => {
    const req = http.request(
      { agent, host: target.hostname, port: target.port, path: target.pathname + target.search, method: "POST", headers: { "content-type": "application/x-pki-message", "content-length": body.length } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve(res.statusCode === 200 ? { ok: true, body: new Uint8Array(Buffer.concat(chunks)) } : { ok: false, reason: `HTTP ${res.statusCode}` }));
        res.on("error", (e) => resolve({ ok: false, reason: `network: ${e.message}` }));
      },
    );
    req.on("error", (e) => resolve({ ok: false, reason: `network: ${e.message}` }));
    req.end(body);
  });
}

/**
 * POSTs every body (`application/x-pki-message`) to `url` with `concurrency` requests in flight over
 * `concurrency` keep-alive connections; the replies in the order of `bodies`. node:http rather than fetch:
 * the load generator shares the cores with the server under test, and undici's fetch costs ~1.9 ms of CPU
 * a request, which would dilute the comparison.
 */
export async function postAll(url: string, bodies: readonly Uint8Array[], concurrency: number): Promise<Raw[]> {
  const target = new URL(url);
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const post = (body: Uint8Array): Promise<Raw> => postPkiMessage(agent, target, body);
  const out: Raw[] = new Array<Raw>(bodies.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < bodies.length; i = next++) out[i] = await post(bodies[i]!);
  };
  try {
    await Promise.all(Array.from({ length: Math.min(concurrency, bodies.length) }, worker));
  } finally {
    agent.destroy();
  }
  return out;
}

/** Sends a signal to a child's whole process group (it was spawned detached); quiet when it is gone. */
export function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
}

const servers = new Set<ChildProcess>();
// Whatever way the bench ends, no server it started outlives it.
process.once("exit", () => {
  for (const child of servers) killGroup(child, "SIGKILL");
});

/**
 * Our example server as `pnpm start` runs it: `examples/<example>-server/src/main.ts` bundled by
 * scripts/bundle-example.mjs into `examples/<example>-server/dist/main.mjs` (through the example tests'
 * `bundledExampleEntry`), run by plain `node`. Returns the entry (relative to `repo`), the node arguments and the
 * environment to add for {@link startNodeServer}. `override` (a `BENCH_ENTRY`) runs that script instead: a `.ts` one
 * under tsx (`--import tsx`, resolved from `repo`) with the example's tsconfig (`TSX_TSCONFIG_PATH`: `@scep/*` from
 * `packages/*\/src`, as the bundle and the `pnpm start` of the sessions before 2026-12-06 16:30 took them), anything
 * else as it is.
 */
export function ourServerEntry(repo: string, example: string, override?: string): { entry: string; nodeArgs: string[]; env: Record<string, string> } {
  if (override && /\.[cm]?ts$/.test(override)) {
    return { entry: override, nodeArgs: ["--import", "tsx"], env: { TSX_TSCONFIG_PATH: join(repo, `examples/${example}-server/tsconfig.json`) } };
  }
  if (override) return { entry: override, nodeArgs: [], env: {} };
  return { entry: relative(repo, bundledExampleEntry(`${example}-server`)), nodeArgs: [], env: {} };
}

/** {@link bundleFile} of scripts/bundle-example.mjs: `entry` (a `.ts` path) bundled into `outfile` for plain `node`. */
export function bundleScript(repo: string, entry: string, outfile: string): string {
  execFileSync(process.execPath, [join(repo, "scripts/bundle-example.mjs"), "--file", entry, outfile], { stdio: "inherit" });
  return outfile;
}

/** A Node server started by {@link startNodeServer}. */
export interface NodeServer {
  child: ChildProcess;
  pid: number;
  /** The port from its `{"type":"listening","port":…}` line. */
  port: number;
  /** SIGTERM to its process group (graceful: `--cpu-prof` writes its profile on exit), SIGKILL after 15 s. */
  stop(): Promise<void>;
}

/**
 * Runs `node [nodeArgs] entry` (an example server) detached in its own process group, and resolves with the port
 * once it prints its JSON `listening` line (stdout is drained afterwards: the per-request event lines). With `ipc`
 * the child gets an IPC channel (`process.send` / `"message"`). Rejects with its stderr when it exits first.
 */
export async function startNodeServer(options: { entry: string; cwd: string; env: NodeJS.ProcessEnv; nodeArgs?: readonly string[]; ipc?: boolean }): Promise<NodeServer> {
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), options.entry], {
    cwd: options.cwd,
    env: options.env,
    detached: true,
    stdio: options.ipc ? ["ignore", "pipe", "pipe", "ipc"] : ["ignore", "pipe", "pipe"],
  });
  servers.add(child);
  let stderr = "";
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  const exited = new Promise<void>((done) => child.once("exit", () => done()));
  const port = await new Promise<number>((resolve, reject) => {
    let partial = "";
    const onData = (chunk: string): void => {
      const lines = (partial + chunk).split("\n");
      partial = lines.pop()!;
      for (const line of lines) {
        if (!line.startsWith('{"')) continue;
        const entry = JSON.parse(line) as { type?: string; port?: number };
        if (entry.type === "listening" && typeof entry.port === "number") {
          child.stdout!.off("data", onData);
          child.stdout!.resume(); // keep draining the per-request event lines
          resolve(entry.port);
          return;
        }
      }
    };
    child.stdout!.setEncoding("utf8").on("data", onData);
    void exited.then(() => reject(new Error(`${options.entry} exited before listening:\n${stderr}`)));
  });
  return {
    child,
    pid: child.pid!,
    port,
    async stop(): Promise<void> {
      killGroup(child, "SIGTERM");
      const timer = setTimeout(() => killGroup(child, "SIGKILL"), 15_000);
      await exited;
      clearTimeout(timer);
      servers.delete(child);
    },
  };
}
