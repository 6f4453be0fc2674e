// Reading the JSON Lines files the CA appends to with single O_APPEND writes (index.jsonl, revocations.jsonl,
// unsettled.jsonl): a crash mid-write leaves a torn line, onto which the next append glues its whole record; another
// process's append in flight is a last line without its `\n`, read once complete.
import { open, type FileHandle } from "node:fs/promises";

const NEWLINE = 0x0a;

/** `text` parsed as JSON when that is an object (the caller checks a record's fields by name), else undefined. */
export function jsonObject(text: string): Record<string, unknown> | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  return typeof value === "object" && value !== null ? (value as Record<string, unknown>) : undefined;
}

/**
 * The record of one line: `read` of the whole line, else of the text from its last `recordStart` (a record glued onto
 * a torn one: `{"ser{"serial":"4b…"}`), else undefined (a torn or foreign line). `recordStart` is how every record
 * begins, `{"` and its first key: a sequence that cannot occur inside a JSON string, where quotes are escaped.
 */
export function readTornLine<T>(line: string, recordStart: string, read: (text: string) => T | undefined): T | undefined {
  const whole = read(line);
  if (whole !== undefined) return whole;
  const at = line.lastIndexOf(recordStart);
  return at > 0 ? read(line.slice(at)) : undefined;
}

/**
 * Bytes [from, to) of `path` (or of an open file, left open), fewer when the file is shorter. Rejects with the file
 * system's error.
 */
export async function readBytes(path: string | FileHandle, from: number, to: number): Promise<Buffer> {
  const file = typeof path === "string" ? await open(path, "r") : path;
  try {
    const bytes = Buffer.alloc(Math.max(0, to - from));
    let got = 0;
    while (got < bytes.length) {
      const { bytesRead } = await file.read(bytes, got, bytes.length - got, from + got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    return bytes.subarray(0, got);
  } finally {
    if (file !== path) await file.close();
  }
}

/** A line {@link readCompleteLines} read: its text (UTF-8, without the `\n`) and the file offset just after its `\n`. */
export interface CompleteLine {
  text: string;
  end: number;
}

/**
 * The complete lines in bytes [from, to) of `path` or an open file (`to`: the size a stat gave; `from`: 0 or just after a `\n`),
 * in order; what follows the last `\n` (an append in flight, or torn) is left for a later read. A file that shrank
 * meanwhile gives the lines of what is there. Rejects with the file system's error.
 */
export async function readCompleteLines(path: string | FileHandle, from: number, to: number): Promise<CompleteLine[]> {
  const bytes = await readBytes(path, from, to);
  const lines: CompleteLine[] = [];
  let start = 0;
  for (let i = bytes.indexOf(NEWLINE); i !== -1; start = i + 1, i = bytes.indexOf(NEWLINE, start)) {
    lines.push({ text: bytes.toString("utf8", start, i), end: from + i + 1 });
  }
  return lines;
}
