// The index reader: complete records only, torn lines skipped, records glued
// onto a torn line recovered.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { encodeIndexLine, parseIndex, parseIndexLine, readIndex, type IndexLine } from "../src/issuance-index.js";
import { tempDir } from "./helpers.js";

const record = (n: number): IndexLine => ({
  serial: `4a${n.toString(16).padStart(32, "0")}`,
  subject: `CN=device-${n}, O=Example "quoted" {"serial":"x"}`,
  notBefore: "2025-01-01T00:00:00.000Z",
  notAfter: "2026-01-01T00:00:00.000Z",
  issuedAt: "2025-01-01T00:00:00.123Z",
});
const line = (n: number): string => new TextDecoder().decode(encodeIndexLine(record(n)));

describe("index.jsonl reader", () => {
  it("round-trips records, one line each, serial first", () => {
    expect(line(1)).toBe(
      '{"serial":"4a00000000000000000000000000000001","subject":"CN=device-1, O=Example \\"quoted\\" {\\"serial\\":\\"x\\"}","notBefore":"2025-01-01T00:00:00.000Z","notAfter":"2026-01-01T00:00:00.000Z","issuedAt":"2025-01-01T00:00:00.123Z"}\n',
    );
    expect(parseIndex(line(1) + line(2))).toEqual({ records: [record(1), record(2)], skippedLines: 0 });
  });

  it("skips a torn last line", () => {
    const torn = line(3).slice(0, 40);
    expect(parseIndex(line(1) + line(2) + torn)).toEqual({ records: [record(1), record(2)], skippedLines: 1 });
  });

  it("recovers a record appended after a torn line (glued onto it)", () => {
    const torn = line(2).slice(0, 57);
    expect(parseIndex(line(1) + torn + line(3) + line(4))).toEqual({
      records: [record(1), record(3), record(4)],
      skippedLines: 0,
    });
  });

  it("recovers after zero bytes left by a power loss and skips foreign lines", () => {
    const zeros = "\0".repeat(300);
    expect(parseIndex(line(1) + zeros + line(2) + "not json\n" + "{}\n" + "\n")).toEqual({
      records: [record(1), record(2)],
      skippedLines: 2,
    });
  });

  it("never throws and never invents records, for any prefix cut and any garbage", () => {
    const whole = line(1) + line(2) + line(3);
    fc.assert(
      fc.property(fc.nat({ max: whole.length }), fc.string(), (cut, garbage) => {
        const parsed = parseIndex(whole.slice(0, cut) + garbage + "\n" + line(9));
        for (const r of parsed.records) {
          expect([record(1), record(2), record(3), record(9)]).toContainEqual(r);
        }
        expect(parsed.records.at(-1)).toEqual(record(9));
      }),
    );
  });

  it("rejects records with missing or malformed fields", () => {
    expect(parseIndexLine('{"serial":"XYZ","subject":"","notBefore":"2025-01-01T00:00:00Z","notAfter":"2025-01-01T00:00:00Z","issuedAt":"2025-01-01T00:00:00Z"}')).toBeUndefined();
    expect(parseIndexLine('{"serial":"ab","subject":"","notBefore":"yesterday","notAfter":"2025-01-01T00:00:00Z","issuedAt":"2025-01-01T00:00:00Z"}')).toBeUndefined();
    expect(parseIndexLine("[]")).toBeUndefined();
  });

  it("reads a missing file as an empty index", async () => {
    const dir = tempDir();
    expect(await readIndex(join(dir, "nope.jsonl"))).toEqual({ records: [], skippedLines: 0 });
    writeFileSync(join(dir, "index.jsonl"), line(5));
    expect(await readIndex(join(dir, "index.jsonl"))).toEqual({ records: [record(5)], skippedLines: 0 });
  });
});
