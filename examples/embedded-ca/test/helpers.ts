// Shared test helpers: temp directories, the openssl CLI (the reference
// implementation we compare against), and child processes running the CA.
import { execFileSync, spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { open } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, afterEach } from "vitest";
import { processStartTime } from "../src/index.js";

export const packageDir = join(dirname(fileURLToPath(import.meta.url)), "..");

const tempDirs: string[] = [];
// Registered once per test file (this module is evaluated per file).
afterAll(() => {
  for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A fresh directory, removed after the test file. */
export function tempDir(prefix = "embedded-ca-"): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.push(dir);
  return dir;
}

/**
 * The prototype of Node's `FileHandle` (`node:fs/promises`), whose `write`, `datasync` and `close` the CA's file code
 * calls: what a test spies on (`vi.spyOn(proto, "write")`) to count, delay or fail them.
 */
export async function fileHandlePrototype(): Promise<Record<"write" | "datasync" | "close", (...args: unknown[]) => Promise<unknown>>> {
  const handle = await open(join(tempDir(), "probe"), "w");
  const proto = Object.getPrototypeOf(handle) as Record<"write" | "datasync" | "close", (...args: unknown[]) => Promise<unknown>>;
  await handle.close();
  return proto;
}

/** Runs `openssl ...args` in `cwd`; returns stdout, throws with stderr on failure. */
export function openssl(args: string[], cwd: string): string {
  try {
    return execFileSync("openssl", args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  } catch (error) {
    const e = error as { stderr?: string; stdout?: string; message: string };
    throw new Error(`openssl ${args.join(" ")} failed: ${e.stderr ?? ""}${e.stdout ?? ""}${e.message}`);
  }
}

/**
 * Makes a key and a DER PKCS#10 request with `openssl req`.
 * `san` is an openssl subjectAltName value, e.g. `"DNS:a.example,IP:10.0.0.1"`.
 */
export function opensslCsr(
  dir: string,
  name: string,
  options: { subject: string; san?: string; key?: "rsa" | "ec" },
): Uint8Array {
  const keyFile = `${name}.key`;
  const csrFile = `${name}.csr.der`;
  if (options.key === "ec") {
    openssl(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", keyFile], dir);
  } else {
    openssl(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", keyFile], dir);
  }
  const args = ["req", "-new", "-key", keyFile, "-subj", options.subject, "-outform", "DER", "-out", csrFile];
  if (options.san) args.push("-addext", `subjectAltName=${options.san}`);
  openssl(args, dir);
  return new Uint8Array(readFileSync(join(dir, csrFile)));
}

/** A further DER PKCS#10 request for the key of `opensslCsr(dir, name, …)`, with another subject. */
export function sameKeyCsr(dir: string, name: string, subject: string): Uint8Array {
  const out = `${name}-${subject.replace(/\W/g, "")}.csr.der`;
  openssl(["req", "-new", "-key", `${name}.key`, "-subj", subject, "-outform", "DER", "-out", out], dir);
  return new Uint8Array(readFileSync(join(dir, out)));
}

/** Rewrites the index line of `serial` as a version before the index held certificates wrote it (no `certificate`). */
export function makeLegacy(dataDir: string, serial: string): void {
  const index = join(dataDir, "index.jsonl");
  const lines = readFileSync(index, "utf8").split("\n").filter((l) => l !== "");
  const rewritten = lines.map((l) => {
    const record = JSON.parse(l) as Record<string, string>;
    if (record.serial === serial) delete record.certificate;
    return JSON.stringify(record);
  });
  writeFileSync(index, rewritten.join("\n") + "\n");
}

/**
 * A monotonic clock (`monotonicNow`, ms, from `start`) that only the test moves, with `pass(ms)` (default 1000, the
 * default maxStalenessMs; a negative `ms` sets it back): a FileRevocationStore or FileCa given it answers `get`,
 * `revision()` and issue()'s revocation check from memory until `pass` has moved it past its maxStalenessMs since its
 * last look at the file, so another store's (another worker's) write is seen exactly then.
 */
export function ticker(start = 0): { monotonicNow: () => number; pass: (ms?: number) => void } {
  let now = start;
  return { monotonicNow: () => now, pass: (ms = 1000) => void (now += ms) };
}

/** Writes `pem` to `dir/name` and returns the file name (for openssl arguments). */
export function writePem(dir: string, name: string, pem: string): string {
  writeFileSync(join(dir, name), pem);
  return name;
}

/** A child node process running test/fixtures/ca-child.ts, with its stdout split into lines. */
export interface CaChild {
  process: ChildProcessWithoutNullStreams;
  lines: string[];
  stderr: () => string;
  /** Resolves once `predicate(lines)` holds; rejects if the child exits first or after `timeoutMs`. */
  waitFor: (predicate: (lines: string[]) => boolean, what: string, timeoutMs?: number) => Promise<void>;
  /** Resolves with the exit code / signal. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** `uid`/`gid`: run the child as that user (the parent must be root), e.g. to meet file modes root ignores. */
export function spawnCaChild(args: string[], options: { uid?: number; gid?: number } = {}): CaChild {
  return spawnFixture("ca-child.ts", args, options);
}

/** A child node process running `test/fixtures/<fixture>` with `args`, as {@link spawnCaChild}. */
export function spawnFixture(fixture: string, args: string[], options: { uid?: number; gid?: number } = {}): CaChild {
  const child = spawn(
    process.execPath,
    ["--import", "tsx", join(packageDir, "test", "fixtures", fixture), ...args],
    { cwd: packageDir, stdio: ["pipe", "pipe", "pipe"], ...options },
  );
  const lines: string[] = [];
  let partial = "";
  let stderr = "";
  const listeners = new Set<() => void>();
  child.stdout.setEncoding("utf8");
  child.stdout.on("data", (chunk: string) => {
    partial += chunk;
    const parts = partial.split("\n");
    partial = parts.pop() ?? "";
    lines.push(...parts);
    for (const listener of [...listeners]) listener();
  });
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (chunk: string) => (stderr += chunk));
  let closed = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    // "close" fires after stdout is drained, so `lines` is complete by then.
    child.on("close", (code, signal) => {
      closed = true;
      for (const listener of [...listeners]) listener();
      resolve({ code, signal });
    });
  });

  const waitFor: CaChild["waitFor"] = (predicate, what, timeoutMs = 60_000) =>
    new Promise<void>((resolve, reject) => {
      const check = (): void => {
        if (predicate(lines)) {
          finish();
          resolve();
        } else if (closed) {
          finish();
          reject(new Error(`child exited before ${what}; stderr:\n${stderr}`));
        }
      };
      const timer = setTimeout(() => {
        finish();
        reject(new Error(`timed out waiting for ${what}; stderr:\n${stderr}`));
      }, timeoutMs);
      const finish = (): void => {
        clearTimeout(timer);
        listeners.delete(check);
      };
      listeners.add(check);
      check();
    });

  return { process: child, lines, stderr: () => stderr, waitFor, exited };
}

/** Serial numbers from `ISSUED <serial>` lines. */
export function issuedSerials(lines: readonly string[]): string[] {
  return lines.filter((l) => l.startsWith("ISSUED ")).map((l) => l.slice("ISSUED ".length));
}

const sleepers: { kill(signal: NodeJS.Signals): boolean }[] = [];
// Registered once per test file, like tempDir's cleanup.
afterEach(() => {
  for (const child of sleepers.splice(0)) child.kill("SIGKILL");
});

/**
 * A running process that is not this one (`sleep 60`, killed after the test), with its start time
 * (`processStartTime`, Linux): the pid a crashed lock holder's file names once another process has it.
 */
export async function otherProcess(): Promise<{ pid: number; started: string }> {
  const child = spawn("sleep", ["60"], { stdio: "ignore" });
  sleepers.push(child);
  await new Promise<void>((resolve, reject) => child.once("spawn", resolve).once("error", reject));
  const started = processStartTime(child.pid!);
  if (started === undefined) throw new Error("no start time for a running child");
  return { pid: child.pid!, started };
}

/**
 * A zombie: a process that has exited but that its parent (`sleep 60`, which never waits for children) has not reaped,
 * so `kill(pid, 0)` still succeeds and `/proc/<pid>/stat` still names it, in state Z. The child is killed only once its
 * parent has exec'd sleep (sh would reap it). The parent is killed after the test (init then reaps both).
 */
export async function zombieProcess(): Promise<{ pid: number; started: string }> {
  const parent = spawn("sh", ["-c", "sleep 60 & echo $!; exec sleep 60"], { stdio: ["ignore", "pipe", "ignore"] });
  sleepers.push(parent);
  const pid = await new Promise<number>((resolve, reject) => {
    let out = "";
    parent.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      out += chunk;
      if (out.includes("\n")) resolve(Number(out.trim()));
    });
    parent.once("error", reject).once("exit", () => reject(new Error("the zombie's parent exited")));
  });
  const stat = (p: number): string[] => {
    const text = readFileSync(`/proc/${p}/stat`, "latin1");
    return [text.slice(text.indexOf("(") + 1, text.lastIndexOf(")")), ...text.slice(text.lastIndexOf(")") + 2).split(" ")];
  };
  while (stat(parent.pid!)[0] !== "sleep") await new Promise((resolve) => setImmediate(resolve));
  process.kill(pid, "SIGKILL");
  for (;;) {
    const [, state, ...rest] = stat(pid);
    if (state === "Z") return { pid, started: rest[22 - 4]! };
    await new Promise((resolve) => setImmediate(resolve));
  }
}
