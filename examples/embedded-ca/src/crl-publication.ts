// The CRL every process of one data directory serves (RFC 5280 §5.2.3: the cRLNumber of a CA's CRLs only grows).
//
// `<dataDir>/ca.crl`: the last CRL signed for this CA by any process using the directory (DER, for whoever reads the
// file: a web server, a mirror, `openssl crl`). `<dataDir>/ca.crl.json`: the same CRL with what the processes need to
// share it: the CA's fingerprint, the revocation state it lists (the key FileCa caches it under), its number and times.
// Both are replaced only while `<dataDir>/ca.crl.lock` is held (file-lock.ts), only by a CRL with a higher number,
// each by temporary file + fdatasync + rename: a reader never sees half a file nor a number lower than one it saw.
// The state file goes first: a process that adopts it before ca.crl is renamed serves the same CRL the file is about
// to hold. A state file is used (served, adopted, copied to ca.crl, restored from) only once its CRL is checked as the
// CA's (published-crl-trust.ts: issuer, signature, and the number and times the file states are the CRL's own); one
// that is not is told once per version to `onUntrusted` and replaced by the next CRL signed. Its number is a floor for
// the next CRL number (RFC 5280 §5.2.3) only when the CA's own signature vouches for it: the cRLNumber inside a CRL
// that verifies under the CA's key (where only what the JSON states about it is wrong). A number the JSON states, or
// one inside a CRL that does not verify, is no floor: the file is on disk, and whoever can write it (or a corruption)
// would otherwise set the CA's next number, up to 2^159 - 1, which locks the CA out of new CRLs. A state file that
// does not parse (damaged, cut short, a field missing) is told to `onUntrusted` too, once per version, with no
// number. The `ca.crl` copy's number is a floor as well when that CRL verifies under the CA's key: it is a CRL this
// CA signed, so a new CRL is numbered above it even after the state file was damaged or restored from a backup and
// the revocation store (and its CRL counter) was reset.
import { stat, readFile } from "node:fs/promises";
import { join } from "node:path";
import { MAX_CRL_NUMBER, StoreUnavailableError, isStoreUnavailable } from "@scep/core";
import type { SignedCrl } from "./open-file-ca.js";
import { fsyncDirectory, replaceFileUnderLock } from "./lib/durable-fs.js";
import { withFileLock } from "./file-lock.js";
import { toPem } from "./lib/pem.js";
import type { CrlParts } from "./crl-entries.js";
import { checkPublishedCrl, signedCrlNumberOf, type CrlTrustAnchor } from "./published-crl-trust.js";
import { StalenessGate, type Staleness } from "./lib/staleness.js";

/** Replaces a file of the publication (readable by all: a web server or mirror serves ca.crl) while the lock is held. */
const replace = (path: string, data: string | Uint8Array): Promise<void> => replaceFileUnderLock(path, data, 0o644);

/** The published CRL in a data directory (DER). */
export const CRL_FILE = "ca.crl";
/** The published CRL with its revocation-state key, for the other processes of the data directory (JSON). */
export const CRL_STATE_FILE = "ca.crl.json";

/** A CRL and the revocation state it lists (FileCa's cache key). */
export interface PublishedCrl {
  signed: SignedCrl;
  key: string;
  /** Its parts as read and checked from ca.crl.json (undefined for a CRL this process signed). */
  parts?: CrlParts;
}

/**
 * What {@link CrlPublicationOptions.onUntrusted} hears: the CRL number ca.crl.json states (absent when the file does
 * not parse), and one line saying why it is not used.
 */
export interface UntrustedCrlEvent {
  crlNumber?: bigint;
  reason: string;
}

interface StateFile {
  fingerprintSha256: string;
  key: string;
  crlNumber: string;
  thisUpdate: string;
  nextUpdate: string;
  revokedCount: number;
  der: string;
}

/**
 * The state file's CRL as it states it; `{ unreadable }`, one line saying why, when it is not a state file (not JSON,
 * a field missing or of the wrong kind); undefined when it is another CA's (the directory's CA was replaced: expected,
 * not told).
 */
