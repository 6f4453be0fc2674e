// A file an example server writes once into its data directory and never replaces (the generated challenge):
// created whole or not at all, so a crash or a full disk between creating it and writing it never leaves an empty or
// half file that the next start trips over.
import { randomBytes } from "node:crypto";
import { link, open, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";

/**
 * Creates `path` holding `data`, with permission bits `mode`, unless a file is there already, which is kept as it is.
 * The data goes into a temporary file next to it (created `wx` with `mode`, written, fdatasync'ed), which is then
 * hard-linked to `path` (`link(2)` fails with EEXIST rather than replace a file): a reader, a concurrent start or the
 * next start after a crash sees no file or the whole one. The temporary name is removed in every case; a crash before
 * that leaves at most a `.<name>.<pid>.<random>.tmp` beside it (mode `mode`), never `path` itself. On a file system
 * without hard links, `path` is created in place and removed again when writing it fails.
 *
 * @returns true when this call created `path`, false when it existed.
 * @throws the file system's error (ENOSPC, EACCES, EROFS, …) when `path` could not be created; nothing is left then.
 *
 * @example
 * ```ts
 * const created = await createFileOnce(join(dataDir, "challenge"), randomBytes(16).toString("hex") + "\n", 0o600);
 * ```
 */
export async function createFileOnce(path: string, data: string | Uint8Array, mode: number): Promise<boolean> {
  const temporary = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`);
  const file = await open(temporary, "wx", mode);
  try {
    try {
      await file.writeFile(data);
      await file.datasync();
    } finally {
      await file.close();
    }
    try {
      await link(temporary, path);
    } catch (e) {
      if (!NO_HARD_LINKS.has((e as NodeJS.ErrnoException).code ?? "")) throw e;
      return await createInPlace(path, data, mode);
    }
    await syncDirectory(dirname(path));
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw e;
  } finally {
    await unlink(temporary).catch(() => undefined);
  }
}

/** What link(2) answers on a file system without hard links (some FUSE and network mounts). */
const NO_HARD_LINKS = new Set(["EPERM", "ENOTSUP", "EOPNOTSUPP", "ENOSYS"]);

/**
 * Without hard links: created in place (`wx`), and removed again when writing it fails (a full disk), so a failed
 * write still leaves nothing; only a crash between the two can leave a part of it there.
 */
async function createInPlace(path: string, data: string | Uint8Array, mode: number): Promise<boolean> {
  const file = await open(path, "wx", mode);
  try {
    await file.writeFile(data);
    await file.datasync();
  } catch (e) {
    await file.close().catch(() => undefined);
    await unlink(path).catch(() => undefined);
    throw e;
  }
  await file.close();
  return true;
}

/** fsync a directory, so the entry just linked in it survives a power loss too (best effort: not every system can). */
async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, "r").catch(() => undefined);
  try {
    await handle?.sync();
  } catch {
    /* EISDIR, EINVAL, EPERM: a file system (or Windows) that cannot fsync a directory */
  } finally {
    await handle?.close();
  }
}
