// A short mutual exclusion between the processes (and the objects in one process) that share a data directory: the
// workers of `--workers N`, replicas on one volume. Held for milliseconds around a read-modify-write that O_APPEND
// cannot do alone: this package's CRL number file compaction and ca.crl publication (ca.crl.lock, crl-numbers.lock),
// the example servers' server.lock updates (server.lock.guard). One implementation, run asynchronously
// ({@link withFileLock}) or synchronously ({@link withFileLockSync}: a server releases its lock in process `exit`).
//
// A lock is a directory at `path` holding one file, `holder-<nonce>.json`, that names its holder (pid, host, a random
// nonce, and on Linux the process's start time from /proc/<pid>/stat; see ./process-identity.ts). It is taken by
// preparing that directory under a name of its own and renaming it to `path`: rename(2) succeeds when `path` is absent
// or an empty directory and fails (ENOTEMPTY/EEXIST) when a holder's directory is there, atomically, so the lock is
// complete or absent and has one holder. Released by removing the holder file, then the empty directory.
//
// A holder that is gone (its pid is not running on this host, another host name, this process's pid without the nonce
// held here, or its pid now names a process that started at another time: a kill -9, a crash, a container restarted on
// a kept volume) is stale, and a waiter takes over by unlinking the very entries it read and judged stale, by name:
// every holder file's name carries a random nonce, so such an unlink can only ever remove that stale holder's file,
// never a later holder's, however many waiters take over at once and whatever ran in between. It leaves an empty
// directory (free: the next rename replaces it) or nothing. No takeover moves or replaces whatever stands at `path`,
// so none can undo another waiter's lock (the rename-aside-and-put-back this replaces could, with three waiters). A
// lock file of an earlier version (a regular file at `path`) is judged the same way and removed by unlink(2), which
// cannot remove a directory: once a current holder's directory stands at `path`, a late unlink fails and is ignored.
// A caller that passes `takeOverOtherHosts: false` takes over only a holder that reads and names a gone process of this
// host: another host's holder (its pid cannot be checked) or an unreadable holder file counts as held for it.
// A waiter prepares its directory (`<path>.<nonce>.tmp`) before it waits; one killed while waiting (or crashed before
// its rename) leaves it behind. The first take of each lock in a process removes those prepared directories of this
// host whose holder file names a process that is gone (never one without a readable holder file: that may be a live
// waiter between its mkdir and its write), so a restarted server clears what its predecessor left; likewise the
// temporary lock files of that name an earlier version left (a file holding its holder, removed by unlink).
// Needs a local file system (rename of a directory onto an empty one; not NFS), as the rest of the data directory does.
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as fsp from "node:fs/promises";
import { hostname } from "node:os";
import { basename, dirname, join } from "node:path";
import { processRuns, processStartTime } from "./process-identity.js";

/** Options of {@link withFileLock} and {@link withFileLockSync}. */
export interface FileLockOptions {
  /** How long to wait for a holder that runs before giving up, in ms; default 10 000. */
  waitMs?: number;
  /**
   * Whether a holder this host cannot prove gone is taken over as stale, as a waiter does: one named on another host
   * (whose pid cannot be checked from here) and an unreadable holder file. Default true. With false such a lock
   * counts as held (waited for up to `waitMs`, then refused), and only a lock whose holder file reads and names a
   * process of this host that is gone is taken over: for a caller that may delete what the holder is writing, such
   * as openFileCa's sweep of the fixed-name temporary files.
   */
  takeOverOtherHosts?: boolean;
}

interface Holder {
  pid: number;
  host: string;
  /** Random; names this hold (absent in a lock file of an earlier version). */
  nonce?: string;
  /** The holder's start time (`/proc/<pid>/stat` field 22, clock ticks since boot); absent where there is no /proc. */
  started?: string;
}

/** Nonces of the locks this process holds (or is about to hold) now. */
const heldHere = new Set<string>();

function live(holder: Holder): boolean {
  if (holder.host !== hostname()) return false;
  if (holder.pid === process.pid) return holder.nonce !== undefined && heldHere.has(holder.nonce);
  return processRuns(holder.pid, holder.started);
}

