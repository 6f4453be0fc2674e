/**
 * Debian's `redis-server` (7.0 on bookworm) as a private, throwaway store for
 * the shared-store tests (`@scep/redis`, the multi-replica example tests).
 *
 * Facts this module relies on:
 *
 * - `redis-server` takes its whole configuration as `--name value` arguments
 *   (no config file needed): `--port 0` disables TCP, `--unixsocket PATH`
 *   `--unixsocketperm 700` listens on a socket instead, `--bind 127.0.0.1`
 *   keeps it on loopback, `--save ""` and `--appendonly no` turn off RDB
 *   snapshots and the AOF (nothing is written to `--dir` then),
 *   `--daemonize no` keeps it in the foreground so the harness owns its
 *   process group.
 * - It answers the inline command `PING\r\n` with `+PONG\r\n` once it
 *   accepts commands (before that, while loading a dataset, with `-LOADING`).
 * - It exits at once with "Address already in use" when the port is taken
 *   (the harness then picks another port; a `restart()` must get the same
 *   port back and fails instead).
 * - SIGKILL is a crash: clients see ECONNRESET/ECONNREFUSED and whatever was
 *   not persisted is gone (with persistence on, `restart()` reloads the RDB
 *   or AOF from `--dir`).
 *
 * @module
 */
import { readFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { ensurePeer, freeStablePort, makeTempDir, PeerError, startDaemon, waitFor, type Daemon, type TempDir } from "./process";

/** Options for {@link startRedisServer}. */
export interface RedisServerOptions {
  /** Listen on a unix socket in a private temp dir instead of a loopback TCP port. */
  unixSocket?: boolean;
  /**
   * Persistence, for tests that crash Redis and expect the data back:
   * `"aof"` = `--appendonly yes --appendfsync always` (every write is on disk
   * before it is acknowledged). Default `"none"`: `--save "" --appendonly no`.
   */
  persistence?: "none" | "aof";
  /**
   * Run as a one-node Redis Cluster (`--cluster-enabled yes`, all 16384 slots
   * assigned to this node): connect with ioredis' `Cluster`, and the server
   * refuses any command or script whose keys span slots (CROSSSLOT), exactly
   * as a real cluster does.
   */
  cluster?: boolean;
  /** Extra `--name value` arguments passed through, e.g. `["--maxmemory", "64mb"]`. */
  args?: readonly string[];
  /** How long to wait for `+PONG` after start (default 10 s). */
  startTimeoutMs?: number;
}

/** A running private redis-server owned by one test file. */
export interface RedisServer {
  /** `redis://127.0.0.1:<port>`, or `unix://<socket path>` with `unixSocket`; `connection` is the ioredis form. */
  readonly url: string;
  /** ioredis connection options for this server: `{ host, port }` or `{ path }`. */
  readonly connection: { host: string; port: number } | { path: string };
  /** The TCP port (0 with `unixSocket`). */
  readonly port: number;
  /** The unix socket path, when listening on one. */
  readonly socketPath: string | undefined;
  /** The data directory (`--dir`). */
  readonly dir: string;
  /** PID of the current redis-server process. */
  pid(): number;
  /** Everything the current process printed. */
  output(): string;
  /** True while the current process is alive. */
  running(): boolean;
  /** Sends an inline command (e.g. `"INFO commandstats"`) and resolves with the whole reply text. */
  command(line: string): Promise<string>;
  /**
   * SIGSTOP: Redis hangs (accepts connections, answers nothing) until `resume()`. Resolves once the process is
   * really stopped (state T in /proc/<pid>/stat), so a command sent next cannot slip through before it stops.
   */
  pause(): Promise<void>;
  /** SIGCONT after `pause()`. */
  resume(): void;
  /** SIGKILL, as a crash: resolves once the process is gone. The dir and port are kept for `restart()`. */
  kill(): Promise<void>;
  /** Starts redis-server again on the same port/socket and dir (after `kill()` or `stop()`); resolves once it answers PING. */
  restart(): Promise<void>;
  /** SIGTERM (SIGKILL after 3 s) and removal of the temp dir. Idempotent. */
  stop(): Promise<void>;
}

const ADDRESS_IN_USE = /Address already in use|bind: .*in use|Could not create server TCP listening socket/i;

type Connection = { host: string; port: number } | { path: string };

/** Bound on one setup command that must succeed (CLUSTER INFO, ADDSLOTSRANGE): far above a loaded machine's stalls. */
const COMMAND_TIMEOUT_MS = 15_000;

/**
 * Sends one inline command and resolves with the reply: the first line for a
 * status, error or integer reply, the payload of a bulk string (`INFO`).
 */
export function redisInline(connection: Connection, line: string, timeoutMs = 1_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = "path" in connection ? connect(connection.path) : connect(connection.port, connection.host);
    let data = "";
    const done = (error: Error | undefined, reply?: string): void => {
      socket.destroy();
      if (error) reject(error);
      else resolve(reply ?? "");
    };
    socket.setTimeout(timeoutMs, () => done(new Error(`${line.split(" ")[0]} timed out`)));
    socket.once("error", (e) => done(e));
    socket.once("connect", () => socket.write(`${line}\r\n`));
    socket.on("data", (chunk: Buffer) => {
      data += chunk.toString("latin1");
      const end = data.indexOf("\r\n");
      if (end < 0) return;
      if (data[0] !== "$") return done(undefined, data.slice(0, end));
      const length = Number(data.slice(1, end));
      if (length < 0) return done(undefined, "");
      if (data.length >= end + 2 + length) done(undefined, data.slice(end + 2, end + 2 + length));
    });
  });
}

