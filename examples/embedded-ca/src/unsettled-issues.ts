// Certificates FileCa.issue recorded in the index but did not hand out because their key may be compromised, and whose
// keyCompromise revocation is not known to be in the store: `dataDir/unsettled.jsonl`, one line `{"serial":"…"}` each,
// appended and fdatasync'ed (GroupAppender: one O_APPEND write a batch, so workers sharing the data directory never
// interleave inside a line) before the issue rejects.
//
// Why: an issue whose re-check after its index line finds the key revoked as compromised (another worker's or this
// process's keyCompromise revoke swept the index before the line was there) must revoke that certificate (CA/B BR
// §4.9.1.1). When that revoke fails (the store down, or throwing), or the re-check itself cannot be made, the
// certificate would stay valid and unrevoked: recorded here instead, it is settled (its key checked against the
// compromised keys again, and revoked keyCompromise if it is one of them) when the CA opens, before each CRL is signed
// (so the CRL lists it), and after each keyCompromise revoke. Settling is idempotent (a revoke of a serial already
// revoked keyCompromise changes nothing), so the file is never rewritten: every process settles every line once per
// open (a few store calls for a line; lines are only written when a store fails), then only what was appended since.
// A line that cannot be settled now because the store is down stops the pass; the next one starts at it again. A line
// that fails for a reason of its own (its certificate file unreadable) does not hold up the others: it is kept in
// memory and tried again first by every later pass of this process until it settles.
import { stat } from "node:fs/promises";
import { join } from "node:path";
import { GroupAppender, ensureFile } from "./lib/durable-fs.js";
import { jsonObject, readCompleteLines, readTornLine } from "./lib/jsonl.js";

/** File name of the unsettled issues inside dataDir. */
export const UNSETTLED_FILE = "unsettled.jsonl";

/** The unsettled issues of one data directory (see the module comment). */
export class UnsettledIssues {
  readonly #path: string;
  readonly #appender: GroupAppender;
  /** Bytes [0, #settledTo) hold lines this process has settled; 0 or just after a `\n`. */
  #settledTo = 0;
  /** The durable creation of the file, once per process. */
  #created: Promise<void> | undefined;
  /** The pass in flight. */
  #running: Promise<void> | undefined;
  /** Serials of lines already passed whose `settleOne` answered false: tried again first by each later pass. */
  readonly #kept = new Set<string>();

  constructor(dataDir: string) {
    this.#path = join(dataDir, UNSETTLED_FILE);
    this.#appender = new GroupAppender(this.#path, 0o600);
  }

  /** Records `serial` (canonical spelling); resolves once the line is durable. Rejects with the file system's error. */
  async record(serial: string): Promise<void> {
    // Created durably first (its directory entry fsync'ed), so the fdatasync of a line also survives a power loss.
    this.#created ??= ensureFile(this.#path, 0o600).catch((error: unknown) => {
      this.#created = undefined;
      throw error;
    });
    await this.#created;
    await this.#appender.append(Buffer.from(`${JSON.stringify({ serial })}\n`, "utf8"));
  }

  /**
   * Calls `settleOne` for each line not settled by this process yet: first the lines kept by earlier passes (`retry`
   * true), then the new ones in file order (one stat when nothing is new and nothing is kept). `settleOne` answers
   * true when the line is done with (settled, or never settleable), false to keep it for the next pass; the lines
   * after it go on. A line that is not a record (torn by a crash) is skipped; a record appended onto a torn one is
   * read. Rejects with `settleOne`'s error (that line and the ones not reached yet wait for the next call) or the
   * file system's (not ENOENT: no file, nothing to settle).
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
      if (await settleOne(serial, true)) this.#kept.delete(serial);
    }
    let size: number;
    try {
      size = (await stat(this.#path)).size;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return;
      throw error;
    }
    if (size < this.#settledTo) this.#settledTo = 0; // replaced or truncated by hand: settle it all again
    if (size === this.#settledTo) return;
    // A last line without its `\n` is a write in flight (or torn): settled once complete.
    for (const { text, end } of await readCompleteLines(this.#path, this.#settledTo, size)) {
      const serial = serialOf(text);
      if (serial !== undefined && !this.#kept.has(serial) && !(await settleOne(serial, false))) this.#kept.add(serial);
      this.#settledTo = end;
    }
  }
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
