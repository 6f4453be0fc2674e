// unsettled.jsonl is compacted: a settling pass that was done with lines (settled, or never settleable) rewrites the
// file without them (temporary file, fdatasync, rename, under unsettled.jsonl.lock, which every append batch holds
// too). Before, the file only grew, and a line that could never be settled was told to onError at every open. Held
// here: what stays (lines kept for a retry, another process's lines), that an appender whose descriptor is of the
// replaced file writes to the new one, and that kill -9 of a process recording and of one compacting, at any moment,
// loses no acknowledged record and never leaves a half-written file.
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { MemoryRevocationStore } from "@scep/core";
import { openFileCa } from "../src/index.js";
import { UnsettledIssues } from "../src/unsettled-issues.js";
import { makeLegacy, opensslCsr, sameKeyCsr, spawnFixture, tempDir } from "./helpers.js";

const codeAndMessage = (e: unknown): string => `${(e as { code?: string }).code}: ${(e as Error).message}`;
const line = (serial: string): string => `${JSON.stringify({ serial })}\n`;
const GENERATION = /^\{"generation":"[0-9a-f]{16}"\}\n/;
/** The file's records: what follows the generation line a compaction writes first. */
const fileOf = (dataDir: string): string => readFileSync(join(dataDir, "unsettled.jsonl"), "utf8").replace(GENERATION, "");

