// Temporary files a crash (kill -9, power loss) leaves in a data directory, removed when a CA opens it: each open
// reads two small directories (the data directory itself and certs/.tmp), never certs/ with its file per certificate.
//
// What writes temporary files there:
// - publishFileExclusive (lib/durable-fs.ts): `.<name>.tmp-<host tag>-<pid>-<12 hex>` next to ca.key and ca.pem (a CA
//   created on first start) and the example servers' `challenge`; in certs/.tmp for each certs/<serial>.pem copy.
//   Removed when their host is this one and their pid no longer runs (removeLeftoverTemps).
// - replaceFileUnderLock: one fixed name per file, `<file>.tmp`, written only while `<file>'s lock` is held
//   (revocations.jsonl, crl-numbers, unsettled.jsonl under their own locks; ca.crl and ca.crl.json under ca.crl.lock).
//   Removed under that lock, taken without waiting: a holder that runs is writing it now, and renames it itself; and
//   only when the lock is free or its holder is a gone process of this host (another host's holder may be running).
// The issuance index and epochs/ are written in place (O_APPEND, O_EXCL): no temporary files.
import { readdir, stat, unlink } from "node:fs/promises";
import { join } from "node:path";
import { CRL_FILE, CRL_STATE_FILE } from "./crl-publication.js";
import { withFileLock } from "./file-lock.js";
import { ensureDirectory, removeLeftoverTemps } from "./lib/durable-fs.js";
import { CRL_NUMBERS_FILE, REVOCATIONS_FILE } from "./revocation-file.js";
import { UNSETTLED_FILE } from "./unsettled-issues.js";

/** Directory (inside dataDir) with a convenience PEM copy of each issued certificate. */
export const CERTS_DIR = "certs";
/**
 * Directory (inside dataDir) where the temporary files of the `certs/<serial>.pem` copies are written, then linked to
 * their names: inside certs/, so on its file system (link(2) works), and small, so an open sweeps it cheaply.
 */
export const CERTS_TEMP_DIR = join(CERTS_DIR, ".tmp");

/** The fixed temporary names of replaceFileUnderLock in dataDir, each with the lock its writer holds. */
const LOCKED_TEMPS: ReadonlyMap<string, string> = new Map([
  [`${REVOCATIONS_FILE}.tmp`, `${REVOCATIONS_FILE}.lock`],
  [`${CRL_NUMBERS_FILE}.tmp`, `${CRL_NUMBERS_FILE}.lock`],
  [`${UNSETTLED_FILE}.tmp`, `${UNSETTLED_FILE}.lock`],
  [`${CRL_FILE}.tmp`, `${CRL_FILE}.lock`],
  [`${CRL_STATE_FILE}.tmp`, `${CRL_FILE}.lock`],
]);

/**
 * Removes what crashed processes of this host left in `dataDir` (best effort: a failure leaves the rest for the next
 * open): the temporary files of publishFileExclusive in `dataDir` and, with `certificateFiles`, in `certs/.tmp`; and
 * the fixed-name temporary files whose lock it takes at once (free, or held by a gone process of this host; never one
 * held on another host). The first open of a data directory without `certs/.tmp` (made by an earlier version, which
 * wrote its temporary copies into certs/ itself) reads certs/ once for those, then creates `certs/.tmp`; later opens
 * never read certs/.
 * @throws the file system's error when `certs/.tmp` cannot be created (the caller's STORAGE_FAILED)
 */
export async function removeLeftovers(dataDir: string, certificateFiles: boolean): Promise<void> {
  await removeLeftoverTemps(dataDir);
  let names: string[] = [];
  try {
    names = await readdir(dataDir);
  } catch {
    // best effort
  }
  for (const name of names) {
    const lock = LOCKED_TEMPS.get(name);
    if (lock === undefined) continue;
    // Never a lock held on another host (its pid cannot be checked here) or with an unreadable holder: taking that over
    // would delete the file its holder is writing, and fail its rename.
    await withFileLock(join(dataDir, lock), () => unlink(join(dataDir, name)), { waitMs: 0, takeOverOtherHosts: false }).catch(() => undefined);
  }
  if (!certificateFiles) return;
  const temps = join(dataDir, CERTS_TEMP_DIR);
  if (await isDirectory(temps)) {
    await removeLeftoverTemps(temps);
    return;
  }
  // Once per data directory: an earlier version's temporary copies sit in certs/ among the certificates.
  await removeLeftoverTemps(join(dataDir, CERTS_DIR));
  await ensureDirectory(temps);
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}
