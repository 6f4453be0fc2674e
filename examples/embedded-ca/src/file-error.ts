// Why a file could not be read or written, in words (shared by the embedded CA, the example servers and the proxy).

/** The words for the errno codes a file operation raises that a user can act on. */
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
  EROFS: "read-only file system",
  EEXIST: "it already exists",
  EBUSY: "the file is busy",
  EIO: "input/output error",
  ENXIO: "no such device",
};

/**
 * What went wrong with a file, in words and then its code: `no such file (ENOENT)`,
 * `permission denied (EACCES)`; for an unknown code Node's own first message line (which names the code).
 * No path (the caller names the file once).
 */
export function fileErrorReason(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (typeof code === "string" && FILE_ERRORS[code]) return `${FILE_ERRORS[code]} (${code})`;
  const message = error instanceof Error ? error.message.split("\n", 1)[0]!.replace(/, \w+ '.*'$/, "") : "";
  return message || (typeof code === "string" ? code : "unknown error");
}
