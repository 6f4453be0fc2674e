// Crash-safe file primitives. "Durable" means: once the promise resolves, the
// data and the directory entry survive a process crash (kill -9) and, as far as
// the file system honours fsync, a power loss.
import { createHash, randomBytes } from "node:crypto";
import { constants } from "node:fs";
import { access, link, mkdir, open, opendir, rename, stat, unlink, type FileHandle } from "node:fs/promises";
import { hostname } from "node:os";
import { basename, dirname, join, resolve } from "node:path";
import { processRuns } from "../process-identity.js";

/**
 * Replaces `path` with `data` whole: written to `<path>.tmp` (created with `mode`), fdatasync'ed, then renamed over
 * `path` (atomic), so a reader or a crash sees the old file or the new one, never part of one. The temporary name is
 * fixed: only for a caller that holds the file's lock (one writer at a time; a crash leaves at most one, overwritten
 * next time). A failure (a full disk part way through the write, EIO) removes the temporary file before it rejects:
 * no part of a file is left holding the space the disk lacks. fsync the directory afterwards for the rename itself to
 * be durable.
 */
export async function replaceFileUnderLock(path: string, data: string | Uint8Array, mode: number): Promise<void> {
  const temporary = `${path}.tmp`;
  try {
    const file = await open(temporary, "w", mode);
    try {
      await file.writeFile(data);
      await file.datasync();
    } finally {
      await file.close();
    }
    await rename(temporary, path);
  } catch (error) {
    // Ours to remove: the lock is held. (Not a file, e.g. a directory in its way: unlink fails and it stays.)
    await unlink(temporary).catch(() => undefined);
    throw error;
  }
}

/** fsync a directory so that entries created/renamed in it are durable. */
export async function fsyncDirectory(dir: string): Promise<void> {
  let handle;
  try {
    handle = await open(dir, "r");
    await handle.sync();
  } catch (error) {
    // Windows cannot open directories; some file systems reject fsync on them.
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== "EISDIR" && code !== "EPERM" && code !== "EINVAL" && code !== "EBADF") throw error;
  } finally {
    await handle?.close();
  }
}

/** `mkdir -p`, then fsync every parent that gained an entry, so new directories are durable. */
export async function ensureDirectory(dir: string, mode = 0o755): Promise<void> {
  const firstCreated = await mkdir(dir, { recursive: true, mode });
  if (firstCreated === undefined) return;
  const stop = dirname(resolve(firstCreated));
  for (let current = resolve(dir); current !== stop; current = dirname(current)) {
    await fsyncDirectory(dirname(current));
  }
}

/** This host in temporary file names: 8 hex digits of its name's SHA-256 ({@link removeLeftoverTemps} removes only its own). */
const HOST_TAG = createHash("sha256").update(hostname()).digest("hex").slice(0, 8);
/** `.<name>.tmp-<host tag>-<pid>-<12 hex>`: a temporary file of {@link writeTemp}. */
const TEMP_NAME = /^\..+\.tmp-([0-9a-f]{8})-(\d+)-[0-9a-f]{12}$/;

/**
 * Writes `data` to a fresh temporary file in `dir` (default: next to `path`), fsynced unless `durable` is false.
 * Returns its name. A failure (a full disk part way through the write, EIO) removes the temporary file before it
 * rejects.
 */
async function writeTemp(path: string, data: string | Uint8Array, mode: number, durable: boolean, dir = dirname(path)): Promise<string> {
  const temp = join(dir, `.${basename(path)}.tmp-${HOST_TAG}-${process.pid}-${randomBytes(6).toString("hex")}`);
  const handle = await open(temp, "wx", mode);
  try {
    try {
      await handle.writeFile(data);
      if (durable) await handle.sync();
    } finally {
      await handle.close();
    }
  } catch (error) {
    await unlink(temp).catch(() => undefined);
    throw error;
  }
  return temp;
}

/**
 * Removes the temporary files of {@link publishFileExclusive} in `dir` that processes of this host left when they died
 * between writing one and removing it (kill -9, power loss): those whose name carries this host's tag and a pid that
 * no longer runs (not this process's). Best effort: an error leaves the rest for the next call. Another host's, one
 * whose pid runs again (a reused pid), and one of an earlier version's name (without the host tag) are left alone.
 * Reads every entry of `dir`: give it a directory of few entries (the data directory itself, or a `tempDir` of
 * {@link publishFileExclusive}), not one that holds a file per certificate.
 * @returns how many were removed
 */
export async function removeLeftoverTemps(dir: string): Promise<number> {
  let removed = 0;
  try {
    for await (const entry of await opendir(dir)) {
      const match = TEMP_NAME.exec(entry.name);
      if (!match || match[1] !== HOST_TAG) continue;
      const pid = Number(match[2]);
      if (pid === process.pid || processRuns(pid)) continue;
      try {
        await unlink(join(dir, entry.name));
        removed += 1;
      } catch {
        // gone meanwhile (another process's sweep), or not a file
      }
    }
  } catch {
    // best effort
  }
  return removed;
}

