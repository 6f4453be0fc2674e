// Crash-safe file primitives. "Durable" means: once the promise resolves, the
// data and the directory entry survive a process crash (kill -9) and, as far as
// the file system honours fsync, a power loss.
import { randomBytes } from "node:crypto";
import { access, link, mkdir, open, unlink } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";

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

/** Writes `data` to a fresh temporary file next to `path`, fsynced. Returns its name. */
async function writeTemp(path: string, data: string | Uint8Array, mode: number): Promise<string> {
  const temp = join(
    dirname(path),
    `.${basename(path)}.tmp-${process.pid}-${randomBytes(6).toString("hex")}`,
  );
  const handle = await open(temp, "wx", mode);
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
  return temp;
}

/**
 * Atomically creates `path` with `data` unless it already exists
 * ("write temp + fsync + link"): readers see either no file or the complete
 * file, and when several writers race exactly one wins. Returns whether this
 * call created the file.
 */
export async function publishFileExclusive(
  path: string,
  data: string | Uint8Array,
  mode: number,
): Promise<boolean> {
  const temp = await writeTemp(path, data, mode);
  try {
    await link(temp, path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw error;
  } finally {
    await unlink(temp);
    await fsyncDirectory(dirname(path));
  }
}

/**
 * Creates `path` (which must not exist) with `data`, fsyncs it and its
 * directory. Not atomic: a crash can leave a partial file, so use it only where
 * something else (the index) says whether the file is complete.
 */
export async function writeNewFileDurable(
  path: string,
  data: string | Uint8Array,
  mode: number,
): Promise<void> {
  const handle = await open(path, "wx", mode);
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await fsyncDirectory(dirname(path));
}

/**
 * Appends `data` with one `write(2)` on an `O_APPEND` descriptor, then
 * fdatasync. Concurrent appenders (threads or processes) never interleave
 * inside one record on a local file system. A short write is reported as an
 * error (the partial record is then a torn line that readers skip).
 */
export async function appendDurable(path: string, data: Uint8Array, mode = 0o644): Promise<void> {
  const handle = await open(path, "a", mode);
  try {
    const { bytesWritten } = await handle.write(data, 0, data.byteLength);
    if (bytesWritten !== data.byteLength) {
      throw new Error(`short write to ${path}: ${bytesWritten} of ${data.byteLength} bytes`);
    }
    await handle.datasync();
  } finally {
    await handle.close();
  }
}

/** Creates `path` empty if it does not exist, durably (fsync of the directory). */
export async function ensureFile(path: string, mode = 0o644): Promise<void> {
  const handle = await open(path, "a", mode);
  await handle.close();
  await fsyncDirectory(dirname(path));
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
