// Who may serve from a data directory: the servers of one store only.
//
// What servers started on one data directory (processes, not `--workers`) share safely: the CA (created race-free on
// first start), serial numbers (an epoch each), the index (O_APPEND lines in index.jsonl) and the published CRL. What
// they share only if they share a store: revocations and CRL numbers (in Redis with --redis-url, else in
// revocations.jsonl and crl-numbers), PENDING transactions and one-time challenges (in Redis, else in one process's
// memory). A file-backed server beside Redis replicas would revoke where they never look (a revoked certificate renews
// through them) and number the shared ca.crl from another sequence. So every start, with or without Redis, takes
// `<data-dir>/server.lock`: one JSON line naming the store (`files`, or the Redis URL without credentials, query or
// fragment, and the key prefix) and its holders (pid, host, start time). A start whose store is the one named joins
// when that store is Redis (replicas); any other start is refused with one line while a holder runs. Not taken by
// `--workers` workers (their primary holds it for them).
//
// Every read-modify-write of server.lock happens under `server.lock.guard`, a lock held for a few milliseconds (the
// embedded CA's file lock, synchronous: complete or absent, a guard whose holder is gone taken over by exactly one
// start), so two starts at the same moment cannot both win, and server.lock is replaced whole (temp file + rename). A holder that is gone (pid not running on this host, another host name: a
// recreated container, or its pid now naming a process that started at another time) is dropped: a lock left by a
// kill -9 is taken over. Synchronous throughout: release runs in process `exit`. Needs a local file system.
import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { processRuns, processStartTime } from "@scep-examples/embedded-ca";
import { withFileLockSync } from "@scep-examples/embedded-ca/file-lock";
import { ConfigError } from "./errors.js";
import { fileErrorReason } from "./file-error.js";

/** The lock's file name inside the data directory. */
export const LOCK_FILE = "server.lock";
/** The store of a server without --redis-url: its data directory's files and its own memory (never shared). */
export const FILE_STORE = "files";
/** How long a start waits for another start's guard (ms): it is held for milliseconds, so longer means trouble. */
const GUARD_WAIT_MS = 5_000;

/** One process holding the lock. */
interface Holder {
  pid: number;
  host: string;
  startedAt: string;
  /** Random, names this hold (one process may hold it more than once: two Redis servers started in it). */
  id?: string;
  /** `/proc/<pid>/stat` field 22 (clock ticks since boot) where there is /proc: a reused pid is not the holder. */
  started?: string;
}

/** What server.lock holds. `pid`, `host`, `startedAt`, `started` repeat the first holder's (older versions read only those). */
interface LockContent {
  pid: number;
  host: string;
  startedAt: string;
  started?: string;
  store: string;
  holders: Holder[];
}

/** A held lock: `release()` removes this start from it (synchronous: it runs in process `exit`). */
export interface DataDirLock {
  readonly path: string;
  release(): void;
}

/**
 * The store a server keeps revocations, CRL numbers, PENDING transactions and challenges in, as server.lock names it:
 * {@link FILE_STORE} without a Redis URL, else `redis://host:port/db keys <prefix>*` (scheme as given, host in lower
 * case, default port 6379 and db 0 spelled out; the db, port and key prefix a `?db=`, `?port=` or `?keyPrefix=` query
 * gives ioredis count; never the user name, password, the rest of the query or the fragment, so the lock file and the
 * line that refuses a start carry no secret).
 *
 * @param redisUrl - the server's `--redis-url`, already checked to be a redis:// or rediss:// URL (or undefined).
 * @param keyPrefix - the prefix of the server's Redis keys.
 */
export function storeIdentity(redisUrl: string | undefined, keyPrefix: string): string {
  if (redisUrl === undefined) return FILE_STORE;
  const url = new URL(redisUrl);
  // As ioredis reads the URL: the path's db first, else `?db=`; the URL's port, else `?port=`; `?keyPrefix=` goes
  // before every key the stores name. Host names are case-insensitive (WHATWG keeps a redis:// host's case).
  const query = url.searchParams;
  const db = Number.parseInt(/^\/(\d+)/.exec(url.pathname)?.[1] ?? query.get("db") ?? "0", 10);
  const port = url.port || query.get("port") || "6379";
  return `${url.protocol}//${url.hostname.toLowerCase()}:${port}/${Number.isNaN(db) ? 0 : db} keys ${query.get("keyPrefix") ?? ""}${keyPrefix}*`;
}

/** Holds taken in this process, by id (and, for locks written without ids, the paths held). */
const heldHere = new Set<string>();

/**
 * Whether the holder still runs: on this host, with a running pid that is not this process's and started when the
 * holder did, or this process's pid and a hold of this process. A lock written under another host name, or under this
 * process's pid by an earlier process (a container restarted on a kept volume starts as pid 1 again), is stale: the
 * data directory is on a local file system, so such a lock was left by a process that is gone.
 */