/**
 * Atomically creates `path` with `data` unless it already exists
 * ("write temp + fsync + link"): readers see either no file or the complete
 * file, and when several writers race exactly one wins. On a file system
 * without hard links (link(2) answers EPERM, ENOTSUP…) `path` is created in
 * place (`wx`) instead, and removed again when writing it fails. Returns whether this
 * call created the file. A failure leaves no temporary file (a crash may: see
 * {@link removeLeftoverTemps}). `durable: false` skips the two fsyncs (of the
 * file and of the directory): still whole or absent (where hard links work) after a process crash or
 * a full disk, but after a power loss it may be missing or empty (a
 * convenience copy that something else records durably). `tempDir`: the directory the temporary file is written in
 * (default: `path`'s), an existing one on the same file system as `path` (link(2) answers EXDEV across two), so that
 * {@link removeLeftoverTemps} can sweep a small directory rather than a large one such as `certs/`.
 */
export async function publishFileExclusive(
  path: string,
  data: string | Uint8Array,
  mode: number,
  options: { durable?: boolean; tempDir?: string } = {},
): Promise<boolean> {
  const durable = options.durable ?? true;
  const temp = await writeTemp(path, data, mode, durable, options.tempDir);
  let inPlace = false;
  try {
    await link(temp, path);
    return true;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? "";
    if (code === "EEXIST") return false;
    if (!NO_HARD_LINKS.has(code)) throw error;
    inPlace = true;
  } finally {
    // The file is linked (or not) whatever becomes of its temporary name: a failed unlink (another process's sweep
    // took it) must not turn a created file into a failure.
    await unlink(temp).catch(() => undefined);
    if (durable) await fsyncDirectory(dirname(path));
  }
  return inPlace && createInPlace(path, data, mode, durable);
}

/** What link(2) answers on a file system without hard links (some FUSE and network mounts). */
const NO_HARD_LINKS = new Set(["EPERM", "ENOTSUP", "EOPNOTSUPP", "ENOSYS"]);

/**
 * {@link publishFileExclusive} without hard links: `path` created in place (`wx`: false when it exists), and removed
 * again when writing it fails (a full disk), so a failed write still leaves nothing; only a crash between the two can
 * leave a part of it there.
 */
async function createInPlace(path: string, data: string | Uint8Array, mode: number, durable: boolean): Promise<boolean> {
  let handle: FileHandle;
  try {
    handle = await open(path, "wx", mode);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw error;
  }
  try {
    await handle.writeFile(data);
    if (durable) await handle.sync();
  } catch (error) {
    await handle.close().catch(() => undefined);
    await unlink(path).catch(() => undefined);
    throw error;
  }
  await handle.close();
  if (durable) await fsyncDirectory(dirname(path));
  return true;
}

/**
 * Open flags of an appender's descriptor on Linux: `O_DSYNC`, so each `write(2)` returns once its data, and the
 * metadata needed to read it back, are on disk, as though an `fdatasync` followed it (open(2)). Undefined elsewhere:
 * on macOS Node's `fdatasync` is `fcntl(F_FULLFSYNC)`, which also empties the drive's write cache where an `O_DSYNC`
 * write does not, and Windows has no `O_DSYNC`; there the write is followed by `fdatasync`.
 */
const SYNC_APPEND_FLAGS: number | undefined =
  process.platform === "linux" && constants.O_DSYNC !== undefined ? constants.O_WRONLY | constants.O_CREAT | constants.O_APPEND | constants.O_DSYNC : undefined;

/** Options of {@link GroupAppender}. */
export interface GroupAppenderOptions {
  /** Permission bits of the file when it is created (default `0o644`). */
  mode?: number;
  /** Milliseconds without a record after which the descriptor is closed (default 1000). */
  idleCloseMs?: number;
  /** A lock that whoever replaces the file holds too: each batch is written inside it (see {@link GroupAppender}). */
  exclusive?: <T>(run: () => Promise<T>) => Promise<T>;
  /**
   * Open the file with `O_DSYNC` ({@link SYNC_APPEND_FLAGS}; default: where it is defined, Linux); false: a write, then
   * an `fdatasync`, per batch.
   */
  syncWrites?: boolean;
}

/**
 * Appends records to one file durably, with group commit: `append` queues a record; a flusher writes every queued
 * record with ONE `write(2)` on an `O_APPEND` descriptor, makes it durable, and only then resolves all of their
 * promises. Records queued while a batch is being written or synced form the next batch. So under load one sync makes many
 * records durable, and a record's promise never resolves before it is on disk.
 *
 * On Linux ({@link SYNC_APPEND_FLAGS}) the descriptor is opened with `O_DSYNC`, and the write is durable when it
 * returns: one thread-pool job a batch. Elsewhere (or with `syncWrites: false`) the write is followed by ONE
 * `fdatasync`: two jobs. Each job is a round trip between threads, which on a small VM costs more CPU than the
 * write itself (~70 µs against a few µs on the 2-vCPU development machine).
 *
 * Concurrent appenders (other instances, threads or processes) never
 * interleave inside one write on a local file system. A failed or short
 * write rejects the whole batch (a partial batch is at worst a torn last
 * line, which readers skip); the next batch reopens the file.
 *
 * The descriptor stays open while records keep coming and is closed once no
 * record has come for `idleCloseMs` (an unref'd timer: it never keeps the
 * process alive). Under load that saves an open and a close per batch, each a
 * thread-pool round trip that costs the event loop more than the write itself
 * on a small VM. The file must not be replaced while records come in (the
 * issuance index is append-only), unless `exclusive` is given: each batch is then
 * written inside `exclusive` (a lock that whoever replaces the file holds too),
 * after checking there that the kept descriptor is still the file at `path`
 * (reopened when it was replaced), so no record goes to a replaced file.
 */
