// Looking a serial up in the issuance index (index.jsonl) without reading the whole file per call.
//
// A map canonical serial → {byte offset, length} of its line (not the line itself: ~130 bytes of heap an entry instead of
// ~1.3 KB) is built from the file on the first look-up and then extended by reading only what was appended since:
// each look-up stats the file and, when it grew, reads from the last indexed byte up to the last complete line. A
// last line without its `\n` is another process's write in flight (several workers append to one index) or a torn
// one: it is picked up once complete. A hit reads just its line (one pread) and parses it again.
//
// The index is append-only. Anything else is noticed and answered by a rebuild from the start: another inode (the
// file was replaced), a size below the indexed end (truncated), an indexed end that no longer follows a `\n`, or a hit
// whose line no longer holds its serial (rewritten in place). A rewrite in place that keeps all of these can go
// unnoticed until the next of them: rewrite by rename, as the module comment of issuance-index.ts assumes anyway.
//
// Tolerance is readIndex's: a line that is not a valid record is skipped (a record glued onto a torn one is found,
// parseIndexLine), any serial spelling is compared in normalizeSerialNumber's canonical form, and for a serial on
// several lines the FIRST line wins (as `records.find` did).
import { open, stat, type FileHandle } from "node:fs/promises";
import { normalizeSerialNumber } from "@scep/core";
import { parseIndexLine, type IndexLine } from "./issuance-index.js";

/**
 * An index line's serial in `normalizeSerialNumber`'s spelling, so a look-up by any spelling finds it: this CA's
 * serials are already canonical (first octet 0x40–0x7f), but an index written elsewhere or by hand may hold `80…`
 * or `0012…`. A serial normalization refuses (over 20 octets) is kept as it is written.
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

interface LineAt {
  offset: number;
  length: number;
}

/**
 * Serial → line look-ups in one index file, shared by every caller of one FileCa (see the module comment).
 * `bytesRead` counts the bytes read from the file (scans and hits): what a look-up costs, for tests and diagnostics.
 */
export class IndexLookup {
  readonly #path: string;
  #lines = new Map<string, LineAt>();
  /** The file's inode when last read; undefined before the first read or while the file is missing. */
  #inode: number | undefined;
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
    const at = this.#lines.get(serial);
    if (!at) return undefined;
    const record = await this.#readLine(at, serial);
    if (record !== null) return record;
    // The line moved under us: the file was rewritten or replaced. Start over once.
    await this.#refresh(true);
    const again = this.#lines.get(serial);
    return again ? ((await this.#readLine(again, serial)) ?? undefined) : undefined;
  }

  /** The record at `at` if it is still `serial`'s line, else null (rewritten, replaced, gone). */
  async #readLine(at: LineAt, serial: string): Promise<IndexLine | null> {
    let handle: FileHandle;
    try {
      handle = await open(this.#path, "r");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
      throw error;
    }
    try {
      const buffer = Buffer.allocUnsafe(at.length + 1);
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, at.offset);
      this.bytesRead += bytesRead;
      if (bytesRead !== buffer.length || buffer[at.length] !== NEWLINE) return null;
      const record = parseIndexLine(buffer.toString("utf8", 0, at.length));
      return record && canonicalSerial(record.serial) === serial ? record : null;
    } finally {
      await handle.close();
    }
  }

  /**
   * Brings the map up to the file's current complete lines. One refresh runs at a time; a call made while one runs
   * waits for it and then shares ONE further refresh with every other call made meanwhile (the running one may have
   * stat'ed the file before the caller's line was appended).
   */
  #refresh(rebuild = false): Promise<void> {
    if (rebuild) this.#inode = undefined; // the next run starts over
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

  async #run(): Promise<void> {
    let size: number;
    let inode: number;
    try {
      ({ size, ino: inode } = await stat(this.#path));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
      this.#reset(undefined);
      return;
    }
    if (inode !== this.#inode || size < this.#indexedTo) this.#reset(inode);
    if (size === this.#indexedTo) return;
    let handle: FileHandle;
    try {
      handle = await open(this.#path, "r");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
      this.#reset(undefined);
      return;
    }
    try {
      const { ino, size: now } = await handle.stat();
      if (ino !== this.#inode) this.#reset(ino); // replaced between stat and open
      if (now < this.#indexedTo) this.#reset(ino);
      if (this.#indexedTo > 0 && !(await this.#followsNewline(handle))) this.#reset(ino);
      await this.#scan(handle, now);
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
    if (!this.#lines.has(serial)) this.#lines.set(serial, { offset: this.#indexedTo + start, length: newline - start });
  }

  #reset(inode: number | undefined): void {
    this.#lines = new Map();
    this.#inode = inode;
    this.#indexedTo = 0;
  }
}
