// Which process a pid names, for the lock files of a data directory (this package's ca.crl.lock and crl-numbers.lock,
// the example servers' server.lock): a lock records its holder's pid and, on Linux, the holder's start time, so a pid
// that a crashed holder left behind and that now names another process (the workers of a container restarted on a
// kept volume get the same small pids) is told apart from the holder itself.
import { readFileSync } from "node:fs";

/**
 * When process `pid` started: field 22 of `/proc/<pid>/stat` (clock ticks since boot) as a decimal string, or
 * undefined where it cannot be read (no /proc: not Linux; the process is gone; /proc mounted with hidepid). One
 * small synchronous read (the server lock is taken and released synchronously).
 *
 * @param pid - a process id.
 * @returns the start time as a decimal string, or undefined.
 * @example
 * ```ts
 * const started = processStartTime(process.pid); // "123456" on Linux, undefined elsewhere
 * ```
 */
export function processStartTime(pid: number): string | undefined {
  return readStat(pid)?.started;
}

/** `/proc/<pid>/stat`'s state (field 3: R, S, D, Z…) and start time (field 22), or undefined where it cannot be read. */
function readStat(pid: number): { state: string; started: string } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "latin1");
    // "pid (comm) state ppid …": comm may hold spaces and parentheses, so count the fields after its last ')'.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const [state, started] = [fields[3 - 3], fields[22 - 3]];
    return state && started && /^\d+$/.test(started) ? { state, started } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Whether the process a lock names still runs on this host: `pid` (a positive integer) runs (EPERM: as another user), is
 * not a zombie (exited, its parent has not reaped it yet: Linux, from /proc), and when the lock recorded a start time
 * (`started`, from {@link processStartTime}) and this host can read the pid's, they are equal. Without either start
 * time the pid alone decides.
 *
 * @param pid - the holder's pid.
 * @param started - the holder's start time as the lock recorded it, if it did.
 * @returns true when that process runs.
 * @example
 * ```ts
 * processRuns(holder.pid, holder.started); // false for a crashed holder whose pid another process now has
 * ```
 */
export function processRuns(pid: number, started?: string): boolean {
  // 0 and negative pids name process groups (kill(0, 0) succeeds for this one's): never a holder.
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EPERM") return false;
  }
  const now = readStat(pid);
  // A zombie (Z; X: dead) has exited and holds nothing, though kill(pid, 0) succeeds until its parent reaps it.
  if (now !== undefined && (now.state === "Z" || now.state === "X")) return false;
  if (started === undefined) return true;
  return now === undefined || now.started === started;
}
