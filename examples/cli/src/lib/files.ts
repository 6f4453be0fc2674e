/**
 * Reading inputs and writing outputs, relative to the user's directory.
 *
 * @module
 */
import { accessSync, closeSync, constants, existsSync, fchmodSync, fsyncSync, linkSync, openSync, readFileSync, realpathSync, renameSync, statSync, unlinkSync, writeFileSync, writeSync } from "node:fs";
import { basename, dirname, extname, join, resolve } from "node:path";
import { createHash, randomBytes } from "node:crypto";
import type { Certificate } from "@scep/core";
import { CliError, ExitCode, UsageError } from "./exit.js";
import type { Context } from "./context.js";

/** Resolves a path the user gave against the directory they ran the command from. */
export function resolvePath(ctx: Context, path: string): string {
  return resolve(ctx.cwd, path);
}

/** Words for the errno codes reading or writing a file raises (the CLI depends on @scep/core only: the example servers keep their own list). */
const FILE_ERRORS: Record<string, string> = {
  ENOENT: "no such file",
  EACCES: "permission denied",
  EPERM: "operation not permitted",
  EISDIR: "it is a directory, not a file",
  ENOTDIR: "a part of the path is not a directory",
  ELOOP: "too many symbolic links",
  ENAMETOOLONG: "the name is too long",
  EMFILE: "too many open files in this process",
  ENFILE: "too many open files on this machine",
  ENOSPC: "no space left on the device",
  EDQUOT: "the disk quota is used up",
  EFBIG: "the file is larger than this process may write (ulimit -f) or the file system holds",
  EROFS: "read-only file system",
  EEXIST: "it already exists",
  EBUSY: "the file is busy",
  EIO: "input/output error",
  ENXIO: "no such device",
};

/** What went wrong with a file, in words and then its code (`no such file (ENOENT)`); no path. */
export function fileErrorReason(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (typeof code === "string" && FILE_ERRORS[code]) return `${FILE_ERRORS[code]} (${code})`;
  const message = error instanceof Error ? error.message.split("\n", 1)[0]!.replace(/, \w+ '.*'$/, "") : "";
  return message || (typeof code === "string" ? code : "unknown error");
}

/** Reads a text input file, or fails with exit 66. */
export function readInput(ctx: Context, path: string, what: string): string {
  const full = resolvePath(ctx, path);
  try {
    return readFileSync(full, "utf8");
  } catch (error) {
    throw new CliError(`cannot read ${what} ${path}: ${fileErrorReason(error)}`, ExitCode.NO_INPUT);
  }
}

/**
 * Writes `data` whole to a new temporary file next to `full` (`.<name>.<random>.tmp`, created exclusively with `mode`)
 * and flushes it to the disk (fsync), so that what is then linked or renamed into place is never a part of it.
 * Returns the temporary file's path; on an error removes what it wrote and throws that error. `exactMode`: the file gets
 * `mode` as given, whatever the umask takes off at creation (an existing file's mode, kept).
 */
function writeTemporary(full: string, data: string | Uint8Array, mode: number, exactMode = false): string {
  const temporary = join(dirname(full), `.${basename(full)}.${randomBytes(6).toString("hex")}.tmp`);
  let fd: number | undefined;
  try {
    fd = openSync(temporary, "wx", mode);
    if (exactMode) fchmodSync(fd, mode); // the umask took bits off at open: an existing file's mode is kept as it was
    const bytes = typeof data === "string" ? Buffer.from(data, "utf8") : data;
    for (let at = 0; at < bytes.length; ) at += writeSync(fd, bytes, at, bytes.length - at);
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    return temporary;
  } catch (error) {
    if (fd !== undefined) closeSync(fd);
    removeQuietly(temporary);
    throw error;
  }
}

/** Removes a file, ignoring any error (it may not exist). */
function removeQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    /* gone already, or not ours to remove */
  }
}

/**
 * Writes an output file, text or bytes, atomically: the whole content goes to a temporary file in the same directory,
 * which then replaces the file by rename, so a failure (a full disk, a size limit, an interrupt) leaves the file as it
 * was before, never a part of the new content. A symbolic link is followed (its target is replaced). Mode 0600 for
 * keys (`secret`); otherwise an existing file keeps its mode and a new one gets 0644 (less what the umask takes).
 *
 * @returns The absolute path written.
 * @throws CliError with exit 73 (EX_CANTCREAT) when it cannot, the earlier file untouched.
 */
export function writeOutput(ctx: Context, path: string, text: string | Uint8Array, options: { secret?: boolean } = {}): string {
  const full = resolvePath(ctx, path);
  try {
    let target = full;
    let mode = options.secret ? 0o600 : 0o644;
    let existing = false;
    try {
      target = realpathSync(full);
      if (!options.secret) mode = statSync(target).mode & 0o777;
      existing = true;
    } catch {
      /* no such file yet: written at `full` */
    }
    const temporary = writeTemporary(target, text, mode, existing && !options.secret);
    try {
      renameSync(temporary, target);
    } catch (error) {
      removeQuietly(temporary);
      throw error;
    }
  } catch (error) {
    throw new CliError(`cannot write ${path}: ${fileErrorReason(error)}`, ExitCode.CANT_CREATE);
  }
  return full;
}