/** Sends an inline PING and resolves with the first reply line (`+PONG`), or rejects on error/timeout. */
export function redisPing(connection: Connection, timeoutMs = 1_000): Promise<string> {
  return redisInline(connection, "PING", timeoutMs);
}

/**
 * Starts a private `redis-server` on a free loopback port (or a unix socket in
 * a temp dir), without persistence unless asked, and waits until it answers
 * PING. Throws (never skips) when `redis-server` is not installed.
 *
 * @example
 * ```ts
 * const redis = await startRedisServer();
 * const client = new Redis({ ...redis.connection, lazyConnect: true });
 * try { ... await redis.kill(); ... await redis.restart(); } finally { client.disconnect(); await redis.stop(); }
 * ```
 */
export async function startRedisServer(options: RedisServerOptions = {}): Promise<RedisServer> {
  const binary = ensurePeer("redis-server");
  const tmp: TempDir = makeTempDir("scep-redis-");
  const socketPath = options.unixSocket ? join(tmp.path, "redis.sock") : undefined;
  const persistence = options.persistence ?? "none";
  const persistArgs =
    persistence === "aof"
      ? ["--save", "", "--appendonly", "yes", "--appendfsync", "always"]
      : ["--save", "", "--appendonly", "no"];
  const startTimeoutMs = options.startTimeoutMs ?? 10_000;
  let port = 0;
  let daemon: Daemon | undefined;
  let stopped = false;

  const argsFor = (p: number): string[] => [
    ...(socketPath ? ["--port", "0", "--unixsocket", socketPath, "--unixsocketperm", "700"] : ["--port", String(p), "--bind", "127.0.0.1"]),
    "--dir",
    tmp.path,
    "--daemonize",
    "no",
    "--protected-mode",
    "yes",
    "--loglevel",
    "warning",
    "--logfile",
    "",
    ...(options.cluster
      ? ["--cluster-enabled", "yes", "--cluster-config-file", join(tmp.path, "nodes.conf"), "--cluster-announce-ip", "127.0.0.1"]
      : ["--databases", "1"]),
    ...persistArgs,
    ...(options.args ?? []),
  ];
  const connection = (): Connection =>
    socketPath ? { path: socketPath } : { host: "127.0.0.1", port };

  /**
   * Gives this node every slot (once; nodes.conf keeps them across restarts) and waits for cluster_state:ok. These
   * commands must succeed on a server that has just answered PING: each gets COMMAND_TIMEOUT_MS, not redisInline's
   * 1 s default, which a test process starved of CPU for a second overshoots (its timer then fires before the
   * waiting reply is read) and the whole start failed.
   */
  const clusterReady = async (): Promise<void> => {
    const info = await redisInline(connection(), "CLUSTER INFO", COMMAND_TIMEOUT_MS);
    if (/cluster_slots_assigned:0\b/.test(info)) {
      const reply = await redisInline(connection(), "CLUSTER ADDSLOTSRANGE 0 16383", COMMAND_TIMEOUT_MS);
      if (reply !== "+OK") throw new PeerError(`redis-server: CLUSTER ADDSLOTSRANGE answered ${reply}`);
    }
    await waitFor(async () => (/cluster_state:ok/.test(await redisInline(connection(), "CLUSTER INFO", COMMAND_TIMEOUT_MS)) ? true : undefined), {
      timeoutMs: startTimeoutMs,
      what: "the one-node Redis Cluster to report cluster_state:ok",
    });
  };

  /** One attempt: spawn, wait for PONG; reports "in-use" when the port was taken. */
  const launch = async (p: number): Promise<"ok" | "in-use"> => {
    const d = startDaemon(binary, argsFor(p), { cwd: tmp.path });
    daemon = d;
    port = p;
    try {
      await waitFor(async () => ((await redisPing(connection(), 500)) === "+PONG" ? true : undefined), {
        timeoutMs: startTimeoutMs,
        what: `redis-server on ${socketPath ?? `127.0.0.1:${p}`} to answer PING`,
        abort: () => (d.hasExited() ? `redis-server exited:\n${d.output()}` : undefined),
      });
      if (options.cluster) await clusterReady();
      return "ok";
    } catch (error) {
      await d.stop(500);
      if (ADDRESS_IN_USE.test(d.output())) return "in-use";
      throw error;
    }
  };

  try {
    for (let attempt = 0; ; attempt++) {
      // Below the ephemeral range: restart() needs this port back, and no outgoing connection can take it meanwhile.
      const result = await launch(socketPath ? 0 : await freeStablePort());
      if (result === "ok") break;
      if (attempt >= 4) throw new PeerError("redis-server: could not find a free loopback port in 5 attempts");
    }
  } catch (error) {
    tmp.remove();
    throw error;
  }

  const current = (): Daemon => daemon!;
  return {
    get url(): string {
      return socketPath ? `unix://${socketPath}` : `redis://127.0.0.1:${port}`;
    },
    get connection() {
      return connection();
    },
    get port(): number {
      return port;
    },
    socketPath,
    dir: tmp.path,
    pid: () => current().pid,
    output: () => current().output(),
    running: () => !current().hasExited(),
    command: (line: string) => redisInline(connection(), line, 5_000),
    async pause(): Promise<void> {
      const pid = current().pid;
      process.kill(pid, "SIGSTOP");
      const until = Date.now() + 30_000;
      // The state is the field after the command name, which is in parentheses and may hold spaces.
      const state = (): string | undefined => {
        try {
          return /\) (\S)/.exec(readFileSync(`/proc/${pid}/stat`, "utf8"))?.[1];
        } catch {
          return undefined;
        }
      };
      while (state() !== "T") {
        if (Date.now() > until) throw new Error(`redis-server ${pid} did not stop within 30 s of SIGSTOP`);
        await new Promise((r) => setTimeout(r, 5));
      }
    },
    resume(): void {
      process.kill(current().pid, "SIGCONT");
    },
    async kill(): Promise<void> {
      const d = current();
      if (d.hasExited()) return;
      try {
        process.kill(-d.pid, "SIGKILL");
      } catch {
        // already gone
      }
      await d.exited;
    },
    async restart(): Promise<void> {
      if (stopped) throw new PeerError("redis-server: restart() after stop()");
      if (!current().hasExited()) throw new PeerError("redis-server: restart() while it is still running (kill() it first)");
      const result = await launch(port);
      if (result === "in-use") throw new PeerError(`redis-server: port ${port} was taken by another process while Redis was down`);
    },
    async stop(): Promise<void> {
      if (stopped) return;
      stopped = true;
      try {
        process.kill(current().pid, "SIGCONT");
      } catch {
        // already gone
      }
      await current().stop(3_000);
      tmp.remove();
    },
  };
}