function parseState(text: string, fingerprintSha256: string): PublishedCrl | { unreadable: string } | undefined {
  let value: Partial<StateFile>;
  try {
    value = JSON.parse(text) as Partial<StateFile>;
  } catch {
    return { unreadable: `${CRL_STATE_FILE} is not JSON (damaged or cut short)` };
  }
  if (typeof value !== "object" || value === null) return { unreadable: `${CRL_STATE_FILE} is not a JSON object` };
  if (typeof value.fingerprintSha256 !== "string") return { unreadable: `${CRL_STATE_FILE} lacks its fingerprintSha256` };
  if (value.fingerprintSha256 !== fingerprintSha256) return undefined;
  if (typeof value.key !== "string" || typeof value.der !== "string" || typeof value.crlNumber !== "string" || !/^\d{1,48}$/.test(value.crlNumber)) {
    return { unreadable: `${CRL_STATE_FILE} lacks its key, der or crlNumber (or one is malformed)` };
  }
  const thisUpdate = new Date(String(value.thisUpdate));
  const nextUpdate = new Date(String(value.nextUpdate));
  if (Number.isNaN(thisUpdate.getTime()) || Number.isNaN(nextUpdate.getTime()) || !Number.isSafeInteger(value.revokedCount)) {
    return { unreadable: `${CRL_STATE_FILE} lacks a valid thisUpdate, nextUpdate or revokedCount` };
  }
  const der = new Uint8Array(Buffer.from(value.der, "base64"));
  return { key: value.key, signed: { der, pem: toPem("X509 CRL", der), crlNumber: BigInt(value.crlNumber), thisUpdate, nextUpdate, revokedCount: value.revokedCount! } };
}

function unavailable(what: string, cause: unknown): StoreUnavailableError {
  const reason = (cause as NodeJS.ErrnoException).code ?? (cause as Error).message;
  return new StoreUnavailableError(`${what}: ${reason}`, { cause });
}

/** How {@link CrlPublication} decides when to look at `ca.crl.json` again. */
export interface CrlPublicationOptions {
  /** How long (ms) {@link CrlPublication.read} answers what it read last before it stats the file again (0: every call), measured with which monotonic clock: checked by the caller (openFileCa). */
  staleness: Staleness;
  /** Told once per version of ca.crl.json whose CRL is not the CA's (it is then not used); a throw is ignored. */
  onUntrusted?: (event: UntrustedCrlEvent) => void;
}

/** Reads and replaces the published CRL of one data directory for one CA. */
export class CrlPublication {
  readonly #dataDir: string;
  readonly #fingerprintSha256: string;
  readonly #anchor: CrlTrustAnchor;
  readonly #onUntrusted: ((event: UntrustedCrlEvent) => void) | undefined;
  /** What the state file was when last read (inode, size, mtime), and what it held (undefined: nothing of the CA's). */
  #seen: string | undefined;
  #last: PublishedCrl | undefined;
  /**
   * The cRLNumber inside the CRL of a state file that is not used but whose CRL verifies under the CA's key (a number
   * this CA signed: a floor for the next one), else 0.
   */
  #untrustedNumber = 0n;
  /** When the file was last looked at (a read that succeeded, or this object's own write). */
  readonly #staleness: StalenessGate;
  /**
   * Whether a publication of this object replaced ca.crl.json but not ca.crl (its write failed: a full disk between the
   * two), so ca.crl still holds an older CRL until {@link repairCopy} rewrites it.
   */
  #copyBehind = false;

  /**
   * @param anchor - the CA certificate's subject and public key, which a published CRL must name and verify with
   */
  constructor(dataDir: string, fingerprintSha256: string, anchor: CrlTrustAnchor, options: CrlPublicationOptions) {
    this.#dataDir = dataDir;
    this.#fingerprintSha256 = fingerprintSha256;
    this.#anchor = anchor;
    this.#onUntrusted = options.onUntrusted;
    this.#staleness = new StalenessGate(options.staleness);
  }

