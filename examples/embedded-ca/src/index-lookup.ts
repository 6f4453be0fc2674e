// Looking serials up in the issuance index (index.jsonl), and listing it, without reading the whole file per call.
//
// Every valid record line is kept as {byte offset, length, canonical serial} in file order (three arrays: no line
// itself, ~30 bytes an entry instead of ~1.3 KB), with a map canonical serial → its FIRST line. They are built from the
// file on the first call and then extended by reading only what was appended since: each call stats the file and,
// when it grew, reads from the last indexed byte up to the last complete line. A last line without its `\n` is
// another process's write in flight (several workers append to one index) or a torn one: it is picked up once
// complete. A hit reads just its line (one pread) and parses it again; a page of a listing reads just its lines
// (adjacent ones in one read).
//
// The index is append-only: this package only ever appends to it (IndexWriter, with O_APPEND, from every worker and
// replica sharing the data directory); nothing here compacts, rewrites or replaces it. A person or a tool may (an
// editor writing in place, `sed -i` or a restore by rename, a truncation). Anything but an append is noticed and
// answered by a rebuild from the start: another inode (the file was replaced), a size below the indexed end
// (truncated), a file of the same size whose mtime or ctime changed since it was last read (rewritten in place: an
// append always changes the size), an indexed end that no longer follows a `\n`, or a line that no longer holds its
// serial when read. Left unnoticed until the next of these: a rewrite in place that also makes the file longer and
// keeps a `\n` at the indexed end, and a same-size rewrite within the file system's timestamp granularity (a few ms
// on Linux) of the previous call's stat.
//
// Tolerance is readIndex's: a line that is not a valid record is skipped (a record glued onto a torn one is found,
// parseIndexLine), any serial spelling is compared in normalizeSerialNumber's canonical form, and for a serial on
// several lines the FIRST line wins for a look-up (as `records.find` did) while a listing has every line.
import { stat, type FileHandle } from "node:fs/promises";
import { normalizeSerialNumber } from "@scep/core";
import { parseIndexLine, type IndexLine } from "./issuance-index.js";
import { openIfExists } from "./lib/durable-fs.js";

/**
 * An index line's serial in `normalizeSerialNumber`'s spelling, so a look-up by any spelling finds it: this CA's
 * serials are already canonical (first octet 0x40–0x7f), but an index written elsewhere or by hand may hold `80…`
 * or `0012…` (both positive), or `-7fff` (a negative serial: DER content 80 01). A serial normalization refuses (over 20 octets) is kept as it is written.
 */
export function canonicalSerial(serial: string): string {
  try {
    return normalizeSerialNumber(serial);
  } catch {
    return serial;
  }
}

const NEWLINE = 0x0a;
/** Bytes read per read(2) while scanning; a line longer than this is carried over into the next chunk. */
const CHUNK_BYTES = 1 << 20;

/** What a stat said about the file when its lines were last read: a change without growth is a rewrite. */
interface Seen {
  ino: bigint;
  size: bigint;
  mtimeNs: bigint;
  ctimeNs: bigint;
}

/**
 * Every valid record line in file order, by position: its byte offset, its length (without `\n`), its canonical
 * serial; and canonical serial → position of its first line. Only ever appended to.
 */
interface Lines {
  offsets: number[];
  lengths: number[];
  serials: string[];
  first: Map<string, number>;
}

function emptyLines(): Lines {
  return { offsets: [], lengths: [], serials: [], first: new Map() };
}

/** The record of line `at` if its bytes (at `start` in `buffer`, `\n` included) still hold its serial, else null. */
function parseAt(lines: Lines, buffer: Buffer, start: number, at: number): (IndexLine & { canonicalSerial: string }) | null {
  const length = lines.lengths[at]!;
  if (buffer[start + length] !== NEWLINE) return null;
  const record = parseIndexLine(buffer.toString("utf8", start, start + length));
  const serial = lines.serials[at]!;
  return record && canonicalSerial(record.serial) === serial ? { ...record, canonicalSerial: serial } : null;
}

/** Options of {@link IndexLookup.page}. */
export interface IndexPageOptions {
  /** Lines to skip, newest first (default 0). */
  offset?: number;
  /** Most lines returned (default: all). */
  limit?: number;
  /** Keep only the lines whose canonical serial passes: decided from memory, no line read for the others. */
  serial?: (serial: string) => boolean;
  /** Keep only the records that pass: every line the `serial` filter keeps is read to decide (and to count). */
  record?: (record: IndexLine) => boolean;
}

/** A page of the index: the records (canonical serials, newest first) and how many lines match on all pages. */
export interface IndexPage {
  records: (IndexLine & { canonicalSerial: string })[];
  total: number;
}

/**
 * Serial → line look-ups and listings of one index file, shared by every caller of one FileCa (see the module
 * comment). `bytesRead` counts the bytes read from the file (scans, hits, pages): what a call costs, for tests and
 * diagnostics.
 */