describe("unsettled.jsonl compaction", () => {
  it("crl() leaves only the line it could not settle now; the unknowable line is told once, not again at the next open; once all settle the file is empty", async () => {
    const dir = tempDir();
    const dataDir = join(dir, "data");
    const store = new MemoryRevocationStore();
    const ca0 = await openFileCa({ dataDir, revocations: store });
    const legacy = (await ca0.issue({ csrDer: opensslCsr(dir, "legacy", { subject: "/CN=legacy" }) })).serialNumber;
    const stuck = (await ca0.issue({ csrDer: opensslCsr(dir, "stuck", { subject: "/CN=stuck" }) })).serialNumber;
    const a = (await ca0.issue({ csrDer: opensslCsr(dir, "a", { subject: "/CN=a" }) })).serialNumber;
    const a2 = (await ca0.issue({ csrDer: sameKeyCsr(dir, "a", "/CN=a-2") })).serialNumber;
    await store.revoke({ serialNumber: a, reason: "keyCompromise" });
    makeLegacy(dataDir, legacy);
    makeLegacy(dataDir, stuck);
    rmSync(join(dataDir, "certs", `${legacy}.pem`)); // unknowable: never settleable
    const stuckFile = join(dataDir, "certs", `${stuck}.pem`);
    const stuckPem = readFileSync(stuckFile, "utf8");
    rmSync(stuckFile);
    mkdirSync(stuckFile); // cannot be read now: kept
    writeFileSync(join(dataDir, "unsettled.jsonl"), `${line(legacy)}{"ser\n${line(stuck)}${line(a2)}`);

    const first: unknown[] = [];
    const ca1 = await openFileCa({ dataDir, revocations: store, restoreOnOpen: false, onError: (e) => first.push(e) });
    expect((await ca1.crl()).revokedCount).toBe(2); // a, a2
    expect(fileOf(dataDir)).toBe(line(stuck)); // before: the four lines, unchanged
    expect(first.map(codeAndMessage)).toEqual([
      expect.stringMatching(new RegExp(`^STORAGE_FAILED: the key of certificate ${legacy} cannot be known: `)),
      expect.stringMatching(new RegExp(`^STORAGE_FAILED: unsettled\\.jsonl: certificate ${stuck} not settled, tried again at each settling: .*EISDIR`)),
    ]);
    expect(existsSync(join(dataDir, "unsettled.jsonl.tmp"))).toBe(false);
    expect(existsSync(join(dataDir, "unsettled.jsonl.lock"))).toBe(false);

    const second: unknown[] = [];
    const ca2 = await openFileCa({ dataDir, revocations: store, onError: (e) => second.push(e) });
    // Before: the unknowable line was told again by every open.
    expect(second.map(codeAndMessage)).toEqual([expect.stringMatching(new RegExp(`^STORAGE_FAILED: unsettled\\.jsonl: certificate ${stuck} not settled`))]);
    rmSync(stuckFile, { recursive: true });
    writeFileSync(stuckFile, stuckPem);
    await ca2.crl();
    expect(fileOf(dataDir)).toBe("");
    expect(await ca2.revocation(stuck)).toBeUndefined(); // its key is not compromised: settled by leaving it alone
  }, 120_000);

  it("two views of one data directory (two processes): the compaction keeps the other's lines and the lines kept for a retry, and an appender holding a descriptor of the replaced file writes to the new one", async () => {
    const dataDir = tempDir();
    const recorder = new UnsettledIssues(dataDir);
    const settler = new UnsettledIssues(dataDir);
    await recorder.record("01");
    await recorder.record("02");
    await recorder.record("03");
    // The settler is done with 01 and 02, keeps 03; meanwhile the recorder adds 04 (appended before the compaction).
    await settler.settle(async (serial) => {
      if (serial === "02") await recorder.record("04");
      return serial !== "03";
    });
    expect(fileOf(dataDir)).toBe(line("03") + line("04"));
    // The recorder's descriptor (kept between batches) is of the file the compaction replaced: reopened, not lost.
    await recorder.record("05");
    expect(fileOf(dataDir)).toBe(line("03") + line("04") + line("05"));
    const seen: string[] = [];
    await settler.settle(async (serial, retry) => {
      seen.push(`${serial}${retry ? " (retry)" : ""}`);
      return true;
    });
    expect(seen).toEqual(["03 (retry)", "04", "05"]);
    expect(fileOf(dataDir)).toBe("");
    const after: string[] = [];
    await recorder.settle(async (serial) => {
      after.push(serial);
      return true;
    });
    expect(after).toEqual([]);
  }, 60_000);

  it("a compacted file with the device, inode and birth time of the one a reader read (an inode reused on a file system without birth time) is read from its start: no line skipped", async () => {
    const dataDir = tempDir();
    const path = join(dataDir, "unsettled.jsonl");
    const reader = new UnsettledIssues(dataDir);
    const writer = new UnsettledIssues(dataDir);
    for (const serial of ["01", "02", "03"]) await writer.record(serial);
    const first: string[] = [];
    await reader.settle(async (serial) => {
      first.push(serial);
      return false; // kept: no compaction by the reader
    });
    expect(first).toEqual(["01", "02", "03"]);
    // What another process's compaction writes (it settled 01 to 03, then 04 to 06 came), on the inode the reader
    // read: a rewrite in place keeps device, inode and birth time, as a reused inode does where there is none.
    const before = statSync(path);
    writeFileSync(path, `{"generation":"00112233445566ff"}\n${line("04")}${line("05")}${line("06")}`);
    const after = statSync(path);
    expect([after.dev, after.ino, after.birthtimeMs]).toEqual([before.dev, before.ino, before.birthtimeMs]);
    expect(after.size).toBeGreaterThan(before.size);
    const second: string[] = [];
    await reader.settle(async (serial, retry) => {
      second.push(`${serial}${retry ? " (retry)" : ""}`);
      return true;
    });
    // Before: read on from the old offset (48, inside 04's line), so 04 was never settled.
    expect(second).toEqual(["01 (retry)", "02 (retry)", "03 (retry)", "04", "05", "06"]);
    expect(readFileSync(path, "utf8")).toMatch(/^\{"generation":"[0-9a-f]{16}"\}\n$/);
  }, 60_000);

  it("kill -9 of a process recording and of one settling and compacting, 6 times at random moments: every acknowledged line not settled is in the file, every line whole; a last pass compacts after the crashed lock holders", async () => {
    const dataDir = tempDir();
    const recorded = new Set<string>();
    const settled = new Set<string>();
    const even = (serial: string): boolean => parseInt(serial.at(-1)!, 16) % 2 === 0;
    for (let run = 0; run < 6; run += 1) {
      const recorder = spawnFixture("unsettled-child.ts", [dataDir, "record", `${run + 1}f`]);
      const settler = spawnFixture("unsettled-child.ts", [dataDir, "settle"]);
      await recorder.waitFor((lines) => lines.length >= 10, "10 records");
      await settler.waitFor((lines) => lines.some((l) => l.startsWith("SETTLED ")), "a settled line");
      await new Promise((resolve) => setTimeout(resolve, Math.floor(Math.random() * 200)));
      recorder.process.kill("SIGKILL");
      settler.process.kill("SIGKILL");
      expect((await recorder.exited).signal).toBe("SIGKILL");
      expect((await settler.exited).signal).toBe("SIGKILL");
      expect(settler.stderr()).toBe("");
      for (const l of recorder.lines) if (l.startsWith("RECORDED ")) recorded.add(l.slice(9));
      for (const l of settler.lines) if (l.startsWith("SETTLED ")) settled.add(l.slice(8));
      const text = fileOf(dataDir);
      expect(text === "" || text.endsWith("\n")).toBe(true);
      const inFile = text.split("\n").slice(0, -1).map((l) => (JSON.parse(l) as { serial: string }).serial);
      expect(inFile.every((s) => typeof s === "string")).toBe(true); // every line whole, the generation line first
      const missing = [...recorded].filter((s) => !settled.has(s) && !inFile.includes(s));
      expect(missing).toEqual([]);
      expect([...recorded].filter((s) => !even(s)).every((s) => inFile.includes(s))).toBe(true);
    }
    // A pass after the crashes (the lock of a killed holder is taken over): only the kept (odd) serials stay.
    await new UnsettledIssues(dataDir).settle(async (serial) => even(serial));
    const left = fileOf(dataDir).split("\n").slice(0, -1).map((l) => (JSON.parse(l) as { serial: string }).serial);
    expect([...recorded].filter((s) => !even(s) && !left.includes(s))).toEqual([]);
    expect(left.filter(even)).toEqual([]);
  }, 180_000);
});