  /**
   * The published CRL of this CA, or undefined (none yet, another CA's, unreadable, or not checked as the CA's: see the
   * module comment; `onUntrusted` hears why, once per version of the file). What was read last while the
   * file was looked at less than `maxStalenessMs` ago (this object's own publications count at once), else one stat,
   * and a read only when the file changed; `{ latest: true }` stats it now.
   * @throws StoreUnavailableError (`ERR_STORE_UNAVAILABLE`) when the file system fails (other than a missing file).
   */
  async read(options: { latest?: boolean } = {}): Promise<PublishedCrl | undefined> {
    if (options.latest !== true && this.#staleness.fresh()) return this.#last;
    const startedAt = this.#staleness.now();
    const path = join(this.#dataDir, CRL_STATE_FILE);
    let seen: string;
    try {
      const s = await stat(path, { bigint: true });
      seen = `${s.ino}:${s.size}:${s.mtimeNs}`;
      if (seen !== this.#seen) this.#last = this.#checked(parseState(await readFile(path, "utf8"), this.#fingerprintSha256));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw unavailable(`cannot read ${CRL_STATE_FILE}`, e);
      seen = "missing";
      this.#last = undefined;
      this.#untrustedNumber = 0n;
    }
    this.#seen = seen;
    this.#staleness.looked(startedAt);
    return this.#last;
  }

  /** `parsed` when its CRL is the CA's as stated (with its parts), else undefined, told to onUntrusted (but another CA's file). */
  #checked(parsed: PublishedCrl | { unreadable: string } | undefined): PublishedCrl | undefined {
    this.#untrustedNumber = 0n;
    if (!parsed) return undefined;
    if ("unreadable" in parsed) {
      this.#tell({ reason: parsed.unreadable });
      return undefined;
    }
    const verdict = checkPublishedCrl(parsed.signed, this.#anchor);
    if ("parts" in verdict) return { ...parsed, parts: verdict.parts };
    // A floor for the next number only when the CA's signature vouches for it (see the module comment): a damaged or
    // forged file's number is not the CA's, and 2^159 - 1 there would leave the CA no number to sign with.
    const signed = verdict.signedCrlNumber;
    if (signed !== undefined && signed <= MAX_CRL_NUMBER) this.#untrustedNumber = signed;
    this.#tell({ crlNumber: parsed.signed.crlNumber, reason: verdict.untrusted });
    return undefined;
  }

  #tell(event: UntrustedCrlEvent): void {
    try {
      this.#onUntrusted?.(event);
    } catch {
      // A log line must not fail the open, the CRL or a revocation check.
    }
  }

  /**
   * The higher of the floor the state file gives (`#untrustedNumber`) and the number of the `ca.crl` copy when its CRL
   * verifies under the CA's key (a CRL this CA signed: normally the state file's own, but it may be ahead of a state
   * file restored from a backup, and it is all there is when the state file is damaged), else 0. Best effort: a
   * `ca.crl` that cannot be read (missing, EACCES, a directory) adds nothing and fails nothing, as before the copy was
   * read. Read only when a CRL is signed, with the lock held.
   */
  async #floor(): Promise<bigint> {
    let copy = 0n;
    try {
      const number = signedCrlNumberOf(new Uint8Array(await readFile(join(this.#dataDir, CRL_FILE))), this.#anchor);
      if (number !== undefined && number <= MAX_CRL_NUMBER) copy = number;
    } catch {
      // no copy to read: the state file's floor alone
    }
    return copy > this.#untrustedNumber ? copy : this.#untrustedNumber;
  }

  /**
   * Runs `sign` while holding the directory's CRL lock, with the CRL published when it starts (undefined when none is
   * the CA's) and the number inside the CRL of a state file that is not used but verifies under the CA's key (else 0:
   * the next number goes above it), and
   * publishes what it answers when its number is above the published one (it must be: callers number from it) or
   * the state file is not the CA's.
   * @throws StoreUnavailableError (`ERR_STORE_UNAVAILABLE`) when the lock cannot be taken or a file cannot be written; `sign`'s own errors as they are.
   */
  async update(sign: (published: PublishedCrl | undefined, untrustedNumber: bigint) => Promise<{ crl: PublishedCrl; fresh: boolean }>): Promise<PublishedCrl> {
    let failure: unknown;
    try {
      return await withFileLock(join(this.#dataDir, `${CRL_FILE}.lock`), async () => {
        const published = await this.read({ latest: true });
        let result: { crl: PublishedCrl; fresh: boolean };
        try {
          result = await sign(published, await this.#floor());
        } catch (e) {
          failure = e;
          throw e;
        }
        if (result.fresh && (!published || result.crl.signed.crlNumber > published.signed.crlNumber)) await this.#write(result.crl);
        return result.crl;
      });
    } catch (e) {
      if (e === failure || isStoreUnavailable(e)) throw e;
      throw unavailable(`cannot publish ${CRL_FILE} in ${this.#dataDir}`, e);
    }
  }

  /**
   * Completes a publication that a crash cut short between its two renames (`ca.crl.json` replaced, `ca.crl` not), or
   * puts back a `ca.crl` that was deleted: when `ca.crl` is not the DER of this CA's `ca.crl.json` (nor a CRL of this
   * CA with a higher number: then the state file is the older one, e.g. restored from a backup), it is rewritten
   * from it while the lock is held; only from a `ca.crl.json` whose CRL is checked as the CA's (else `ca.crl` is left
   * as it is, and `onUntrusted` hears why). Run when a CA opens its data directory: the processes serve the published CRL
   * until half its validity has passed, so nothing else would rewrite `ca.crl` before then.
   * @throws StoreUnavailableError (`ERR_STORE_UNAVAILABLE`) when a file cannot be read or written, or the lock taken.
   */
  async repair(): Promise<void> {
    const crlPath = join(this.#dataDir, CRL_FILE);
    // Left as it is: the state file's CRL, or one of this CA with a higher number (a state file restored from a
    // backup is behind it; that number stays the floor of the next CRL, see #floor).
    const matches = async (published: PublishedCrl): Promise<boolean> => {
      let copy: Buffer;
      try {
        copy = await readFile(crlPath);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === "ENOENT") return false;
        throw unavailable(`cannot read ${CRL_FILE}`, e);
      }
      if (Buffer.from(published.signed.der).equals(copy)) return true;
      const number = signedCrlNumberOf(new Uint8Array(copy), this.#anchor);
      return number !== undefined && number > published.signed.crlNumber;
    };
    const published = await this.read({ latest: true });
    if (!published || (await matches(published))) return;
    try {
      await withFileLock(join(this.#dataDir, `${CRL_FILE}.lock`), async () => {
        const now = await this.read({ latest: true }); // another process may have published since
        if (!now || (await matches(now))) return;
        await replace(crlPath, now.signed.der);
        await fsyncDirectory(this.#dataDir);
      });
    } catch (e) {
      throw isStoreUnavailable(e) ? e : unavailable(`cannot repair ${CRL_FILE} in ${this.#dataDir}`, e);
    }
  }

  async #write(crl: PublishedCrl): Promise<void> {
    const { signed } = crl;
    const state: StateFile = {
      fingerprintSha256: this.#fingerprintSha256,
      key: crl.key,
      crlNumber: String(signed.crlNumber),
      thisUpdate: signed.thisUpdate.toISOString(),
      nextUpdate: signed.nextUpdate.toISOString(),
      revokedCount: signed.revokedCount,
      der: Buffer.from(signed.der).toString("base64"),
    };
    const startedAt = this.#staleness.now();
    const path = join(this.#dataDir, CRL_STATE_FILE);
    await replace(path, `${JSON.stringify(state)}\n`);
    // Our own publication counts at once (the lock is held: the file is ours until it is released).
    const s = await stat(path, { bigint: true });
    this.#seen = `${s.ino}:${s.size}:${s.mtimeNs}`;
    this.#last = crl;
    this.#untrustedNumber = 0n;
    this.#staleness.looked(startedAt);
    // Until ca.crl is replaced too: a failure leaves it behind the state file, which every process now serves.
    this.#copyBehind = true;
    await replace(join(this.#dataDir, CRL_FILE), signed.der);
    this.#copyBehind = false;
    await fsyncDirectory(this.#dataDir);
  }

  /**
   * After a publication of this object whose `ca.crl` could not be written (ca.crl.json was: a full disk between the
   * two writes), rewrites `ca.crl` from the state file ({@link repair}): no other process knows, and nothing else
   * would before the next CRL is signed (half its validity later) or the next open, while whoever reads `ca.crl` (a
   * web server, a mirror) gets the older CRL, without the revocations since. Nothing to do otherwise (one test of a
   * flag).
   * @throws StoreUnavailableError (`ERR_STORE_UNAVAILABLE`) when it still cannot be written (tried again next call).
   */
  async repairCopy(): Promise<void> {
    if (!this.#copyBehind) return;
    await this.repair();
    this.#copyBehind = false;
  }
}
