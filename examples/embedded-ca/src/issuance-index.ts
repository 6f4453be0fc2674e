// The issuance index: an append-only JSON Lines file, `dataDir/index.jsonl`.
//
// Writing: each record is one line `{"serial":…,"certificate":"<base64 DER>"}\n`.
// Records are appended with group commit (GroupAppender): the records of all
// issue() calls waiting at that moment go out in a single write(2) on an
// O_APPEND descriptor, durable when it returns (O_DSYNC, on Linux; elsewhere
// one fdatasync follows), and no issue() returns before the write or sync
// covering its record has completed. Appenders in several
// threads or processes therefore never interleave inside a line (local file
// systems; not NFS), and a returned certificate's record, certificate
// included, survives kill -9 and, as far as fsync is honoured, power loss.
//
// The index is the record of truth: it holds each certificate itself, so
// certs/<serial>.pem is only a convenience copy (one that cannot be written does not fail the issue).
// Lines from before `certificate` was added are still read (without it).
//
// Reading: a crash can leave at most a torn batch (a prefix of the last write:
// whole lines followed by a torn one, or zero bytes after a power loss) at the
// end of the file. The reader skips any
// line that is not a complete, valid record. Because a later append may glue a
// new record onto a torn prefix (`{"serial":"4a…{"serial":"4b…}`), a line that
// does not parse is retried from its last `{"serial":"` (that sequence cannot
// occur inside a JSON string, where quotes are escaped), which recovers the
// glued record.
import { readFile } from "node:fs/promises";
import { GroupAppender } from "./lib/durable-fs.js";
import { jsonObject, readTornLine } from "./lib/jsonl.js";

/** File name of the index inside dataDir. */
export const INDEX_FILE = "index.jsonl";

/**
 * One line of the index, as stored.
 * All dates are ISO 8601 strings in UTC.
 */
export interface IndexLine {
  serial: string;
  subject: string;
  notBefore: string;
  notAfter: string;
  issuedAt: string;
  /** The certificate, base64 DER (absent in lines written by older versions). */
  certificate?: string;
}

const RECORD_START = '{"serial":"';
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/** Encodes a record as one `\n`-terminated line; the key order is fixed (serial first). */
export function encodeIndexLine(record: IndexLine): Uint8Array {
  const line =
    JSON.stringify({
      serial: record.serial,
      subject: record.subject,
      notBefore: record.notBefore,
      notAfter: record.notAfter,
      issuedAt: record.issuedAt,
      ...(record.certificate === undefined ? {} : { certificate: record.certificate }),
    }) + "\n";
  return Buffer.from(line, "utf8");
}

function isIsoDate(value: unknown): value is string {
  return typeof value === "string" && !Number.isNaN(Date.parse(value));
}

function parseStrict(text: string): IndexLine | undefined {
  const record = jsonObject(text);
  if (!record) return undefined;
  if (
    typeof record.serial !== "string" ||
    !/^-?[0-9a-f]+$/.test(record.serial) || // `-7fff`: a negative serial of an imported certificate (normalizeSerialNumber's spelling)
    typeof record.subject !== "string" ||
    !isIsoDate(record.notBefore) ||
    !isIsoDate(record.notAfter) ||
    !isIsoDate(record.issuedAt) ||
    (record.certificate !== undefined && (typeof record.certificate !== "string" || !BASE64.test(record.certificate)))
  ) {
    return undefined;
  }
  return {
    serial: record.serial,
    subject: record.subject,
    notBefore: record.notBefore,
    notAfter: record.notAfter,
    issuedAt: record.issuedAt,
    ...(record.certificate === undefined ? {} : { certificate: record.certificate }),
  };
}

/**
 * Parses one line: the whole line if it is a valid record, else the tail
 * starting at its last `{"serial":"` (a record glued onto a torn one), else
 * `undefined` (torn or foreign line).
 */
export function parseIndexLine(line: string): IndexLine | undefined {
  return readTornLine(line, RECORD_START, parseStrict);
}

/** Result of reading the index: the records, and how many lines were skipped as torn. */
export interface IndexContents {
  records: IndexLine[];
  skippedLines: number;
}

/** Parses a whole index file's text. */
export function parseIndex(text: string): IndexContents {
  const records: IndexLine[] = [];
  let skippedLines = 0;
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    const record = parseIndexLine(line);
    if (record) records.push(record);
    else skippedLines += 1;
  }
  return { records, skippedLines };
}

/** Reads `path`; a missing file is an empty index. */
export async function readIndex(path: string): Promise<IndexContents> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return { records: [], skippedLines: 0 };
    throw error;
  }
  return parseIndex(text);
}

/**
 * Appends records to the index with group commit (see the module comment):
 * `append` resolves once its record is written and on disk.
 */
export class IndexWriter {
  readonly #appender: GroupAppender;

  constructor(path: string) {
    this.#appender = new GroupAppender(path);
  }

  /** Queues `record`; resolves when it is durable. */
  append(record: IndexLine): Promise<void> {
    return this.#appender.append(encodeIndexLine(record));
  }
}
