// Revocations and CRL numbers kept in the data directory: what the example servers use without Redis, so a
// revocation survives a restart and every worker of --workers N (one data directory, one primary holding its lock)
// sees the same revocations and draws from one CRL number sequence.
//
// revocations.jsonl: one JSON line per revocation; the lines of one call (a revoke, or revokeMany: a keyCompromise
// sweep's thousands) are written with one O_APPEND write (so lines from concurrent workers never interleave) and
// fdatasync'ed once before the call answers. Each line is a revocation of its own: a crash in the write leaves whole
// lines and at most one torn last line, read as below. The file is a journal replayed in order: the
// first line of a serial creates its entry; a later line of that serial whose reason core's upgradesRevocationReason
// allows over the entry's (keyCompromise over a reason that says nothing of the key, CA/B BR §4.9.1.1; any reason but
// certificateHold over a hold, RFC 5280 §5.3.1) sets the entry's reason to its own and keeps the entry's revokedAt
// (its own is ignored); every other later line changes nothing. Nothing is removed but by compaction (below), so a hold is never released. A worker that
// appended a line for a serial another worker revoked just before reads the entry back and answers `created: false`
// (and `updated: true` only if its own line did the upgrade), as the memory store does. Each line carries a random id,
// so a writer knows whether the line that created or upgraded the entry is its own. An upgrade is appended only after
// reading an entry it upgrades, so a repeated keyCompromise adds no line. Read back by offset: every call stats the file and reads only what was appended since, up to the
// last `\n` (a line without it is another worker's write in flight, or a write torn by a crash: picked up once
// complete, and a record glued onto a torn line is still found). A file that shrank or was replaced is read again
// from the start.
//
// Freshness: `get` and `revision` (one of each per enrollment, through FileCa) answer from memory while the file was
// checked less than `maxStalenessMs` ago (default 1000 ms, by a monotonic clock), so a request costs no stat (an
// asynchronous stat is a libuv thread hop, ~0.05–0.1 ms of CPU); once that has passed, the next call stats the file
// and reads what was appended. This store's own revocations advance the memory at once (a revoke reads the file,
// appends and reads back); another process's count within `maxStalenessMs`. `revision({ latest: true })`, `list`,
// `revoke` and `nextCrlNumber` always read the file (a CRL is signed from `list`); concurrent `revision({ latest: true
// })` calls (one per issue's re-check) share one look that starts after each of them was made.
//
// revocations.jsonl may start with `{"revisionBase":N}` (N = the clock's ms × 1000 when the file was created, written
// by whichever store finds the file missing or empty): `revision()` is N plus the number of revoked serials plus the
// number of upgrades replayed, so a file
// that was deleted or emptied (a reset) starts again above every revision the old one answered (RFC 5280 §5.2.3: a CA
// keyed by the revision must see the change). A file written before the header existed counts from 0, as it did.
//
// Compaction (`compact`, which FileCa calls after it published a CRL): the file is rewritten without the entries
// the caller names, except those whose reason is keyCompromise (the CA refuses their key from them, so they stay
// forever). Under `revocations.jsonl.lock` (file-lock.ts), which every revoke holds too, from its read of the entry
// through its append to its read back: the file is read, a new header `{"revisionBase":B}` with B = the revision
// now + 1 - the entries kept, then one line per kept entry (its reason as replayed, its first revokedAt and id) are
// written to `revocations.jsonl.tmp`, fdatasync'ed and renamed over the file, then the directory is fsync'ed. So the
// revision moves on by 1 (the list changed) and never goes back, B is above every earlier base of the directory, a
// crash leaves the old file or the new one whole, and no revoke's line can go to the replaced file. A reader that
// read the old file (to any offset) finds another file at the path and reads it from its start: by device, inode and
// birth time of the descriptor it reads (not the path's stat before it: a rename can come in between), and by the
// file's first bytes (the header, new per compaction), compared whenever new bytes are read and on every look where
// the file system has no birth time, so an inode the new file reuses is not taken for the old file grown. Code from before compaction appends without the lock: no rolling upgrade across it (README).
//
// crl-numbers: the last CRL number handed out, as one line `=N` (RFC 5280 §5.2.3). `nextCrlNumber` holds
// `crl-numbers.lock` (see file-lock.ts) while it reads N and replaces the file with `=M`, M = max(N+1, the caller's
// `atLeast`; FileCa passes its last published CRL number + 1, so a deleted file goes on above it) (temporary file
// `crl-numbers.tmp`, fdatasync, rename, fsync of the directory), so numbers are distinct across workers, grow, go on
// after a restart, and the file stays one line. A crash at any point leaves the old file or the new one whole (rename
// is atomic), never less than the highest number handed out; a lock left by a crashed process is taken over. A file
// of the earlier format (one line per number, a random id each, ~17 bytes a CRL) is read as its count of complete
// lines and replaced by `=N` on the next number (a torn last line, a write that never answered, is not a number).
import { randomBytes } from "node:crypto";
import { open, stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import {
  CrlNumberExhaustedError,
  InvalidArgumentError,
  MAX_CRL_NUMBER,
  StoreUnavailableError,
  isStoreUnavailable,
  checkCrlNumberFloor,
  crlNumberExhausted,
  checkRevocationReason,
  upgradesRevocationReason,
  normalizeSerialNumber,
  revisionBase,
  sortRevocations,
  type RevocationReason,
  type RevocationStore,
  type RevokeResult,
  type RevokedCertificate,
} from "@scep/core";
import { fsyncDirectory, replaceFileUnderLock } from "./lib/durable-fs.js";
import { withFileLock } from "./file-lock.js";
import { jsonObject, readBytes, readCompleteLines, readTornLine, type CompleteLine } from "./lib/jsonl.js";
import { StalenessGate, checkStaleness } from "./lib/staleness.js";

/** The revocations file in a data directory. */
export const REVOCATIONS_FILE = "revocations.jsonl";
/** The CRL number file in a data directory. */
export const CRL_NUMBERS_FILE = "crl-numbers";

const NEWLINE = 0x0a;
const RECORD_START = '{"serialNumber":';
const REVISION_HEADER = /^\{"revisionBase":(\d{1,16})\}$/;
/** How many first bytes of revocations.jsonl name the file (its header and `\n`: 34 bytes until the year 2286). */
const HEAD_BYTES = 64;
/**
 * A compacted crl-numbers line: the last number handed out, decimal, any length. The store never writes one above
 * 2^159 - 1 (RFC 5280 §5.2.3: 20 octets, 48 digits); a longer one (a file edited by hand) still reads as the number it
 * says, so the store refuses to go on (ERR_CRL_NUMBER_EXHAUSTED) rather than take it for an old-format line.
 */
const CRL_NUMBER_LINE = /^=(\d+)$/;

interface Stored extends RevokedCertificate {
  /** The random id of the line that created the entry. */
  id: string;
  /** The random id of the line that last changed its reason (see upgradesRevocationReason), if one did. */
  upgradedBy?: string;
}

/** A revocation line, or undefined. A record glued onto a torn line (a crash mid-write) is found after it. */
function parseLine(line: string): Stored | undefined {
  return readTornLine(line, RECORD_START, parseRecord);
}

function parseRecord(text: string): Stored | undefined {
  const value = jsonObject(text);
  if (!value) return undefined;
  const { serialNumber, reason, revokedAt, id } = value;
  if (typeof serialNumber !== "string" || typeof reason !== "string" || typeof revokedAt !== "string" || typeof id !== "string") return undefined;
  const at = new Date(revokedAt);
  if (Number.isNaN(at.getTime())) return undefined;
  try {
    return { serialNumber: normalizeSerialNumber(serialNumber), reason: checkRevocationReason(reason), revokedAt: at, id };
  } catch {
    return undefined;
  }
}

const copy = (e: RevokedCertificate): RevokedCertificate => ({ serialNumber: e.serialNumber, reason: e.reason, revokedAt: new Date(e.revokedAt.getTime()) });

/** Options of {@link FileRevocationStore}. */
export interface FileRevocationStoreOptions {
  /** Clock of a revocation without `revokedAt` (default `() => new Date()`). */
  now?: () => Date;
  /**
   * How long (ms) `get` and `revision()` may answer from memory before they look at the file again (default 1000; 0:
   * on every call): the most time by which another process's revocation can go unseen. This store's own count at once.
   */
  maxStalenessMs?: number;
  /** Monotonic milliseconds that `maxStalenessMs` is measured with (default `performance.now`); tests inject one. */
  monotonicNow?: () => number;
}

/**
 * A {@link RevocationStore} in a directory (`revocations.jsonl` and `crl-numbers`, see the module comment): kept
 * across restarts and shared by the processes that use the same directory on one machine (the workers of
 * `--workers N`). `get` and `revision` answer from memory, and stat the file at most once per `maxStalenessMs`
 * (default 1000 ms): another process's revocation is seen by them at most that late, this store's own at once.
 * `revision({ latest: true })` and `list` stat the file on every call (and read only what was appended); concurrent
 * `revision({ latest: true })` calls share one stat that starts after each of them was made. A `revoke` holds
 * `revocations.jsonl.lock` (a few file system calls) from its read through its append, so that {@link compact} (which
 * FileCa calls after it published a CRL) never loses one.
 * File system failures reject with StoreUnavailableError (`ERR_STORE_UNAVAILABLE`), which the HTTP layer answers 503.
 *
 * @throws InvalidArgumentError (`ERR_INVALID_ARGUMENT`, from the constructor) for a `maxStalenessMs` that is not a number ≥ 0 or a `monotonicNow` that is not a function
 *
 * @example
 * ```ts
 * const store = new FileRevocationStore("./data");
 * await store.revoke({ serialNumber: "0a1b2c", reason: "keyCompromise" }); // { entry, created: true }
 * await store.nextCrlNumber(); // 1n, then 2n, … also after a restart
 * ```
 */
export class FileRevocationStore implements RevocationStore {
  readonly #path: string;
  readonly #crlPath: string;
  readonly #now: () => Date;
  /** Serial → its entry: its first line's, with an upgrade replayed. */
  #entries = new Map<string, Stored>();
  /** Upgrades replayed (each moves the revision on). */
  #upgrades = 0;
  /** Bytes [0, #readTo) of revocations.jsonl are read; 0 or just after a `\n`. */
  #readTo = 0;
  /** The file read: device, inode and birth time. */
  #id: string | undefined;
  /** Its first bytes (up to HEAD_BYTES, within what was read): another file at the same inode starts otherwise. */
  #head: Buffer | undefined;
  /** The file's `revisionBase` header (0 until one is read). */
  #base = 0;
  /** One operation at a time in this process (a read-then-append must not interleave with another's). */
  #queue: Promise<unknown> = Promise.resolve();
  /** When revocations.jsonl was last looked at, and whether `get` and `revision` may answer from memory. */
  readonly #staleness: StalenessGate;
  /**
   * A `revision({ latest: true })` queued and not started yet: a later ask joins it (its look at the file starts after
   * that ask too), so concurrent latest reads share one stat instead of taking one each in turn.
   */
  #latest: Promise<number> | undefined;

  constructor(directory: string, options: FileRevocationStoreOptions = {}) {
    this.#path = join(directory, REVOCATIONS_FILE);
    this.#crlPath = join(directory, CRL_NUMBERS_FILE);
    this.#now = options.now ?? (() => new Date());
    this.#staleness = new StalenessGate(checkStaleness(options));
  }

  #exclusive<T>(run: () => Promise<T>): Promise<T> {
    const result = this.#queue.then(run);
    this.#queue = result.catch(() => undefined);
    return result;
  }

  /** `run` under revocations.jsonl.lock (no other process's revoke or compaction meanwhile). */
  async #locked<T>(run: () => Promise<T>): Promise<T> {
    let ran = false;
    try {
      return await withFileLock(`${this.#path}.lock`, () => {
        ran = true;
        return run();
      });
    } catch (e) {
      if (ran) throw e; // run's own (typed) error
      throw unavailable(`${this.#path}.lock`, e);
    }
  }

  /** {@inheritDoc RevocationStore.revoke} */
  async revoke(options: { serialNumber: string; reason: RevocationReason; revokedAt?: Date }): Promise<RevokeResult> {
    const [result] = await this.revokeMany([options]);
    return result!;
  }

  /**
   * Records several revocations as {@link revoke} would one after another, with one lock, one O_APPEND write of all
   * the lines that change something and one fdatasync (a keyCompromise sweep of 20 000 certificates of one key, CA/B
   * BR §4.9.1.1: ~1 s instead of over a minute). A serial named twice is an upgrade only if its second reason
   * upgrades its first. Each result's `entry` is the entry once all are written.
   *
   * Crash safety: every line is a revocation of its own, so a crash in the write leaves complete lines (revoked) and
   * at most one torn last line, which readers ignore (a line appended later glued onto it is still read), as a crash
   * between revokes made one at a time would; calling again with the same list writes what is missing.
   *
   * @param revocations - serials (hex in any spelling of `normalizeSerialNumber`), reasons and optional `revokedAt`
   * @returns one result per revocation, in order
   * @throws InvalidArgumentError (`ERR_INVALID_ARGUMENT`) for a serial that is not hex, a reason not in REVOCATION_REASONS or a `revokedAt` that is not a valid Date (of a revocation that would write a line, as {@link revoke}): nothing is written
   * @throws StoreUnavailableError (`ERR_STORE_UNAVAILABLE`) when the file or its lock cannot be used
   *
   * @example
   * ```ts
   * await store.revokeMany([{ serialNumber: "0a", reason: "keyCompromise" }, { serialNumber: "0b", reason: "keyCompromise" }]);
   * ```
   */
  revokeMany(revocations: readonly { serialNumber: string; reason: RevocationReason; revokedAt?: Date }[]): Promise<RevokeResult[]> {
    let checked: { serialNumber: string; reason: RevocationReason; revokedAt: Date | undefined }[];
    try {
      checked = revocations.map((r) => ({ serialNumber: normalizeSerialNumber(r.serialNumber), reason: checkRevocationReason(r.reason), revokedAt: r.revokedAt }));
    } catch (e) {
      return Promise.reject(e);
    }
    return this.#exclusive(() => this.#locked(async () => {
      await this.#refresh();
      // The reason each serial has once the lines before it are replayed: a line only where it creates or upgrades.
      const reasons = new Map<string, RevocationReason>();
      const ids: (string | undefined)[] = [];
      const lines: string[] = [];
      for (const { serialNumber, reason, revokedAt } of checked) {
        const existing = reasons.get(serialNumber) ?? this.#entries.get(serialNumber)?.reason;
        if (existing !== undefined && !upgradesRevocationReason(existing, reason)) {
          ids.push(undefined);
          continue;
        }
        // An upgrade line carries this call's time too (ignored on replay: the entry keeps its date). Checked before
        // anything is written: one bad revokedAt writes none of the lines.
        const at = revokedAt ?? this.#now();
        if (!(at instanceof Date) || Number.isNaN(at.getTime())) throw new InvalidArgumentError("revokedAt must be a valid Date");
        const id = randomBytes(8).toString("hex");
        lines.push(`${JSON.stringify({ serialNumber, reason, revokedAt: at.toISOString(), id })}\n`);
        reasons.set(serialNumber, reason);
        ids.push(id);
      }
      if (lines.length > 0) {
        await this.#append(this.#path, lines.join(""));
        await this.#refresh();
      }
      return checked.map(({ serialNumber }, i) => {
        const entry = this.#entries.get(serialNumber);
        if (!entry) throw new StoreUnavailableError(`${REVOCATIONS_FILE}: the revocation just written cannot be read back`);
        const id = ids[i];
        return { entry: copy(entry), created: id !== undefined && entry.id === id, updated: id !== undefined && entry.upgradedBy === id };
      });
    }));
  }

  /**
   * Rewrites revocations.jsonl without the entries of `serialNumbers` (hex in any spelling of `normalizeSerialNumber`;
   * one that is not a serial is ignored), except
   * any whose reason is keyCompromise, which stay (see the module comment): for entries that may leave the CRL (RFC
   * 5280 §3.3: on a published CRL issued after their certificate expired; {@link FileCa.crl} names them). Nothing is
   * written when none of them is in the file. `revision()` then answers 1 more than before (never less), in every
   * process sharing the file.
   *
   * @param serialNumbers - the serials whose entries may go
   * @returns how many entries were removed
   * @throws StoreUnavailableError (`ERR_STORE_UNAVAILABLE`) when the file or its lock cannot be used (the file stays as it was)
   *
   * @example
   * ```ts
   * await store.compact(new Set(["0a1b2c"])); // 1: its line is gone, unless it is revoked keyCompromise
   * ```
   */
  compact(serialNumbers: Iterable<string>): Promise<number> {
    const named = new Set<string>();
    for (const serial of serialNumbers) {
      try {
        named.add(normalizeSerialNumber(serial));
      } catch {
        // Not a serial: no entry has it.
      }
    }
    return this.#exclusive(() => this.#locked(async () => {
      await this.#refresh();
      const kept = [...this.#entries.values()].filter((e) => e.reason === "keyCompromise" || !named.has(e.serialNumber));
      const removed = this.#entries.size - kept.length;
      if (removed === 0) return 0;
      const base = this.#base + this.#entries.size + this.#upgrades + 1 - kept.length;
      const lines = kept.map((e) => `${JSON.stringify({ serialNumber: e.serialNumber, reason: e.reason, revokedAt: e.revokedAt.toISOString(), id: e.id })}\n`);
      try {
        await replaceFileUnderLock(this.#path, `${JSON.stringify({ revisionBase: base })}\n${lines.join("")}`, 0o600);
        await fsyncDirectory(dirname(this.#path));
      } catch (e) {
        throw unavailable(this.#path, e);
      }
      await this.#refresh();
      return removed;
    }));
  }

  /** {@inheritDoc RevocationStore.get} */
  get(serialNumber: string): Promise<RevokedCertificate | undefined> {
    let serial: string;
    try {
      serial = normalizeSerialNumber(serialNumber);
    } catch (e) {
      return Promise.reject(e);
    }
    return this.#exclusive(async () => {
      await this.#refreshIfStale();
      const e = this.#entries.get(serial);
      return e && copy(e);
    });
  }

  /** {@inheritDoc RevocationStore.list} */
  list(): Promise<RevokedCertificate[]> {
    return this.#exclusive(async () => {
      await this.#refresh();
      return sortRevocations([...this.#entries.values()].map(copy));
    });
  }

  /**
   * {@inheritDoc RevocationStore.revision}
   *
   * `latest`: concurrent calls share one look at the file, which starts after each of them was made (a call made while
   * one runs waits for the next), so a revocation completed before the call is always counted.
   */
  revision(options: { latest?: boolean } = {}): Promise<number> {
    // The header's base plus the revoked serials plus the upgrades: a line is never changed or removed, so within one
    // file the count of lines that changed something names the list, and a new file (a reset, or a compaction, whose
    // base is the revision before it + 1 - what it kept) starts from a later base.
    const count = (): number => this.#base + this.#entries.size + this.#upgrades;
    if (options?.latest !== true) {
      return this.#exclusive(async () => {
        await this.#refreshIfStale();
        return count();
      });
    }
    if (this.#latest) return this.#latest;
    const latest = this.#exclusive(async () => {
      this.#latest = undefined; // started: a call from now on needs a look that starts after it
      await this.#refresh();
      return count();
    });
    this.#latest = latest;
    return latest;
  }

  /**
   * {@inheritDoc RevocationStore.nextCrlNumber}
   *
   * Here: the last number in `crl-numbers` + 1, raised to `atLeast`, written back under `crl-numbers.lock`. A deleted
   * `crl-numbers` starts again at 1; FileCa passes its floor (its last published CRL, in `ca.crl.json` of the same
   * data directory) as `atLeast`, so its numbers go on above it, and the file learns it. Once the file holds 2^159 - 1
   * (or more: a file edited by hand) every call throws CrlNumberExhaustedError (`ERR_CRL_NUMBER_EXHAUSTED`) and the
   * file is left as it is.
   */
  async nextCrlNumber(options?: { atLeast?: bigint }): Promise<bigint> {
    const atLeast = checkCrlNumberFloor(options?.atLeast);
    return await this.#exclusive(async () => {
      try {
        return await withFileLock(`${this.#crlPath}.lock`, async () => {
          const last = lastCrlNumber(await this.#whole(this.#crlPath));
          const next = atLeast > last + 1n ? atLeast : last + 1n;
          if (next > MAX_CRL_NUMBER) throw crlNumberExhausted(last); // the file stays as it is
          await replaceFileUnderLock(this.#crlPath, `=${next}\n`, 0o600); // crl-numbers.tmp: one writer at a time (the lock)
          await fsyncDirectory(dirname(this.#crlPath));
          return next;
        });
      } catch (e) {
        throw isStoreUnavailable(e) || e instanceof CrlNumberExhaustedError ? e : unavailable(this.#crlPath, e);
      }
    });
  }

  /** The whole of a small file (crl-numbers), empty when it does not exist. */
  async #whole(path: string): Promise<Buffer> {
    const info = await this.#stat(path);
    return info ? this.#read(path, 0, info.size) : Buffer.alloc(0);
  }

  /** {@link #refresh} unless the file was looked at less than maxStalenessMs ago (a clock that went back looks again). */
  async #refreshIfStale(): Promise<void> {
    if (!this.#staleness.fresh()) await this.#refresh();
  }

  /** Reads what was appended to revocations.jsonl since the last call (all of it after a truncation or replacement). */
  async #refresh(): Promise<void> {
    // Taken before the stat: what it reads is at least as new as this time.
    const startedAt = this.#staleness.now();
    this.#staleness.forget(); // a refresh that fails leaves nothing to trust
    let info = await this.#stat(this.#path);
    if (!info || info.size === 0) {
      // A new, deleted or emptied file: it starts with the revision base (a reset starts above the old revisions).
      // Two stores doing this at once write two headers: the first one read counts.
      await this.#append(this.#path, `${JSON.stringify({ revisionBase: revisionBase(this.#now()) })}\n`);
      info = await this.#stat(this.#path);
      if (!info) throw new StoreUnavailableError(`${REVOCATIONS_FILE} is gone`);
    }
    // Nothing new: the file read, as long as it was (where the file system has no birth time, its head is compared).
    if (fileId(info) === this.#id && info.size === this.#readTo && info.birthtimeMs !== 0) {
      this.#staleness.looked(startedAt);
      return;
    }
    let lines: CompleteLine[];
    try {
      const file = await open(this.#path, "r");
      try {
        // The descriptor's own stat, not the path's above: a compaction may have renamed its file over the path in
        // between, and the old file's size read in the new one's lines would count part of them.
        const opened = await file.stat();
        const id = fileId(opened);
        if (id !== this.#id || opened.size < this.#readTo) this.#reset(id);
        // A compaction's file on an inode that the file read had (freed since): the same device, inode and (where the
        // file system has none) birth time, so its first bytes (its header, new per compaction) tell. Compared
        // whenever new bytes are read (one more read of HEAD_BYTES), and on every look without birth time.
        if (this.#readTo > 0 && !(await readBytes(file, 0, this.#head!.length)).equals(this.#head!)) this.#reset(id);
        lines = await readCompleteLines(file, this.#readTo, opened.size);
        if (this.#readTo === 0) this.#head = await readBytes(file, 0, Math.min(HEAD_BYTES, lines.at(-1)?.end ?? 0));
      } finally {
        await file.close();
      }
    } catch (e) {
      throw unavailable(this.#path, e);
    }
    for (const { text: line, end } of lines) {
      this.#readTo = end;
      const header = this.#base === 0 ? REVISION_HEADER.exec(line) : null;
      if (header) {
        this.#base = Number(header[1]);
        continue;
      }
      const record = parseLine(line);
      if (!record) continue;
      const entry = this.#entries.get(record.serialNumber);
      if (!entry) {
        this.#entries.set(record.serialNumber, record);
      } else if (upgradesRevocationReason(entry.reason, record.reason)) {
        entry.reason = record.reason;
        entry.upgradedBy = record.id;
        this.#upgrades += 1;
      }
    }
    this.#staleness.looked(startedAt);
  }

  #reset(id: string | undefined): void {
    this.#entries = new Map();
    this.#upgrades = 0;
    this.#readTo = 0;
    this.#id = id;
    this.#head = undefined;
    this.#base = 0;
  }

  async #stat(path: string): Promise<{ dev: number; ino: number; birthtimeMs: number; size: number } | undefined> {
    try {
      const s = await stat(path);
      return { dev: s.dev, ino: s.ino, birthtimeMs: s.birthtimeMs, size: s.size };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw unavailable(path, e);
    }
  }

  async #read(path: string, from: number, to: number): Promise<Buffer> {
    try {
      return await readBytes(path, from, to);
    } catch (e) {
      throw unavailable(path, e);
    }
  }

  /** One O_APPEND write of `lines` (each ending in `\n`), made durable before it resolves. */
  async #append(path: string, lines: string): Promise<void> {
    try {
      const file = await open(path, "a", 0o600);
      try {
        const data = Buffer.from(lines, "utf8");
        const { bytesWritten } = await file.write(data, 0, data.length);
        if (bytesWritten !== data.length) throw new Error(`short write (${bytesWritten} of ${data.length} bytes)`);
        await file.datasync();
      } finally {
        await file.close();
      }
    } catch (e) {
      throw unavailable(path, e);
    }
  }
}

/**
 * The last CRL number handed out, from crl-numbers' bytes: the last `=N` line, plus one for every other complete line
 * after it (the earlier format's one line per number); a torn last line (no `\n`) is not a number.
 */
function lastCrlNumber(bytes: Buffer): bigint {
  let n = 0n;
  let start = 0;
  for (let i = bytes.indexOf(NEWLINE); i !== -1; start = i + 1, i = bytes.indexOf(NEWLINE, start)) {
    const compacted = CRL_NUMBER_LINE.exec(bytes.toString("latin1", start, i));
    n = compacted ? BigInt(compacted[1]!) : n + 1n;
  }
  return n;
}

/** A file's identity: device, inode and birth time (0 where the file system has none). */
function fileId(info: { dev: number; ino: number; birthtimeMs: number }): string {
  return `${info.dev}:${info.ino}:${info.birthtimeMs}`;
}

function unavailable(path: string, cause: unknown): StoreUnavailableError {
  const reason = (cause as NodeJS.ErrnoException).code ?? (cause as Error).message;
  return new StoreUnavailableError(`cannot use ${path}: ${reason}`, { cause });
}