function parseHolder(text: string): Holder | undefined {
  try {
    const h = JSON.parse(text) as Partial<Holder> | null;
    if (typeof h === "object" && h !== null && Number.isSafeInteger(h.pid) && typeof h.host === "string" && ["undefined", "string"].includes(typeof h.nonce) && ["undefined", "string"].includes(typeof h.started)) return h as Holder;
  } catch {
    /* below */
  }
  return undefined; // not a lock this code wrote, or emptied: stale
}

// ---- The steps, written once as a generator of file-system operations that a synchronous or an asynchronous driver
// performs (feeding each result, or throwing each error, back in).

type Op = "mkdir" | "write" | "rename" | "readdir" | "read" | "unlink" | "rmdir" | "rmTree" | "sleep";
/** One operation: `path` is its file (`to`: the rename's target, or the data written); `ms` a sleep's length. */
interface Step {
  op: Op;
  path: string;
  to?: string;
  ms?: number;
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));
const OPS: Record<Op, readonly [(s: Step) => unknown, (s: Step) => Promise<unknown>]> = {
  mkdir: [(s) => fs.mkdirSync(s.path), (s) => fsp.mkdir(s.path)],
  write: [(s) => fs.writeFileSync(s.path, s.to!, { mode: 0o644 }), (s) => fsp.writeFile(s.path, s.to!, { mode: 0o644 })],
  rename: [(s) => fs.renameSync(s.path, s.to!), (s) => fsp.rename(s.path, s.to!)],
  readdir: [(s) => fs.readdirSync(s.path), (s) => fsp.readdir(s.path)],
  read: [(s) => fs.readFileSync(s.path, "utf8"), (s) => fsp.readFile(s.path, "utf8")],
  unlink: [(s) => fs.unlinkSync(s.path), (s) => fsp.unlink(s.path)],
  rmdir: [(s) => fs.rmdirSync(s.path), (s) => fsp.rmdir(s.path)],
  rmTree: [(s) => fs.rmSync(s.path, { recursive: true, force: true }), (s) => fsp.rm(s.path, { recursive: true, force: true })],
  sleep: [(s) => Atomics.wait(sleeper, 0, 0, s.ms), (s) => new Promise((resolve) => setTimeout(resolve, s.ms))],
};

type Steps<T> = Generator<Step, T, unknown>;
type Outcome = { value: unknown } | { error: unknown };

const feed = <T>(steps: Steps<T>, outcome: Outcome): IteratorResult<Step, T> => ("error" in outcome ? steps.throw(outcome.error) : steps.next(outcome.value));

function settle(step: Step): Outcome {
  try {
    return { value: OPS[step.op][0](step) };
  } catch (error) {
    return { error };
  }
}

function driveSync<T>(steps: Steps<T>): T {
  let next = steps.next();
  while (!next.done) next = feed(steps, settle(next.value));
  return next.value;
}

async function driveAsync<T>(steps: Steps<T>): Promise<T> {
  let next = steps.next();
  while (!next.done) {
    const step = next.value;
    next = feed(steps, await OPS[step.op][1](step).then((value) => ({ value }), (error: unknown) => ({ error })));
  }
  return next.value;
}

const code = (e: unknown): string | undefined => (e as NodeJS.ErrnoException | null)?.code;

/** Performs `step`; an error whose code is one of `codes` is ignored. */
function* quietly(step: Step, ...codes: string[]): Steps<void> {
  try {
    yield step;
  } catch (e) {
    if (!codes.includes(code(e) ?? "")) throw e;
  }
}

/** An entry of a lock: a file in the lock's directory by `name`, or (name "") a lock file of an earlier version. */
interface Entry {
  name: string;
  holder: Holder | undefined;
}