export class IndexLookup {
  readonly #path: string;
  /** The indexed lines; replaced (never emptied in place) by a rebuild, so a read in progress keeps consistent ones. */
  #lines: Lines = emptyLines();
  /** The file as last stat'ed by a read; undefined before the first read or while the file is missing. */
  #seen: Seen | undefined;
  /** Bytes [0, #indexedTo) are indexed; #indexedTo is 0 or just after a `\n`. */
  #indexedTo = 0;
  #running: Promise<void> | undefined;
  #queued: Promise<void> | undefined;
  /** Bytes read from the index so far. */
  bytesRead = 0;

  constructor(path: string) {
    this.#path = path;
  }

  /**
   * The first valid record whose serial is `serial` (canonical spelling, as normalizeSerialNumber gives it), or
   * undefined. Rejects with the file system's error (not ENOENT: a missing index is empty).
   */
  async find(serial: string): Promise<IndexLine | undefined> {
    await this.#refresh();
    const record = await this.#readFirst(this.#lines, serial);
    if (record !== null) return record;
    // The line moved under us: the file was rewritten or replaced. Start over once.
    await this.#refresh(true);
    return (await this.#readFirst(this.#lines, serial)) ?? undefined;
  }

  /**
   * One page of the index's valid lines, newest (last in the file) first: which lines match the `serial` filter is
   * known from memory, and only the lines of the page are read, unless a `record` filter needs every candidate read.
   * Rejects with the file system's error (not ENOENT: a missing index is empty).
   */
  async page(options: IndexPageOptions = {}): Promise<IndexPage> {
    await this.#refresh();
    const page = await this.#page(this.#lines, options);
    if (page !== null) return page;
    await this.#refresh(true); // a line no longer held its serial: rewritten or replaced
    return (await this.#page(this.#lines, options)) ?? { records: [], total: 0 };
  }

  /** The page, or null when a line read no longer holds its serial. */
  async #page(lines: Lines, options: IndexPageOptions): Promise<IndexPage | null> {
    const offset = options.offset ?? 0;
    const limit = options.limit ?? Number.POSITIVE_INFINITY;
    const serials = lines.serials;
    const candidates: number[] = [];
    for (let i = serials.length - 1; i >= 0; i -= 1) if (!options.serial || options.serial(serials[i]!)) candidates.push(i);
    const filter = options.record;
    if (!filter) {
      const records = await this.#readLines(lines, candidates.slice(offset, offset + limit));
      return records && { records, total: candidates.length };
    }
    const records: IndexPage["records"] = [];
    let total = 0;
    // Read in batches (a read per run of adjacent lines), so memory stays bounded by a batch and the page.
    for (let start = 0; start < candidates.length; start += 512) {
      const batch = await this.#readLines(lines, candidates.slice(start, start + 512));
      if (!batch) return null;
      for (const record of batch) {
        if (!filter(record)) continue;
        if (total >= offset && total < offset + limit) records.push(record);
        total += 1;
      }
    }
    return { records, total };
  }

  /** The records at these positions (in this order), or null when one no longer holds its serial. */
  async #readLines(lines: Lines, positions: readonly number[]): Promise<IndexPage["records"] | null> {
    if (positions.length === 0) return [];
    const { offsets, lengths } = lines;
    const handle = await openIfExists(this.#path);
    if (!handle) return null;
    try {
      const byPosition = new Map<number, IndexPage["records"][number]>();
      const sorted = [...positions].sort((a, b) => a - b);
      // Runs of lines adjacent in the file are read at once (a newest-first page of an unfiltered listing is one run).
      for (let r = 0; r < sorted.length; ) {
        let end = r;
        while (
          end + 1 < sorted.length &&
          offsets[sorted[end + 1]!] === offsets[sorted[end]!]! + lengths[sorted[end]!]! + 1 &&
          offsets[sorted[end + 1]!]! - offsets[sorted[r]!]! < CHUNK_BYTES
        ) {
          end += 1;
        }
        const from = offsets[sorted[r]!]!;
        const buffer = Buffer.allocUnsafe(offsets[sorted[end]!]! + lengths[sorted[end]!]! + 1 - from);
        const { bytesRead } = await handle.read(buffer, 0, buffer.length, from);
        this.bytesRead += bytesRead;
        if (bytesRead !== buffer.length) return null;
        for (let i = r; i <= end; i += 1) {
          const at = sorted[i]!;
          const record = parseAt(lines, buffer, offsets[at]! - from, at);
          if (!record) return null;
          byPosition.set(at, record);
        }
        r = end + 1;
      }
      return positions.map((p) => byPosition.get(p)!);
    } finally {
      await handle.close();
    }
  }

  /** `serial`'s first line: its record, undefined when there is none, null when it no longer holds `serial` (rewritten, replaced, gone). */
  async #readFirst(lines: Lines, serial: string): Promise<IndexLine | undefined | null> {
    const at = lines.first.get(serial);
    if (at === undefined) return undefined;
    const handle = await openIfExists(this.#path);
    if (!handle) return null;
    try {
      const buffer = Buffer.allocUnsafe(lines.lengths[at]! + 1);
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, lines.offsets[at]!);
      this.bytesRead += bytesRead;
      if (bytesRead !== buffer.length) return null;
      const record = parseAt(lines, buffer, 0, at);
      if (!record) return null;
      const { canonicalSerial: _, ...line } = record;
      return line;
    } finally {
      await handle.close();
    }
  }

