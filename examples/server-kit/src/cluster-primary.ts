// The node:cluster primary of `--workers N`: forks the workers, restarts one that dies, stops them all on SIGINT/SIGTERM,
// passes SIGHUP (reload) on to them.
import cluster, { type Worker } from "node:cluster";
import { ClusterMetricsAggregator } from "./cluster-metrics.js";

/** Environment variable that tells a forked process which worker slot (1..N) it fills. */
export const WORKER_SLOT_ENV = "SCEP_KIT_WORKER";

/** IPC message from the primary: stop like on SIGTERM (finish in-flight requests, exit 0). */
export const SHUTDOWN_MESSAGE = "scep-kit:shutdown";

/** IPC message from a worker that cannot start: `{ type, message }`, message a one-line reason (port taken, a configuration it refuses, …). */
export const LISTEN_FAILED_MESSAGE = "scep-kit:listen-failed";

/** This process's worker slot when it is a worker of {@link runClusterPrimary}, else undefined. */
export const workerSlot: number | undefined = cluster.isWorker && process.env[WORKER_SLOT_ENV] ? Number(process.env[WORKER_SLOT_ENV]) : undefined;

/** A worker that ran at least this long before dying is restarted after the shortest delay again. */
const STABLE_MS = 30_000;

/** Delay before restarting a worker after its `crashes`-th quick death in a row: 100 ms, 200 ms, 400 ms, … at most 30 s. */
export function restartDelayMs(crashes: number): number {
  return Math.min(30_000, 100 * 2 ** Math.min(Math.max(crashes, 1) - 1, 16));
}

interface Slot {
  slot: number;
  worker: Worker | undefined;
  listening: boolean;
  startedAt: number;
  crashes: number;
  restart: NodeJS.Timeout | undefined;
}

export interface ClusterPrimaryOptions {
  /** Program name for stderr messages, e.g. `express-server`. */
  program: string;
  workers: number;
  /** Arguments of the workers' script (the primary's own flags). */
  args: readonly string[];
  /** Extra environment for the workers (the primary's environment is inherited). */
  env?: Record<string, string | undefined>;
  /** How long the workers get to finish in-flight requests on shutdown (they enforce it; the primary waits 5 s longer, then kills). */
  shutdownTimeoutMs: number;
  log(entry: Record<string, unknown>): void;
  /** Called once, when every worker listens: print the banner. */
  onListening(port: number, workers: { worker: number; pid: number }[]): void;
  /** Called (synchronously) before the primary exits because the workers could not start (never once they all listened): undo what the start created. */
  onStartFailed?(): void;
}

/**
 * Runs the cluster primary. The CA and the challenge must exist before this
 * is called, so that the workers only read them. Resolves never on success
 * (the process exits 0 after a signal); exits 2 with one line when a worker
 * cannot start (port taken, a configuration it refuses, …), 1 when a worker
 * dies otherwise before all of them listen; `onStartFailed` runs first.
 * Once every worker listened, a worker that dies or cannot start is
 * restarted after {@link restartDelayMs} (logged `worker-start-failed`,
 * `worker-exit`); the primary keeps running.
 */