/**
 * Creates a new file, never over an existing one (one made since {@link assertNoKeyFile} checked, by another run or by
 * hand), mode 0600 for keys (0644 otherwise; umask may take bits off, never add them), atomically: the whole content
 * is written to a temporary file in the same directory and flushed, then hard-linked to the name (which fails when
 * the name exists), so a failure (a full disk, a size limit, an interrupt) leaves no half-written key that a later
 * run would take for the whole one. On a file system without hard links the file is created exclusively and written
 * in place. When `path` exists, tries `name-1.ext` … `name-9.ext` next to it. Returns the path as given (or its
 * numbered sibling) and the absolute path.
 *
 * @throws CliError with exit 73 (EX_CANTCREAT) when none can be created; nothing is left behind.
 */
export function writeNewFile(ctx: Context, path: string, text: string, options: { secret?: boolean } = {}): { path: string; full: string } {
  const ext = extname(path);
  const stem = path.slice(0, path.length - ext.length);
  const mode = options.secret ? 0o600 : 0o644;
  let error: unknown;
  let temporary: string | undefined;
  try {
    temporary = writeTemporary(resolvePath(ctx, path), text, mode);
    for (let n = 0; n < 10; n++) {
      const candidate = n === 0 ? path : `${stem}-${n}${ext}`;
      const full = resolvePath(ctx, candidate);
      try {
        try {
          linkSync(temporary, full);
        } catch (e) {
          // No hard links here (some FUSE, SMB or FAT mounts): created exclusively and written in place.
          if (!["EPERM", "ENOTSUP", "EOPNOTSUPP", "ENOSYS"].includes((e as NodeJS.ErrnoException).code ?? "")) throw e;
          writeFileSync(full, text, { mode, flag: "wx" });
        }
        return { path: candidate, full };
      } catch (e) {
        error ??= e;
        if ((e as NodeJS.ErrnoException).code !== "EEXIST") break;
      }
    }
  } catch (e) {
    error ??= e;
  } finally {
    if (temporary !== undefined) removeQuietly(temporary);
  }
  throw new CliError(`cannot write ${path}: ${fileErrorReason(error)}`, ExitCode.CANT_CREATE);
}

/**
 * Checks, before anything is sent to the CA, that an output file can be written: its directory exists and is
 * writable, and the path is not a directory. Otherwise exit 73 (EX_CANTCREAT) with one line naming the option, the path and
 * "nothing was sent", so an enrollment never issues a certificate whose key or certificate the CLI then cannot save.
 */
export function assertWritable(ctx: Context, command: string, option: string, path: string): void {
  const full = resolvePath(ctx, path);
  const dir = dirname(path);
  const fail = (why: string): never => {
    throw new CliError(`${command}: cannot write ${option} ${path}: ${why}; nothing was sent`, ExitCode.CANT_CREATE);
  };
  let dirStat;
  try {
    dirStat = statSync(dirname(full));
  } catch (error) {
    fail((error as NodeJS.ErrnoException).code === "ENOENT" ? `the directory ${dir} does not exist` : `the directory ${dir}: ${fileErrorReason(error)}`);
  }
  if (!dirStat!.isDirectory()) fail(`${dir} is not a directory`);
  if (existsSync(full) && statSync(full).isDirectory()) fail("it is a directory, not a file");
  try {
    accessSync(dirname(full), constants.W_OK);
  } catch (error) {
    fail(`the directory ${dir}: ${fileErrorReason(error)}`);
  }
}

/** Where a generated key goes without --key-out: `cert.pem` → `cert.key`, next to it. */
export function keyPathNextTo(out: string): string {
  const ext = extname(out);
  return join(dirname(out), `${basename(out, ext)}.key`);
}

/** Refuses to overwrite a key file: an existing key is reused with --key, never clobbered. */
export function assertNoKeyFile(ctx: Context, command: string, path: string): void {
  if (existsSync(resolvePath(ctx, path))) {
    // renew's --key is the old certificate's key: a key an earlier --new-key run saved is polled with the enroll
    // command that run printed.
    const reuse = command === "renew" ? `choose another --key-out (a key an earlier --new-key run saved for a PENDING request: poll with the scep enroll command that run printed, --key ${path})` : `pass --key ${path} to reuse that key, or choose another --key-out`;
    throw new UsageError(`${command}: ${path} already exists; ${reuse}`);
  }
}

/** SHA-256 fingerprint as OpenSSL prints it (`AB:CD:…`). */
export function fingerprint(cert: Certificate): string {
  return createHash("sha256").update(cert.der).digest("hex").toUpperCase().match(/../g)!.join(":");
}

/** Several certificates as one PEM text. */
export function pemBundle(certs: readonly Certificate[]): string {
  return certs.map((c) => c.toPem().trimEnd() + "\n").join("");
}
