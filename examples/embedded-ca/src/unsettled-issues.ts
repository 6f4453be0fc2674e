// Certificates FileCa.issue recorded in the index but did not hand out because their key may be compromised, and whose
// keyCompromise revocation is not known to be in the store: `dataDir/unsettled.jsonl`, one line `{"serial":"…"}` each,
// appended durably (GroupAppender: one O_APPEND write a batch, O_DSYNC on Linux, so workers sharing the data directory never
// interleave inside a line) before the issue rejects.
//
// Why: an issue whose re-check after its index line finds the key revoked as compromised (another worker's or this
// process's keyCompromise revoke swept the index before the line was there) must revoke that certificate (CA/B BR
// §4.9.1.1). When that revoke fails (the store down, or throwing), or the re-check itself cannot be made, the
// certificate would stay valid and unrevoked: recorded here instead, it is settled (its key checked against the
// compromised keys again, and revoked keyCompromise if it is one of them) when the CA opens, before each CRL is signed
// (so the CRL lists it), and after each keyCompromise revoke. Settling is idempotent (a revoke of a serial already
// revoked keyCompromise changes nothing): every process settles every line once per open (a few store calls for a
// line; lines are only written when a store fails), then only what was appended since. A line that cannot be settled
// now because the store is down stops the pass; the next one starts at it again. A line that fails for a reason of its
// own (its certificate file unreadable) does not hold up the others: it is kept in memory and tried again first by
// every later pass of this process until it settles.
//
// Compaction: a pass that was done with at least one line (settled, or never settleable: told once, then gone) rewrites
// the file without those lines, so it does not grow forever and a line that can never be settled is not told again at
// every open. Under `unsettled.jsonl.lock` (file-lock.ts), which every append batch holds too: the file is read, the
// lines still to settle (kept ones, and any this process has not settled: another process's) are written to
// `unsettled.jsonl.tmp`, fdatasync'ed and renamed over the file, then the directory is fsync'ed. A crash at any point
// leaves the old file or the new one whole (rename is atomic; no append runs meanwhile), never a half-written one, and
// every record an append acknowledged is in it: an appender holding a descriptor checks, under the lock, that it is
// still the file at the path, and reopens it when a compaction replaced it. A compacted file starts with a line
// `{"generation":"<16 hex>"}` (random per compaction; skipped as no record by every reader, this code's and earlier
// code's). A reader knows the file by device, inode, birth time and that first line: a replaced file is read from its
// start again, also when the new file reuses the inode of the one it read on a file system without birth time (the
// first line then differs), which the device, inode and size alone would take for the same file grown.
import { randomBytes } from "node:crypto";
import { dirname, join } from "node:path";
import { withFileLock } from "./file-lock.js";
import { GroupAppender, ensureFile, fsyncDirectory, openIfExists, replaceFileUnderLock } from "./lib/durable-fs.js";
import { jsonObject, readBytes, readCompleteLines, readTornLine } from "./lib/jsonl.js";

/** File name of the unsettled issues inside dataDir. */
export const UNSETTLED_FILE = "unsettled.jsonl";

/** The unsettled issues of one data directory (see the module comment). */
export class UnsettledIssues {
  readonly #path: string;
  readonly #lock: string;
  readonly #appender: GroupAppender;
  /** The file `#settledTo` counts in (device, inode, birth time, generation line); undefined: none read yet. */
  #file: string | undefined;
  /** Bytes [0, #settledTo) of `#file` hold lines this process has passed; 0 or just after a `\n`. */
  #settledTo = 0;
  /** The durable creation of the file, once per process. */
  #created: Promise<void> | undefined;
  /** The pass in flight. */
  #running: Promise<void> | undefined;
  /** Serials of lines already passed whose `settleOne` answered false: tried again first by each later pass. */
  readonly #kept = new Set<string>();
  /** Serials this process is done with since its last compaction: their lines are removed by the next one. */
  readonly #done = new Set<string>();

  /** Told a compaction's failure (once until one succeeds). */
  readonly #onCompactionFailed: (error: unknown) => void;
  /** Whether the last compaction failed (and was told). */
  #compactionFailed = false;

  /** @param onCompactionFailed - told why a compaction failed (the lines stay; tried again after the next pass), once until one succeeds */
  constructor(dataDir: string, onCompactionFailed: (error: unknown) => void = () => undefined) {
    this.#onCompactionFailed = onCompactionFailed;
    this.#path = join(dataDir, UNSETTLED_FILE);
    this.#lock = `${this.#path}.lock`;
    this.#appender = new GroupAppender(this.#path, { mode: 0o600, exclusive: (run) => withFileLock(this.#lock, run) });
  }