export function runClusterPrimary(o: ClusterPrimaryOptions): void {
  const env = Object.fromEntries(Object.entries(o.env ?? {}).filter((e): e is [string, string] => e[1] !== undefined));
  cluster.setupPrimary({ args: [...o.args] });
  const slots: Slot[] = Array.from({ length: o.workers }, (_, i) => ({ slot: i + 1, worker: undefined, listening: false, startedAt: 0, crashes: 0, restart: undefined }));
  // `/metrics` of any worker shows the whole server's numbers: this primary merges every worker's (cluster-metrics.ts).
  const metrics = new ClusterMetricsAggregator({
    workers: o.workers,
    live: () => slots.flatMap((s) => (s.listening && s.worker ? [{ slot: s.slot, worker: s.worker }] : [])),
  });
  let ready = false;
  let stopping: NodeJS.Signals | "startup failure" | "listen failure" | undefined;

  const finishIfDone = (): void => {
    if (!stopping || slots.some((s) => s.worker)) return;
    if (stopping === "startup failure" || stopping === "listen failure") o.onStartFailed?.();
    if (stopping === "startup failure") return void process.exit(1);
    if (stopping === "listen failure") return void process.exit(2);
    o.log({ type: "stopped" });
    process.exit(0);
  };

  const stopAll = (): void => {
    for (const s of slots) {
      clearTimeout(s.restart);
      const w = s.worker;
      if (!w) continue;
      // A listening worker stops gracefully; one still starting has nothing in flight (and no handler yet).
      if (s.listening && w.isConnected()) w.send(SHUTDOWN_MESSAGE, () => undefined);
      else w.process.kill("SIGTERM");
    }
    setTimeout(() => {
      for (const s of slots) s.worker?.process.kill("SIGKILL");
    }, o.shutdownTimeoutMs + 5_000).unref();
    finishIfDone();
  };

  const fork = (s: Slot): void => {
    s.restart = undefined;
    s.listening = false;
    s.startedAt = Date.now();
    const w = cluster.fork({ ...env, [WORKER_SLOT_ENV]: String(s.slot) });
    s.worker = w;
    const pid = w.process.pid;
    w.on("error", () => undefined); // IPC to a worker that is going away; its exit is handled below
    w.on("message", (m: { type?: unknown; message?: unknown }) => {
      if (s.worker === w && metrics.onMessage(s.slot, w, m)) return;
      if (m?.type !== LISTEN_FAILED_MESSAGE || stopping) return;
      // Once the cluster is up, a worker that cannot start (restarted after a crash, the file since edited badly) is
      // a crash like any other: logged, and restarted with backoff by its exit below. The cluster keeps serving, and
      // the challenge its devices use stays.
      if (ready) return void o.log({ type: "worker-start-failed", worker: s.slot, pid, message: String(m.message) });
      // One line for all workers (each would fail the same way), exit 2 like any configuration mistake.
      process.stderr.write(`${o.program}: ${String(m.message)}\n`);
      stopping = "listen failure";
      stopAll();
    });
    w.on("listening", (address) => {
      s.listening = true;
      o.log({ type: "worker-listening", worker: s.slot, pid });
      if (stopping) return void w.send(SHUTDOWN_MESSAGE, () => undefined);
      if (!ready && slots.every((x) => x.listening)) {
        ready = true;
        o.onListening(address.port, slots.map((x) => ({ worker: x.slot, pid: x.worker!.process.pid! })));
      }
    });
    w.on("exit", (code, signal) => {
      s.worker = undefined;
      s.listening = false;
      metrics.onExit(s.slot, pid); // its last counts stay in the totals; no scrape waits for it
      if (stopping) {
        o.log({ type: "worker-exit", worker: s.slot, pid, code, signal });
        return finishIfDone();
      }
      if (!ready) {
        o.log({ type: "worker-exit", worker: s.slot, pid, code, signal });
        process.stderr.write(`${o.program}: worker ${s.slot} exited (${signal ?? `code ${code}`}) before listening\n`);
        stopping = "startup failure";
        return stopAll();
      }
      s.crashes = Date.now() - s.startedAt >= STABLE_MS ? 1 : s.crashes + 1;
      const delay = restartDelayMs(s.crashes);
      o.log({ type: "worker-exit", worker: s.slot, pid, code, signal, restartInMs: delay });
      s.restart = setTimeout(() => fork(s), delay);
    });
  };

  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) return;
    stopping = signal;
    o.log({ type: "shutdown", signal });
    stopAll();
  };
  // Repeats are ignored (Ctrl-C pressed twice); `on`, so one always finds a listener.
  process.on("SIGINT", onSignal).on("SIGTERM", onSignal);
  // SIGHUP reloads: each listening worker reloads its own configuration (one still starting reads the new files anyway).
  process.on("SIGHUP", () => {
    if (stopping) return;
    o.log({ type: "reload", signal: "SIGHUP", workers: slots.filter((s) => s.listening).length });
    for (const s of slots) if (s.listening) s.worker?.process.kill("SIGHUP");
  });
  for (const s of slots) fork(s);
}