export class GroupAppender {
  readonly #path: string;
  readonly #mode: number;
  readonly #idleCloseMs: number;
  #queue: { data: Uint8Array; resolve: () => void; reject: (error: unknown) => void }[] = [];
  #flushing = false;
  #handle: FileHandle | undefined;
  #idleTimer: ReturnType<typeof setTimeout> | undefined;
  readonly #exclusive: (<T>(run: () => Promise<T>) => Promise<T>) | undefined;
  /** The descriptor's open flags: {@link SYNC_APPEND_FLAGS} (each write durable), or `"a"` (a write, then fdatasync). */
  readonly #flags: number | "a";

  constructor(path: string, options: GroupAppenderOptions = {}) {
    this.#path = path;
    this.#mode = options.mode ?? 0o644;
    this.#idleCloseMs = options.idleCloseMs ?? 1000;
    this.#exclusive = options.exclusive;
    this.#flags = options.syncWrites !== false && SYNC_APPEND_FLAGS !== undefined ? SYNC_APPEND_FLAGS : "a";
  }

  /** Resolves once `data` is written and on disk (together with the rest of its batch). */
  append(data: Uint8Array): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#queue.push({ data, resolve, reject });
      if (!this.#flushing) void this.#flush();
    });
  }

  async #flush(): Promise<void> {
    this.#flushing = true;
    let handle = this.#handle;
    while (this.#queue.length > 0) {
      let batch = this.#queue;
      try {
        const write = async (): Promise<void> => {
          // A file that may be replaced (under `exclusive`, held now): a kept descriptor of a replaced file is dropped.
          if (handle && this.#exclusive && !(await isFileAt(handle, this.#path))) {
            await handle.close().catch(() => undefined);
            handle = undefined;
          }
          // Taken after the (possible) open, so records queued meanwhile join this batch.
          handle ??= await open(this.#path, this.#flags, this.#mode);
          batch = this.#queue;
          this.#queue = [];
          const data = batch.length === 1 ? batch[0]!.data : Buffer.concat(batch.map((b) => b.data));
          const { bytesWritten } = await handle.write(data, 0, data.byteLength);
          if (bytesWritten !== data.byteLength) {
            throw new Error(`short write to ${this.#path}: ${bytesWritten} of ${data.byteLength} bytes`);
          }
          if (this.#flags === "a") await handle.datasync(); // an O_DSYNC write is on disk when it returns
        };
        await (this.#exclusive ? this.#exclusive(write) : write());
        for (const b of batch) b.resolve();
      } catch (error) {
        if (batch === this.#queue) this.#queue = []; // open failed: fail what was waiting
        for (const b of batch) b.reject(error);
        await handle?.close().catch(() => undefined);
        handle = undefined;
      }
    }
    // Idle: keep the descriptor for the next batch; closed after idleCloseMs without one.
    this.#handle = handle;
    if (handle) this.#armIdleClose();
    this.#flushing = false;
  }

  #armIdleClose(): void {
    if (this.#idleTimer) {
      this.#idleTimer.refresh();
      return;
    }
    this.#idleTimer = setTimeout(() => {
      this.#idleTimer = undefined;
      if (this.#flushing) return; // that flush re-arms the timer when it ends
      const handle = this.#handle;
      this.#handle = undefined;
      void handle?.close().catch(() => undefined);
    }, this.#idleCloseMs);
    this.#idleTimer.unref();
  }
}

/** Whether `handle` is the file now at `path` (false when `path` is gone or another file: replaced by a rename). */
async function isFileAt(handle: FileHandle, path: string): Promise<boolean> {
  const [held, named] = await Promise.all([handle.stat(), stat(path).catch(() => undefined)]);
  return named !== undefined && held.ino === named.ino && held.dev === named.dev;
}

/** Creates `path` empty if it does not exist, durably (fsync of the directory). */
export async function ensureFile(path: string, mode = 0o644): Promise<void> {
  const handle = await open(path, "a", mode);
  await handle.close();
  await fsyncDirectory(dirname(path));
}

/** `path` opened for reading, or undefined when it does not exist (ENOENT); rejects with any other error of `open`. */
export async function openIfExists(path: string): Promise<FileHandle | undefined> {
  try {
    return await open(path, "r");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}

/** Whether `path` exists (any type). */
export async function pathExists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw error;
  }
}
