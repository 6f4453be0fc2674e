// One server per data directory, unless the directory is meant to be shared.
//
// What two servers started on one data directory (two processes, not `--workers`) share safely: the CA (created
// race-free on first start), serial numbers (an epoch each), the index, revocations and CRL numbers (O_APPEND lines in
// index.jsonl and revocations.jsonl; crl-numbers and ca.crl replaced under their own lock files). What they do not: without --redis-url each keeps its own PENDING
// transactions and one-time challenges in memory. So a start takes `<data-dir>/server.lock` (its pid, host and start time), and a
// second start while that process runs is refused with one line. Not taken: by `--workers` workers (their primary
// holds it) and with --redis-url (replicas share a data directory by design: README "Several replicas, one Redis").
//
// The lock is published like the CA files (temp file + link: it is complete or absent). A lock whose process is gone
// (pid not running: a kill -9, a crash; another host name: a recreated container; on Linux, a pid that now names a
// process started at another time: a container restarted on a kept volume gives its processes the same small pids) is stale and taken over; it is moved aside by rename first and
// checked to be the stale file (same inode), so two starts racing to take over one stale lock cannot both win.
import { linkSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync, mkdirSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { processRuns, processStartTime } from "@scep-examples/embedded-ca";
import { ConfigError } from "./errors.js";
import { fileErrorReason } from "./file-error.js";

/** The lock's file name inside the data directory. */
export const LOCK_FILE = "server.lock";

/** What the lock file holds (one JSON line). */
interface Holder {
  pid: number;
  host: string;
  startedAt: string;
  /** The process's start time (`/proc/<pid>/stat` field 22, clock ticks since boot); absent where there is no /proc. */
  started?: string;
}

/** A held lock: `release()` removes the file if it is still this start's (synchronous: it runs in process `exit`). */
export interface DataDirLock {
  readonly path: string;
  release(): void;
}

function readHolder(path: string): { holder: Holder | undefined; ino: number } | undefined {
  try {
    const ino = statSync(path).ino;
    let holder: Holder | undefined;
    try {
      const value = JSON.parse(readFileSync(path, "utf8")) as Partial<Holder>;
      if (Number.isSafeInteger(value.pid) && typeof value.host === "string" && (value.started === undefined || typeof value.started === "string")) holder = value as Holder;
    } catch {
      holder = undefined; // not ours, or emptied: stale
    }
    return { holder, ino };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw e;
  }
}

/** Lock files held by this process (a second server started in it on one data directory is refused too). */
const heldHere = new Set<string>();

/**
 * Whether the holder still runs: on this host, with a running pid that is not this process's (and, where the lock
 * recorded it, the same start time), or is this process's and holds the lock here. A lock written under another host name, or under this process's pid by an earlier process
 * (a container restarted on a kept volume starts as pid 1 again), is stale: the data directory must be on a local
 * file system, so such a lock was left by a process that is gone.
 */
function live(holder: Holder, path: string): boolean {
  if (holder.host !== hostname()) return false;
  return holder.pid === process.pid ? heldHere.has(path) : processRuns(holder.pid, holder.started);
}

/**
 * Takes `<dataDir>/server.lock` for this process, or throws a {@link ConfigError} naming the process that holds it
 * (one line, no usage). Creates the data directory (mode 0700) if missing. A stale lock is taken over.
 */
export function lockDataDir(dataDir: string): DataDirLock {
  const path = join(dataDir, LOCK_FILE);
  const started = processStartTime(process.pid);
  const mine: Holder = { pid: process.pid, host: hostname(), startedAt: new Date().toISOString(), ...(started === undefined ? {} : { started }) };
  const temporary = join(dataDir, `.${LOCK_FILE}.${process.pid}.tmp`);
  let ino: number;
  try {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    writeFileSync(temporary, JSON.stringify(mine) + "\n", { mode: 0o644 });
    try {
      for (let attempt = 0; ; attempt += 1) {
        if (attempt === 5) throw new Error("the lock changed hands five times while this start tried to take it");
        try {
          linkSync(temporary, path);
          ino = statSync(temporary).ino;
          break;
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
        }
        const current = readHolder(path);
        if (!current) continue; // released meanwhile: try again
        const { holder } = current;
        if (holder && live(holder, path)) {
          throw new ConfigError(
            `the data directory ${dataDir} is in use by another server (pid ${holder.pid}, since ${holder.startedAt}; ${path}): ` +
              "stop it or give another --data-dir; servers share a data directory only through --redis-url (or run one with --workers N)",
            { showUsage: false },
          );
        }
        // Stale: moved aside, then removed if it is the file judged stale (else another start took it over first: put back).
        const aside = `${path}.stale.${process.pid}`;
        try {
          renameSync(path, aside);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code === "ENOENT") continue;
          throw e;
        }
        if (statSync(aside).ino === current.ino) unlinkSync(aside);
        else {
          try {
            linkSync(aside, path);
          } catch {
            /* a third start holds it now: the next round sees it */
          }
          unlinkSync(aside);
        }
      }
    } finally {
      unlinkSync(temporary);
    }
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    throw new ConfigError(`cannot lock the data directory ${dataDir}: ${fileErrorReason(e)} (check --data-dir)`, { showUsage: false });
  }
  let held = true;
  heldHere.add(path);
  return {
    path,
    release(): void {
      if (!held) return;
      held = false;
      heldHere.delete(path);
      try {
        if (statSync(path).ino === ino) unlinkSync(path);
      } catch {
        /* gone already */
      }
    },
  };
}