/** The entries of the lock at `path` and their holders; undefined when there is none or it changed while read. */
function* look(path: string): Steps<Entry[] | undefined> {
  let names: string[];
  try {
    names = (yield { op: "readdir", path }) as string[];
  } catch (e) {
    if (code(e) === "ENOENT") return undefined;
    if (code(e) !== "ENOTDIR") throw e;
    names = [""]; // a lock file of an earlier version
  }
  const entries: Entry[] = [];
  for (const name of names) {
    try {
      entries.push({ name, holder: parseHolder((yield { op: "read", path: name ? join(path, name) : path }) as string) });
    } catch (e) {
      // Gone: released or taken over meanwhile (names are never reused), or the lock replaced by a file (ENOTDIR) or an
      // old file by a holder's directory (EISDIR). A directory inside the lock is not a holder (its unlink reports it).
      if (code(e) === "ENOENT" || code(e) === "ENOTDIR" || (code(e) === "EISDIR" && !name)) return undefined;
      if (code(e) !== "EISDIR") throw e;
      entries.push({ name, holder: undefined });
    }
  }
  return entries;
}

/** Removes the stale lock's `entries` by name, and its directory once empty: never anything another waiter put there. */
function* takeOver(path: string, entries: readonly Entry[]): Steps<void> {
  for (const { name } of entries) {
    // ENOENT: another waiter removed it first (ENOTDIR: and a file stands at `path` now). An old lock file's unlink
    // fails on the directory a holder put there since (EISDIR; EPERM on some systems).
    yield* name ? quietly({ op: "unlink", path: join(path, name) }, "ENOENT", "ENOTDIR") : quietly({ op: "unlink", path }, "ENOENT", "EISDIR", "EPERM");
  }
  yield* release(path, undefined);
}

/** Removes this hold's holder file (when `own` names it), then the lock's directory if it is empty (free) by then. */
function* release(path: string, own: string | undefined): Steps<void> {
  if (own !== undefined) yield* quietly({ op: "unlink", path: join(path, own) }, "ENOENT", "ENOTDIR");
  yield* quietly({ op: "rmdir", path }, "ENOENT", "ENOTEMPTY", "EEXIST", "ENOTDIR");
}

const holderFile = (nonce: string): string => `holder-${nonce}.json`;

/** Lock paths whose leftover prepared directories this process has swept (once each). */
const sweptHere = new Set<string>();

/**
 * Removes the prepared directories (`<path>.<nonce>.tmp`) that waiters of this host left when they died before their
 * rename: only one whose holder file reads and names a process of this host that is gone. Best effort: an error
 * leaves the rest for the next process.
 */
function* sweepPrepared(path: string): Steps<void> {
  if (sweptHere.has(path)) return;
  sweptHere.add(path);
  const prefix = `${basename(path)}.`;
  try {
    const names = (yield { op: "readdir", path: dirname(path) }) as string[];
    for (const name of names) {
      const nonce = name.startsWith(prefix) ? /^([0-9a-f]{16})\.tmp$/.exec(name.slice(prefix.length))?.[1] : undefined;
      if (nonce === undefined || heldHere.has(nonce)) continue;
      const dir = join(dirname(path), name);
      let holder: Holder | undefined;
      let earlier = false; // a temporary lock file an earlier version left (a file of this name, holding its holder)
      try {
        holder = parseHolder((yield { op: "read", path: join(dir, holderFile(nonce)) }) as string);
      } catch (e) {
        if (code(e) !== "ENOTDIR") continue; // no holder file yet (a waiter between its mkdir and its write), or gone
        earlier = true;
        holder = parseHolder((yield { op: "read", path: dir }) as string);
      }
      if (holder === undefined || holder.host !== hostname() || live(holder)) continue;
      yield* earlier ? quietly({ op: "unlink", path: dir }, "ENOENT") : quietly({ op: "rmTree", path: dir });
    }
  } catch {
    /* best effort */
  }
}

/** Whether `entry` keeps the lock held: its holder runs, or (`provenOnly`) it is not proved gone on this host. */
function holds(entry: Entry, provenOnly: boolean): boolean {
  if (entry.holder === undefined) return provenOnly;
  return live(entry.holder) || (provenOnly && entry.holder.host !== hostname());
}

function holderText(holder: Holder | undefined): string {
  if (holder === undefined) return "an unreadable holder";
  return holder.host === hostname() ? `pid ${holder.pid}` : `pid ${holder.pid} on host ${holder.host}`;
}