  /**
   * Brings the lines up to the file's current complete lines. One refresh runs at a time; a call made while one runs
   * waits for it and then shares ONE further refresh with every other call made meanwhile (the running one may have
   * stat'ed the file before the caller's line was appended).
   */
  #refresh(rebuild = false): Promise<void> {
    if (rebuild) this.#seen = undefined; // the next run starts over
    if (!this.#running) {
      const run = this.#run().finally(() => {
        this.#running = undefined;
      });
      this.#running = run;
      return run;
    }
    this.#queued ??= this.#running
      .catch(() => undefined)
      .then(() => {
        this.#queued = undefined;
        return this.#refresh();
      });
    return this.#queued;
  }

  /** Whether the file as stat'ed now is the one indexed, at most grown by appends (see the module comment). */
  #sameFile(now: Seen): boolean {
    const seen = this.#seen;
    if (!seen || now.ino !== seen.ino || now.size < BigInt(this.#indexedTo) || now.size < seen.size) return false;
    // Same size, yet written (mtime) or changed (ctime) since: rewritten in place.
    return !(now.size === seen.size && (now.mtimeNs !== seen.mtimeNs || now.ctimeNs !== seen.ctimeNs));
  }

  async #run(): Promise<void> {
    let now: Seen;
    try {
      now = await stat(this.#path, { bigint: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
      this.#reset();
      return;
    }
    if (!this.#sameFile(now)) this.#reset();
    else if (now.size === BigInt(this.#indexedTo)) return (void (this.#seen = now));
    const handle = await openIfExists(this.#path);
    if (!handle) return void this.#reset();
    try {
      const opened = await handle.stat({ bigint: true });
      // Replaced, truncated or rewritten between stat and open: start over (against the opened file).
      if (this.#seen && !this.#sameFile(opened)) this.#reset();
      else if (this.#indexedTo > 0 && !(await this.#followsNewline(handle))) this.#reset();
      this.#seen = opened;
      await this.#scan(handle, Number(opened.size));
    } finally {
      await handle.close();
    }
  }

  /** Whether the byte before #indexedTo is still the `\n` it was when indexed (else the file was rewritten). */
  async #followsNewline(handle: FileHandle): Promise<boolean> {
    const byte = Buffer.alloc(1);
    const { bytesRead } = await handle.read(byte, 0, 1, this.#indexedTo - 1);
    this.bytesRead += bytesRead;
    return bytesRead === 1 && byte[0] === NEWLINE;
  }

  /** Indexes the complete lines in [#indexedTo, end). */
  async #scan(handle: FileHandle, end: number): Promise<void> {
    let carry: Buffer = Buffer.alloc(0); // bytes of a line begun in the previous chunk
    let position = this.#indexedTo;
    while (position < end) {
      const chunk = Buffer.allocUnsafe(Math.min(CHUNK_BYTES, end - position));
      const { bytesRead } = await handle.read(chunk, 0, chunk.length, position);
      if (bytesRead === 0) break; // truncated meanwhile: the next refresh sees the smaller size
      this.bytesRead += bytesRead;
      position += bytesRead;
      const data = carry.length > 0 ? Buffer.concat([carry, chunk.subarray(0, bytesRead)]) : chunk.subarray(0, bytesRead);
      let start = 0;
      for (let newline = data.indexOf(NEWLINE); newline !== -1; newline = data.indexOf(NEWLINE, start)) {
        this.#add(data, start, newline);
        start = newline + 1;
      }
      this.#indexedTo += start;
      // A copy: the chunk is not kept alive by a short carry.
      carry = start < data.length ? Buffer.from(data.subarray(start)) : Buffer.alloc(0);
    }
  }

  /** Indexes the line data[start, newline), which begins at byte #indexedTo + start of the file. */
  #add(data: Buffer, start: number, newline: number): void {
    if (newline === start) return;
    const text = data.toString("utf8", start, newline);
    if (text.trim() === "") return;
    const record = parseIndexLine(text);
    if (!record) return; // torn or foreign: skipped, as readIndex does
    const serial = canonicalSerial(record.serial);
    const lines = this.#lines;
    const at = lines.serials.length;
    lines.offsets.push(this.#indexedTo + start);
    lines.lengths.push(newline - start);
    lines.serials.push(serial);
    if (!lines.first.has(serial)) lines.first.set(serial, at);
  }

  #reset(): void {
    this.#lines = emptyLines();
    this.#seen = undefined;
    this.#indexedTo = 0;
  }
}
