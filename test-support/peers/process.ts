/**
 * Process plumbing for the real-peer harness: locating binaries, running a
 * command with a hard timeout, keeping a daemon alive for a test, temp dirs,
 * free ports and a tiny loopback HTTP client.
 *
 * Every child is spawned `detached`, so it leads its own process group; a
 * timeout or `stop()` signals the whole group (`kill(-pgid)`), which also
 * takes down whatever the peer forked (certmonger's helpers, for instance).
 * Anything still alive when the test process exits is SIGKILLed and every
 * temp dir still registered is removed, so a failing test leaves no orphans.
 *
 * @module
 */
import { spawn, type ChildProcess } from "node:child_process";
import { accessSync, constants as fsConstants, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { request as httpRequest, type IncomingHttpHeaders } from "node:http";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { delimiter, isAbsolute, join } from "node:path";

/** Default limit for one-shot commands. */
export const DEFAULT_TIMEOUT_MS = 60_000;

/** A command that ran to completion (or was killed on timeout). */
export interface RunResult {
  /** Exit status, or `null` when the process died from a signal. */
  code: number | null;
  signal: NodeJS.Signals | null;
  /** True when the harness killed the process group because it ran too long. */
  timedOut: boolean;
  /** stdout decoded as UTF-8 (use `stdoutBytes` for binary output). */
  stdout: string;
  stdoutBytes: Uint8Array;
  stderr: string;
  /** The command line, for error messages. */
  command: string;
}

/** Thrown when a peer command fails where the caller required success. */
export class PeerError extends Error {
  override readonly name = "PeerError";
  readonly result: RunResult | undefined;

  constructor(message: string, result?: RunResult, options?: { cause?: unknown }) {
    super(result ? `${message}\n${describeResult(result)}` : message, options);
    this.result = result;
  }
}

/** One line summary plus both output streams, for assertion messages. */
export function describeResult(result: RunResult): string {
  const how = result.timedOut
    ? "timed out and was killed"
    : result.signal
      ? `died from ${result.signal}`
      : `exited with ${String(result.code)}`;
  return [
    `$ ${result.command}`,
    `-> ${how}`,
    `--- stdout ---\n${result.stdout.trimEnd()}`,
    `--- stderr ---\n${result.stderr.trimEnd()}`,
  ].join("\n");
}

// ---------------------------------------------------------------------------
// Binaries
// ---------------------------------------------------------------------------

/** The peers this harness knows, with the Debian package that provides each. */
export const PEERS = {
  scepserver: { binary: "scepserver", pkg: "scep" },
  scepclient: { binary: "scepclient", pkg: "scep" },
  pki: { binary: "pki", pkg: "strongswan-pki" },
  "strongswan-curl": {
    binary: "/usr/lib/ipsec/plugins/libstrongswan-curl.so",
    pkg: "libstrongswan-extra-plugins",
  },
  "scep-submit": { binary: "/usr/lib/certmonger/scep-submit", pkg: "certmonger" },
  certmonger: { binary: "certmonger", pkg: "certmonger" },
  getcert: { binary: "getcert", pkg: "certmonger" },
  openssl: { binary: "openssl", pkg: "openssl" },
  unshare: { binary: "unshare", pkg: "util-linux" },
  "redis-server": { binary: "redis-server", pkg: "redis-server" },
} as const;

/** Name of a peer known to {@link ensurePeer}. */
export type PeerName = keyof typeof PEERS;

function isExecutable(file: string): boolean {
  try {
    accessSync(file, fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function isReadable(file: string): boolean {
  try {
    accessSync(file, fsConstants.R_OK);
    return true;
  } catch {
    return false;
  }
}

/** Resolves `name` on PATH and the sbin dirs (or checks an absolute path); `undefined` if absent. */
export function findBinary(name: string): string | undefined {
  if (isAbsolute(name)) return isExecutable(name) ? name : undefined;
  // sbin too: certmonger lives in /usr/sbin, which a non-root PATH may lack.
  const dirs = [...(process.env["PATH"] ?? "").split(delimiter), "/usr/local/sbin", "/usr/sbin", "/sbin"];
  for (const dir of dirs) {
    if (dir === "") continue;
    const candidate = join(dir, name);
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}

/**
 * Returns the absolute path of `name`, or throws. Tests call this (through the
 * peer helpers) so that a missing peer FAILS the test, never skips it.
 */
export function requireBinary(name: string, pkg?: string): string {
  const found = findBinary(name);
  if (found !== undefined) return found;
  const hint = pkg
    ? `Install the Debian package "${pkg}" (run \`node scripts/ensure-peers.mjs\` as root, or \`apt-get install -y ${pkg}\`).`
    : "Install it, or run `node scripts/ensure-peers.mjs` as root.";
  throw new Error(
    `Required peer binary "${name}" was not found (PATH=${process.env["PATH"] ?? ""}). ${hint}`,
  );
}

/**
 * Checks that a known peer is installed and returns its path. For `pki` it
 * also checks strongSwan's curl plugin (libstrongswan-extra-plugins), without
 * which `pki --scep` cannot fetch anything.
 */
export function ensurePeer(name: PeerName): string {
  const peer = PEERS[name];
  if (name === "strongswan-curl") {
    if (!isReadable(peer.binary)) {
      throw new Error(
        `strongSwan's curl fetcher plugin (${peer.binary}) is missing, so \`pki --scep\` cannot talk HTTP. ` +
          `Install "${peer.pkg}" (run \`node scripts/ensure-peers.mjs\` as root).`,
      );
    }
    return peer.binary;
  }
  const path = requireBinary(peer.binary, peer.pkg);
  if (name === "pki") ensurePeer("strongswan-curl");
  return path;
}

// ---------------------------------------------------------------------------
// Cleanup registry
// ---------------------------------------------------------------------------

const exitHooks = new Set<() => void>();
let exitHookInstalled = false;

function onProcessExit(hook: () => void): () => void {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once("exit", () => {
      for (const fn of exitHooks) {
        try {
          fn();
        } catch {
          // best effort: the process is going away
        }
      }
      exitHooks.clear();
    });
  }
  exitHooks.add(hook);
  return () => exitHooks.delete(hook);
}

function killGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}

// ---------------------------------------------------------------------------
// Temp dirs
// ---------------------------------------------------------------------------

/** A directory under `os.tmpdir()`, removed by `remove()` or at process exit. */
export interface TempDir {
  readonly path: string;
  remove(): void;
}

/** Creates a private temp dir (mode 0700) that is cleaned up even if a test throws. */
export function makeTempDir(prefix = "scep-peer-"): TempDir {
  const path = mkdtempSync(join(tmpdir(), prefix));
  const rm = (): void => rmSync(path, { recursive: true, force: true });
  const unregister = onProcessExit(rm);
  return {
    path,
    remove(): void {
      unregister();
      rm();
    },
  };
}

/** Runs `fn` with a fresh temp dir and removes it afterwards. */
export async function withTempDir<T>(fn: (dir: string) => Promise<T>, prefix?: string): Promise<T> {
  const dir = makeTempDir(prefix);
  try {
    return await fn(dir.path);
  } finally {
    dir.remove();
  }
}

// ---------------------------------------------------------------------------
// One-shot commands
// ---------------------------------------------------------------------------

/** Options for {@link runCommand}. */
export interface RunOptions {
  cwd?: string;
  /** Extra environment, merged over `process.env` (unless `replaceEnv`). */
  env?: Record<string, string | undefined>;
  replaceEnv?: boolean;
  /** Bytes or text written to stdin; stdin is /dev/null otherwise. */
  input?: string | Uint8Array;
  /** Hard limit; the process group is SIGKILLed when it passes. */
  timeoutMs?: number;
  /** Throw a {@link PeerError} unless the exit code is 0. */
  check?: boolean;
}

function quoteArg(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

function buildEnv(options: { env?: Record<string, string | undefined>; replaceEnv?: boolean }): NodeJS.ProcessEnv {
  const base: NodeJS.ProcessEnv = options.replaceEnv ? {} : { ...process.env };
  for (const [key, value] of Object.entries(options.env ?? {})) {
    if (value === undefined) delete base[key];
    else base[key] = value;
  }
  return base;
}

/**
 * Runs a command to completion in its own process group, collecting both
 * streams. Never rejects for a non-zero exit unless `check` is set; rejects
 * when the binary cannot be spawned at all.
 */
export function runCommand(file: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const command = [file, ...args].map(quoteArg).join(" ");
  return new Promise<RunResult>((resolve, reject) => {
    let child: ChildProcess;
    try {
      child = spawn(file, [...args], {
        cwd: options.cwd,
        env: buildEnv(options),
        detached: true,
        stdio: [options.input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
      });
    } catch (error) {
      reject(new PeerError(`could not spawn ${command}`, undefined, { cause: error }));
      return;
    }
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    const unregister = onProcessExit(() => killGroup(child.pid, "SIGKILL"));
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(child.pid, "SIGKILL");
    }, timeoutMs);

    child.stdout?.on("data", (chunk: Buffer) => out.push(chunk));
    child.stderr?.on("data", (chunk: Buffer) => err.push(chunk));
    child.once("error", (error) => {
      clearTimeout(timer);
      unregister();
      reject(new PeerError(`could not run ${command}: ${error.message}`, undefined, { cause: error }));
    });
    child.once("close", (code, signal) => {
      clearTimeout(timer);
      unregister();
      // The group may still hold grandchildren the peer left behind.
      killGroup(child.pid, "SIGKILL");
      const stdoutBuffer = Buffer.concat(out);
      const result: RunResult = {
        code,
        signal,
        timedOut,
        stdout: stdoutBuffer.toString("utf8"),
        stdoutBytes: new Uint8Array(stdoutBuffer),
        stderr: Buffer.concat(err).toString("utf8"),
        command,
      };
      if (options.check && (code !== 0 || timedOut)) {
        reject(new PeerError(`command failed`, result));
        return;
      }
      resolve(result);
    });
    if (options.input !== undefined && child.stdin) {
      child.stdin.on("error", () => {
        // the peer may exit before reading all its input; its status tells
      });
      child.stdin.end(typeof options.input === "string" ? options.input : Buffer.from(options.input));
    }
  });
}

// ---------------------------------------------------------------------------
// Daemons
// ---------------------------------------------------------------------------

/** A long-running peer process (a server or daemon) owned by one test. */
export interface Daemon {
  readonly pid: number;
  readonly command: string;
  /** Everything the daemon printed so far (stdout and stderr interleaved). */
  output(): string;
  /** Resolves when the process exits, with its status. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** True once the process has exited. */
  hasExited(): boolean;
  /** SIGTERM to the group, SIGKILL after `graceMs`; resolves once it is gone. */
  stop(graceMs?: number): Promise<void>;
}

/** Options for {@link startDaemon}. */
export interface DaemonOptions {
  cwd?: string;
  env?: Record<string, string | undefined>;
  replaceEnv?: boolean;
  /** Keep at most this many bytes of output (the newest). */
  maxOutputBytes?: number;
}

/** Starts a background process in its own process group. */
export function startDaemon(file: string, args: readonly string[], options: DaemonOptions = {}): Daemon {
  const command = [file, ...args].map(quoteArg).join(" ");
  const child = spawn(file, [...args], {
    cwd: options.cwd,
    env: buildEnv(options),
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const pid = child.pid;
  if (pid === undefined) {
    throw new PeerError(`could not spawn ${command} (is it installed?)`);
  }
  const limit = options.maxOutputBytes ?? 4 * 1024 * 1024;
  let log = "";
  const append = (chunk: Buffer): void => {
    log += chunk.toString("utf8");
    if (log.length > limit) log = log.slice(log.length - limit);
  };
  child.stdout?.on("data", append);
  child.stderr?.on("data", append);
  let done = false;
  const unregister = onProcessExit(() => killGroup(pid, "SIGKILL"));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once("error", (error) => {
      append(Buffer.from(`\n[harness] spawn error: ${error.message}\n`));
      done = true;
      unregister();
      resolve({ code: null, signal: null });
    });
    child.once("close", (code, signal) => {
      done = true;
      unregister();
      killGroup(pid, "SIGKILL");
      resolve({ code, signal });
    });
  });
  return {
    pid,
    command,
    output: () => log,
    exited,
    hasExited: () => done,
    async stop(graceMs = 3_000): Promise<void> {
      if (done) return;
      killGroup(pid, "SIGTERM");
      const timer = setTimeout(() => killGroup(pid, "SIGKILL"), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

// ---------------------------------------------------------------------------
// Waiting, ports, HTTP
// ---------------------------------------------------------------------------

/**
 * Polls `probe` until it returns a value other than `undefined`. Throws after
 * `timeoutMs`, or at once when `abort()` returns a reason (for example "the
 * daemon exited").
 */
export async function waitFor<T>(
  probe: () => Promise<T | undefined> | T | undefined,
  options: { timeoutMs: number; what: string; abort?: () => string | undefined; intervalMs?: number },
): Promise<T> {
  const deadline = Date.now() + options.timeoutMs;
  let delay = options.intervalMs ?? 20;
  let lastError: unknown;
  for (;;) {
    const reason = options.abort?.();
    if (reason !== undefined) throw new PeerError(`gave up waiting for ${options.what}: ${reason}`);
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() >= deadline) {
      const last = lastError instanceof Error ? ` (last error: ${lastError.message})` : "";
      throw new PeerError(`timed out after ${options.timeoutMs} ms waiting for ${options.what}${last}`);
    }
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 250);
  }
}

/** Whether 127.0.0.1:`port` can be listened on right now. */
function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

/** The kernel's ephemeral port range (Linux: net.ipv4.ip_local_port_range); Linux's default elsewhere. */
function ephemeralRange(): [number, number] {
  try {
    const [low, high] = readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/).map(Number);
    if (Number.isInteger(low) && Number.isInteger(high)) return [low!, high!];
  } catch {
    // not Linux
  }
  return [32768, 60999];
}

/**
 * A free TCP port on 127.0.0.1 below the kernel's ephemeral range, for a daemon that must get the same port back
 * when it is restarted (Redis after `kill()`). A port from {@link freePort} is an ephemeral one: while the daemon
 * is down, any process's outgoing connection may take it as its local port, and the restart fails with
 * EADDRINUSE. Ports below the range are handed out by no one but an explicit bind (every test server listens on
 * port 0), so one that is free now stays free unless another daemon picks the same one (callers retry on that).
 *
 * Also the port for a test that expects a connection to be refused: a {@link freePort} port goes back to the
 * ephemeral pool when it is closed, so a concurrent test's listen(0) can be given it before the connection (which
 * is then answered), and the connection's own local port can be the very port it calls (TCP simultaneous open:
 * it connects to itself). Neither happens below the ephemeral range.
 */
export async function freeStablePort(): Promise<number> {
  const [low] = ephemeralRange();
  const floor = 10_000;
  const ceiling = low > floor + 1000 ? low - 1 : 29_999;
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = floor + Math.floor(Math.random() * (ceiling - floor + 1));
    if (await canListen(port)) return port;
  }
  return freePort();
}

/** Asks the kernel for a currently free TCP port on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error("no port assigned"))));
    });
  });
}

/** One attempt of {@link startOnFreePorts}: the daemon it launched and how to wait until it serves. */
export interface FreePortStart<T> {
  daemon: Daemon;
  /** Resolves once the daemon serves (with what the caller returns), rejects if it does not. */
  ready(): Promise<T>;
}

/**
 * Starts a daemon on `count` distinct ports from {@link freePort}: a port that was free a moment ago can be taken
 * by another test's listener before the daemon binds it, so an attempt whose daemon printed "address already in use"
 * is stopped and tried again on new ports, `attempts` times in all (default 3). Any other failure stops the daemon
 * and is thrown at once; after the last attempt, its error is.
 */
export async function startOnFreePorts<T>(count: number, start: (ports: number[]) => FreePortStart<T>, attempts = 3): Promise<T> {
  let lastError: unknown;
  for (let attempt = 0; attempt < attempts; attempt++) {
    const ports: number[] = [];
    while (ports.length < count) {
      const port = await freePort();
      if (!ports.includes(port)) ports.push(port);
    }
    const { daemon, ready } = start(ports);
    try {
      return await ready();
    } catch (error) {
      lastError = error;
      await daemon.stop();
      if (/address already in use/i.test(daemon.output())) continue;
      throw error;
    }
  }
  throw lastError instanceof Error ? lastError : new PeerError("could not start the daemon on a free port");
}

/** A buffered HTTP response. */
export interface HttpResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Uint8Array;
}

/** Minimal HTTP/1.1 client for loopback URLs (no keep-alive, hard timeout). */
export function httpGet(url: string, options: { timeoutMs?: number; method?: string; body?: Uint8Array; headers?: Record<string, string> } = {}): Promise<HttpResponse> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      url,
      { method: options.method ?? "GET", agent: false, headers: options.headers, timeout: options.timeoutMs ?? 5_000 },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.once("end", () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: new Uint8Array(Buffer.concat(chunks)) }),
        );
        res.once("error", reject);
      },
    );
    req.once("timeout", () => req.destroy(new Error(`HTTP request to ${url} timed out`)));
    req.once("error", reject);
    req.end(options.body === undefined ? undefined : Buffer.from(options.body));
  });
}
