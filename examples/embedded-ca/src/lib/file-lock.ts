// A short mutual exclusion between the processes (and the objects in one process) that share a data directory: the
// workers of `--workers N`, replicas on one volume. Held for milliseconds around a read-modify-write that O_APPEND
// cannot do alone (the CRL number file's compaction, publishing ca.crl only when its number is higher).
//
// The lock file is published whole (temp file + link: complete or absent) and names its holder (pid, host, a random
// nonce, and on Linux the process's start time from /proc/<pid>/stat). A holder that is gone (its pid is not running
// on this host, another host name, this process's pid without the nonce held here, or its pid now names a process
// that started at another time: a kill -9, a crash, a container restarted on a kept volume, whose new processes get
// the same small pids; see ../process-identity.ts) is stale: the lock is moved aside by rename and removed if it is the
// very file judged stale (same inode), else put back, so two waiters taking over one stale lock cannot both win. Needs a local file system with hard links (not NFS), as the rest of
// the data directory does.
import { randomBytes } from "node:crypto";
import { link, readFile, rename, stat, unlink, writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import { processRuns, processStartTime } from "../process-identity.js";

/** How long {@link withFileLock} waits for a live holder before it gives up (ms). */
const WAIT_MS = 10_000;

interface Holder {
  pid: number;
  host: string;
  nonce: string;
  /** The holder's start time (`/proc/<pid>/stat` field 22, clock ticks since boot); absent where there is no /proc. */
  started?: string;
}

/** Nonces of the locks this process holds now. */
const heldHere = new Set<string>();

function live(holder: Holder): boolean {
  if (holder.host !== hostname()) return false;
  if (holder.pid === process.pid) return heldHere.has(holder.nonce);
  return processRuns(holder.pid, holder.started);
}

async function readHolder(path: string): Promise<{ holder: Holder | undefined; ino: number } | undefined> {
  try {
    const ino = (await stat(path)).ino;
    let holder: Holder | undefined;
    try {
      const value = JSON.parse(await readFile(path, "utf8")) as Partial<Holder>;
      if (Number.isSafeInteger(value.pid) && typeof value.host === "string" && typeof value.nonce === "string" && (value.started === undefined || typeof value.started === "string")) holder = value as Holder;
    } catch {
      holder = undefined; // not a lock this code wrote, or emptied: stale
    }
    return { holder, ino };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw e;
  }
}

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Runs `run` while holding the lock file `path` (created next to the data it guards), and removes the lock after,
 * whether `run` resolved or threw.
 *
 * @throws Error (the file system's, or "… held by pid N for over 10 s") when the lock cannot be taken; callers turn it
 * into their own typed error.
 */
export async function withFileLock<T>(path: string, run: () => Promise<T>): Promise<T> {
  const started = processStartTime(process.pid);
  const mine: Holder = { pid: process.pid, host: hostname(), nonce: randomBytes(8).toString("hex"), ...(started === undefined ? {} : { started }) };
  const temporary = `${path}.${mine.nonce}.tmp`;
  await writeFile(temporary, `${JSON.stringify(mine)}\n`, { mode: 0o644 });
  let ino: number;
  try {
    const deadline = Date.now() + WAIT_MS;
    for (let round = 0; ; round += 1) {
      try {
        await link(temporary, path);
        ino = (await stat(temporary)).ino;
        heldHere.add(mine.nonce);
        break;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      }
      const current = await readHolder(path);
      if (!current) continue; // released meanwhile
      if (current.holder && live(current.holder)) {
        if (Date.now() > deadline) throw new Error(`${path} is held by pid ${current.holder.pid} for over ${WAIT_MS / 1000} s`);
        await pause(Math.min(2 + round, 20));
        continue;
      }
      const aside = `${path}.${mine.nonce}.stale`;
      try {
        await rename(path, aside);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === "ENOENT") continue;
        throw e;
      }
      if ((await stat(aside)).ino !== current.ino) {
        // Another waiter took the stale lock over first and this moved its live lock aside: put it back.
        await link(aside, path).catch(() => undefined);
      }
      await unlink(aside);
    }
  } finally {
    await unlink(temporary).catch(() => undefined);
  }
  try {
    return await run();
  } finally {
    heldHere.delete(mine.nonce);
    try {
      if ((await stat(path)).ino === ino) await unlink(path);
    } catch {
      /* gone already */
    }
  }
}