/**
 * Takes the lock at `path`; returns the nonce its holder file is named after. With `provenOnly`, a holder is taken over
 * only when its file reads and names a gone process of this host.
 */
function* acquire(path: string, waitMs: number, provenOnly = false): Steps<string> {
  const started = processStartTime(process.pid);
  const nonce = randomBytes(8).toString("hex");
  const mine: Holder = { pid: process.pid, host: hostname(), nonce, ...(started === undefined ? {} : { started }) };
  const prepared = `${path}.${nonce}.tmp`;
  yield* sweepPrepared(path);
  yield { op: "mkdir", path: prepared };
  // Held here before it can stand at `path`: another object of this process must see it live from the first moment.
  heldHere.add(nonce);
  try {
    yield { op: "write", path: join(prepared, holderFile(nonce)), to: `${JSON.stringify(mine)}\n` };
    const deadline = Date.now() + waitMs;
    for (let round = 0; ; round += 1) {
      try {
        yield { op: "rename", path: prepared, to: path };
        return nonce;
      } catch (e) {
        if (!["ENOTEMPTY", "EEXIST", "ENOTDIR", "EISDIR"].includes(code(e) ?? "")) throw e;
      }
      const entries = yield* look(path);
      if (entries === undefined) continue;
      const holding = entries.find((entry) => holds(entry, provenOnly));
      if (holding === undefined) {
        yield* takeOver(path, entries);
        continue;
      }
      if (Date.now() > deadline) throw new Error(`${path} is held by ${holderText(holding.holder)} for over ${waitMs / 1000} s`);
      yield { op: "sleep", path, ms: Math.min(2 + round, 20) };
    }
  } catch (e) {
    heldHere.delete(nonce);
    yield* quietly({ op: "rmTree", path: prepared });
    throw e;
  }
}

function* released(path: string, nonce: string): Steps<void> {
  try {
    yield* release(path, holderFile(nonce));
  } finally {
    heldHere.delete(nonce);
  }
}

/**
 * Runs `run` while holding the lock `path` (a directory created next to the data it guards), and releases the lock
 * after, whether `run` resolved or threw. A lock whose holder is gone is taken over (see the module comment).
 *
 * @param path - the lock's path, e.g. `<dataDir>/ca.crl.lock`.
 * @param run - the critical section.
 * @param options - {@link FileLockOptions}.
 * @returns what `run` resolved to.
 * @throws Error (the file system's, or "`path` is held by pid N [on host H] for over 10 s") when the lock cannot be
 * taken; callers turn it into their own typed error. What `run` threw.
 * @example
 * ```ts
 * await withFileLock(join(dataDir, "ca.crl.lock"), async () => publish(crl));
 * ```
 */
export async function withFileLock<T>(path: string, run: () => Promise<T>, options: FileLockOptions = {}): Promise<T> {
  const nonce = await driveAsync(acquire(path, options.waitMs ?? 10_000, options.takeOverOtherHosts === false));
  try {
    return await run();
  } finally {
    await driveAsync(released(path, nonce)).catch(() => undefined); // a lock left behind is stale once this process is gone
  }
}

/**
 * {@link withFileLock}, synchronously (its waits block the thread): for a lock taken and released where nothing
 * asynchronous may run, such as a process's `exit` handler.
 *
 * @param path - the lock's path, e.g. `<dataDir>/server.lock.guard`.
 * @param run - the critical section.
 * @param options - {@link FileLockOptions}.
 * @returns what `run` returned.
 * @throws Error (the file system's, or "`path` is held by pid N [on host H] for over 10 s") when the lock cannot be
 * taken. What `run` threw.
 * @example
 * ```ts
 * withFileLockSync(`${lockFile}.guard`, () => rewrite(lockFile), { waitMs: 5_000 });
 * ```
 */
export function withFileLockSync<T>(path: string, run: () => T, options: FileLockOptions = {}): T {
  const nonce = driveSync(acquire(path, options.waitMs ?? 10_000, options.takeOverOtherHosts === false));
  try {
    return run();
  } finally {
    try {
      driveSync(released(path, nonce));
    } catch {
      /* a lock left behind is stale once this process is gone */
    }
  }
}