  /**
   * Records `serial` (canonical spelling); resolves once the line is durable. Rejects with the file system's error, or
   * the lock's (a compaction holding it for over 10 s).
   */
  async record(serial: string): Promise<void> {
    // Created durably first (its directory entry fsync'ed), so a line made durable also survives a power loss.
    this.#created ??= ensureFile(this.#path, 0o600).catch((error: unknown) => {
      this.#created = undefined;
      throw error;
    });
    await this.#created;
    await this.#appender.append(Buffer.from(`${JSON.stringify({ serial })}\n`, "utf8"));
  }

  /**
   * Calls `settleOne` for each line not settled by this process yet: first the lines kept by earlier passes (`retry`
   * true), then the new ones in file order (an open and a stat when nothing is new and nothing is kept). `settleOne`
   * answers true when the line is done with (settled, or never settleable), false to keep it for the next pass; the
   * lines after it go on. A line that is not a record (torn by a crash) is skipped; a record appended onto a torn one
   * is read. Then, when it was done with a line, the file is compacted (see the module comment; a failure is told to
   * `onCompactionFailed`, not thrown). Rejects with `settleOne`'s error (that line and the ones not reached yet wait for
   * the next call) or the file system's (not ENOENT: no file, nothing to settle).
   */
  async settle(settleOne: (serial: string, retry: boolean) => Promise<boolean>): Promise<void> {
    // One pass at a time; a caller that came during one runs its own after it (that one may have stat'ed too early).
    while (this.#running) await this.#running.catch(() => undefined);
    const run = this.#pass(settleOne).finally(() => {
      if (this.#running === run) this.#running = undefined;
    });
    this.#running = run;
    return run;
  }

  async #pass(settleOne: (serial: string, retry: boolean) => Promise<boolean>): Promise<void> {
    for (const serial of [...this.#kept]) {
      if (await settleOne(serial, true)) {
        this.#kept.delete(serial);
        this.#done.add(serial);
      }
    }
    const file = await openIfExists(this.#path);
    if (!file) return;
    try {
      // One descriptor for the stat and the read: a compaction's rename meanwhile does not mix two files.
      const info = await file.stat();
      const id = `${info.dev}:${info.ino}:${info.birthtimeMs}:${generationOf(await readBytes(file, 0, Math.min(info.size, GENERATION_BYTES)))}`;
      // Replaced (a compaction, by any process) or truncated by hand: settle it all again.
      if (id !== this.#file || info.size < this.#settledTo) {
        this.#file = id;
        this.#settledTo = 0;
      }
      // A last line without its `\n` is a write in flight (or torn): settled once complete.
      for (const { text, end } of await readCompleteLines(file, this.#settledTo, info.size)) {
        const serial = serialOf(text);
        // A kept line (retried above) is not settled twice, nor one this pass already did with (retried, or a copy).
        if (serial !== undefined && !this.#kept.has(serial) && !this.#done.has(serial)) {
          if (await settleOne(serial, false)) this.#done.add(serial);
          else this.#kept.add(serial);
        }
        this.#settledTo = end;
      }
    } finally {
      await file.close();
    }
    if (this.#done.size > 0) {
      try {
        await this.#compact();
        this.#compactionFailed = false;
      } catch (error) {
        // Only the file's size is at stake: the pass itself succeeded, the lines stay and the next pass compacts again.
        if (!this.#compactionFailed) this.#onCompactionFailed(error);
        this.#compactionFailed = true;
      }
    }
  }

  /**
   * Rewrites the file without the lines of `#done` (and lines that are no record), under the lock (see the module
   * comment). This process then reads the new file from its start (the lines it kept are skipped, as in `#kept`).
   */
  async #compact(): Promise<void> {
    await withFileLock(this.#lock, async () => {
      const file = await openIfExists(this.#path);
      if (!file) return;
      let kept: string[];
      let rewrite: boolean;
      try {
        const lines = await readCompleteLines(file, 0, (await file.stat()).size);
        // No append runs under the lock: a last line without its `\n` is a crash's torn write, never acknowledged.
        const records = lines.map((l) => serialOf(l.text)).filter((serial): serial is string => serial !== undefined);
        kept = records.filter((serial) => !this.#done.has(serial));
        // Rewritten when a record goes, or a line that is neither a record nor the generation line (torn, foreign).
        const generationLine = lines.length > 0 && GENERATION_LINE.test(lines[0]!.text) ? 1 : 0;
        rewrite = kept.length < records.length || records.length + generationLine < lines.length;
      } finally {
        await file.close();
      }
      if (rewrite) {
        const generation = `${JSON.stringify({ generation: randomBytes(8).toString("hex") })}\n`;
        await replaceFileUnderLock(this.#path, generation + kept.map((serial) => `${JSON.stringify({ serial })}\n`).join(""), 0o600);
        await fsyncDirectory(dirname(this.#path));
      }
    });
    this.#done.clear();
    this.#file = undefined;
  }
}

/** The first line of a compacted file (see the module comment). */
const GENERATION_LINE = /^\{"generation":"[0-9a-f]{16}"\}$/;
/** Bytes read for the first line: the generation line and its `\n` (34 bytes) fit. */
const GENERATION_BYTES = 64;

/** The generation of a file from its first bytes: its generation line, or "" (a file no compaction wrote). */
function generationOf(head: Buffer): string {
  const end = head.indexOf(0x0a);
  const first = end === -1 ? "" : head.toString("utf8", 0, end);
  return GENERATION_LINE.test(first) ? first : "";
}

/** How every record starts: a record appended after a torn one (a crash mid-write) is found by it, as in the index. */
const RECORD_START = '{"serial":"';

/**
 * The serial of a line `{"serial":"…"}`, or of the record glued onto a torn one (`{"ser{"serial":"…"}`: the line a
 * crash mid-write left, then the next append; that next record was durable and its issue rejected, so it must not be
 * lost), or undefined for a torn or foreign line.
 */
function serialOf(line: string): string | undefined {
  return readTornLine(line, RECORD_START, serialOfRecord);
}

function serialOfRecord(text: string): string | undefined {
  const serial = jsonObject(text)?.serial;
  return typeof serial === "string" && /^-?[0-9a-f]+$/.test(serial) ? serial : undefined;
}