function live(holder: Holder, path: string): boolean {
  if (holder.host !== hostname()) return false;
  if (holder.pid === process.pid) return heldHere.has(holder.id ?? path);
  return processRuns(holder.pid, holder.started);
}

function isHolder(value: unknown): value is Holder {
  const h = value as Partial<Holder> | null;
  return typeof h === "object" && h !== null && Number.isSafeInteger(h.pid) && typeof h.host === "string" && typeof h.startedAt === "string";
}

/** server.lock's content: undefined when absent; no holders when unreadable (not ours, or emptied: stale). */
function readLock(path: string): LockContent | undefined {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw e;
  }
  try {
    const value = JSON.parse(text) as Partial<LockContent>;
    if (Array.isArray(value.holders) && typeof value.store === "string") {
      return { ...(value as LockContent), holders: value.holders.filter(isHolder) };
    }
    // Written by a version before stores were named: one file-backed holder.
    if (isHolder(value)) return { ...value, store: FILE_STORE, holders: [value] };
  } catch {
    /* below */
  }
  return { pid: 0, host: "", startedAt: "", store: FILE_STORE, holders: [] };
}

/** Replaces server.lock whole with `holders` (or removes it when there are none). */
function writeLock(path: string, store: string, holders: Holder[]): void {
  const [first] = holders;
  if (!first) return void unlinkSync(path);
  const content: LockContent = { pid: first.pid, host: first.host, startedAt: first.startedAt, ...(first.started === undefined ? {} : { started: first.started }), store, holders };
  const temporary = `${path}.${randomBytes(6).toString("hex")}.tmp`;
  try {
    writeFileSync(temporary, JSON.stringify(content) + "\n", { mode: 0o644 });
    renameSync(temporary, path);
  } catch (e) {
    // A write that failed part way (a full disk, a quota) leaves no temporary file behind either.
    try {
      unlinkSync(temporary);
    } catch {
      /* the write's or the rename's error is the one to report */
    }
    throw e;
  }
}

/** Runs `run` holding `<path>.guard` (a lock of milliseconds: one read-modify-write of server.lock). */
function withGuard<T>(path: string, run: () => T): T {
  return withFileLockSync(`${path}.guard`, run, { waitMs: GUARD_WAIT_MS });
}

/** The store as the line refusing a start names it. */
function describeStore(store: string): string {
  return store === FILE_STORE ? "no --redis-url" : `Redis ${store}`;
}

/**
 * Takes `<dataDir>/server.lock` for this process, or throws a {@link ConfigError} naming a process that holds it
 * (one line, no usage). Servers of one Redis store (same URL host, port and db, same key prefix) share it; any other
 * start is refused while a holder runs. Creates the data directory (mode 0700) if missing. Holders that are gone
 * are dropped (a killed server's lock is taken over).
 *
 * @param dataDir - the data directory.
 * @param store - this server's store, from {@link storeIdentity}.
 * @throws ConfigError "the data directory … is in use by another server …" or "cannot lock the data directory …".
 */
export function lockDataDir(dataDir: string, store: string = FILE_STORE): DataDirLock {
  const path = join(dataDir, LOCK_FILE);
  const started = processStartTime(process.pid);
  const mine: Holder = { pid: process.pid, host: hostname(), startedAt: new Date().toISOString(), id: randomBytes(8).toString("hex"), ...(started === undefined ? {} : { started }) };
  const id = mine.id!;
  try {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    withGuard(path, () => {
      const current = readLock(path);
      const running = current ? current.holders.filter((h) => live(h, path)) : [];
      const other = running[0];
      if (current && other && !(store !== FILE_STORE && current.store === store)) {
        const same = current.store === store;
        throw new ConfigError(
          `the data directory ${dataDir} is in use by another server (pid ${other.pid}, since ${other.startedAt}${same ? "" : `, ${describeStore(current.store)}`}; ${path}): ` +
            (same
              ? "stop it or give another --data-dir; servers share a data directory only through --redis-url (or run one with --workers N)"
              : `stop it or give another --data-dir; servers share a data directory only through the same Redis (this one: ${describeStore(store)})`),
          { showUsage: false },
        );
      }
      writeLock(path, store, [...running, mine]);
      heldHere.add(id);
    });
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    throw new ConfigError(`cannot lock the data directory ${dataDir}: ${fileErrorReason(e)} (check --data-dir)`, { showUsage: false });
  }
  let held = true;
  return {
    path,
    release(): void {
      if (!held) return;
      held = false;
      heldHere.delete(id);
      try {
        withGuard(path, () => {
          const current = readLock(path);
          if (!current || !current.holders.some((h) => h.id === id)) return; // taken over meanwhile: not ours to touch
          writeLock(path, current.store, current.holders.filter((h) => h.id !== id && live(h, path)));
        });
      } catch {
        /* best effort: a lock left behind names this process, which is gone by the next start */
      }
    },
  };
}
