// revocations.jsonl (the default FileRevocationStore) is compacted: after FileCa.crl() published a CRL, the entries it
// lists whose certificate expired before its thisUpdate (RFC 5280 §3.3: they have been on a CRL issued after the
// expiry) are removed from the file, except keyCompromise entries, which issue() refuses the key from. Before, the
// file only grew. The rewrite (header with a new revisionBase, the kept entries, temporary file + fdatasync + rename)
// runs under revocations.jsonl.lock, which every revoke holds too. Held here: what stays (every entry a CRL must
// still list, keyCompromise ones), the revision moving on and never back, no restore of what was removed, no
// revocation lost to appends racing compactions (two stores, two processes killed at random moments), and a store
// that had read part of the old file (or the same inode rewritten) reading the new one from its start.
import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { normalizeSerialNumber } from "@scep/core";
import { FileRevocationStore, REVOCATIONS_FILE, isEmbeddedCaError, openFileCa, type RevocationsRestoredEvent } from "../src/index.js";
import { readCrlEntries } from "../src/crl-entries.js";
import { opensslCsr, sameKeyCsr, spawnFixture, tempDir } from "./helpers.js";

const T0 = Date.parse("2026-03-01T10:00:00.000Z");
const DAY = 86_400_000;

/** The lines of revocations.jsonl, parsed (every line must be whole JSON). */
function linesOf(dataDir: string): Record<string, unknown>[] {
  const text = readFileSync(join(dataDir, REVOCATIONS_FILE), "utf8");
  expect(text.endsWith("\n")).toBe(true);
  return text.split("\n").slice(0, -1).map((l) => JSON.parse(l) as Record<string, unknown>);
}

const serialsOf = async (store: FileRevocationStore): Promise<string[]> => (await store.list()).map((e) => e.serialNumber).sort();

describe("revocations.jsonl compaction", () => {
  it("crl() removes the entries of certificates expired before it was issued, keeps keyCompromise and unexpired ones; the revision moves on by 1; the next CRL lists the rest; a CA opened later restores nothing and still refuses the compromised key", async () => {
    let nowMs = T0;
    const clock = (): Date => new Date(nowMs);
    const dir = tempDir();
    const dataDir = join(dir, "data");
    const ca = await openFileCa({ dataDir, clock, crlValiditySeconds: 3600 });
    const issue = async (name: string, validityDays: number): Promise<string> =>
      (await ca.issue({ csrDer: opensslCsr(dir, name, { subject: `/CN=${name}`, key: "ec" }), validityDays })).serialNumber;
    const superseded = await issue("superseded", 1);
    const hold = await issue("hold", 1);
    const compromised = await issue("compromised", 1);
    const unexpired = await issue("unexpired", 30);
    await ca.revoke(superseded, "superseded");
    await ca.revoke(hold, "certificateHold");
    await ca.revoke(compromised, "keyCompromise");
    await ca.revoke(unexpired, "superseded");
    const first = await ca.crl();
    expect(first.revokedCount).toBe(4); // nothing expired yet: nothing removed
    expect(linesOf(dataDir)).toHaveLength(5);

    nowMs += 2 * DAY; // three certificates expired; the CRL is due again
    const store = ca.revocations as FileRevocationStore;
    const before = await store.revision({ latest: true });
    const second = await ca.crl();
    expect(readCrlEntries(second.der).map((e) => e.serialNumber).sort()).toEqual([superseded, hold, compromised, unexpired].sort());
    // On a CRL issued after their expiry: removed, but for the keyCompromise entry.
    const lines = linesOf(dataDir);
    expect(lines[0]).toEqual({ revisionBase: before + 1 - 2 });
    expect(lines.slice(1).map((l) => [l.serialNumber, l.reason])).toEqual([
      [compromised, "keyCompromise"],
      [unexpired, "superseded"],
    ]);
    expect(await store.revision({ latest: true })).toBe(before + 1);
    const other = new FileRevocationStore(dataDir);
    expect(await other.revision()).toBe(before + 1); // another process counts the same, never less than before
    expect(await serialsOf(other)).toEqual([compromised, unexpired].sort());

    const third = await ca.crl(); // the revision moved: signed again, without them
    expect(third.crlNumber > second.crlNumber).toBe(true);
    expect(readCrlEntries(third.der).map((e) => e.serialNumber).sort()).toEqual([compromised, unexpired].sort());

    // Opened again: the published CRL (third) lacks them, nothing is restored; the compromised key is still refused.
    const events: RevocationsRestoredEvent[] = [];
    const reopened = await openFileCa({ dataDir, clock, crlValiditySeconds: 3600, onRevocationsRestored: (e) => events.push(e) });
    expect(events).toEqual([]);
    const refused = await reopened.issue({ csrDer: sameKeyCsr(dir, "compromised", "/CN=again") }).catch((e: unknown) => e);
    expect(isEmbeddedCaError(refused, "KEY_COMPROMISED")).toBe(true);
    expect(linesOf(dataDir)).toHaveLength(3);
  }, 120_000);

  it("a compaction that fails (revocations.jsonl.tmp a directory) is told to onError as STORAGE_FAILED, crl() still answers and the entries stay; a later CRL compacts", async () => {
    let nowMs = T0;
    const clock = (): Date => new Date(nowMs);
    const dir = tempDir();
    const dataDir = join(dir, "data");
    const errors: unknown[] = [];
    const ca = await openFileCa({ dataDir, clock, crlValiditySeconds: 3600, onError: (e) => errors.push(e) });
    const serial = (await ca.issue({ csrDer: opensslCsr(dir, "short", { subject: "/CN=short", key: "ec" }), validityDays: 1 })).serialNumber;
    await ca.revoke(serial, "superseded");
    await ca.crl();
    nowMs += 2 * DAY;
    mkdirSync(join(dataDir, `${REVOCATIONS_FILE}.tmp`));
    expect((await ca.crl()).revokedCount).toBe(1);
    expect(errors.map((e) => `${(e as { code?: string }).code}: ${(e as Error).message}`)).toEqual([
      `STORAGE_FAILED: cannot compact revocations.jsonl (the entries of expired certificates stay until a later CRL compacts it): cannot use ${join(dataDir, REVOCATIONS_FILE)}: EISDIR`,
    ]);
    expect(linesOf(dataDir)).toHaveLength(2);
    rmSync(join(dataDir, `${REVOCATIONS_FILE}.tmp`), { recursive: true });
    nowMs += 1_801_000; // half the CRL's validity: signed again, and compacted
    expect((await ca.crl()).revokedCount).toBe(1);
    expect(linesOf(dataDir)).toHaveLength(1);
    expect((await ca.crl()).revokedCount).toBe(0);
    expect(errors).toHaveLength(1);
  }, 60_000);

  it("compact() keeps keyCompromise entries and those not named; nothing is written when nothing goes", async () => {
    const dataDir = tempDir();
    const store = new FileRevocationStore(dataDir);
    await store.revoke({ serialNumber: "0a", reason: "superseded" });
    await store.revoke({ serialNumber: "0b", reason: "superseded" });
    await store.revoke({ serialNumber: "0b", reason: "keyCompromise" }); // upgraded: stays
    await store.revoke({ serialNumber: "0c", reason: "affiliationChanged" });
    const revision = await store.revision();
    const inode = statSync(join(dataDir, REVOCATIONS_FILE)).ino;
    expect(await store.compact(new Set(["0b", "0d"]))).toBe(0);
    expect(statSync(join(dataDir, REVOCATIONS_FILE)).ino).toBe(inode); // not rewritten
    expect(await store.compact(new Set(["0a", "0b"]))).toBe(1);
    expect(await serialsOf(store)).toEqual(["0b", "0c"]);
    expect((await store.get("0b"))?.reason).toBe("keyCompromise"); // the replayed reason, one line now
    expect(linesOf(dataDir)).toHaveLength(3);
    expect(await store.revision()).toBe(revision + 1);
    // A revoke after it: created, counted on top.
    expect((await store.revoke({ serialNumber: "0a", reason: "superseded" })).created).toBe(true);
    expect(await new FileRevocationStore(dataDir).revision()).toBe(revision + 2);
  });

  it("two stores on one directory: 5 rounds of 30 revokes racing a compaction lose no revocation and answer created once each; the revision never goes back", async () => {
    const dataDir = tempDir();
    const compactor = new FileRevocationStore(dataDir, { maxStalenessMs: 0 });
    const revoker = new FileRevocationStore(dataDir, { maxStalenessMs: 0 });
    const kept: string[] = [];
    const revisions: number[] = [];
    for (let round = 0; round < 5; round += 1) {
      const doomed: string[] = [];
      for (let i = 0; i < 10; i += 1) {
        const serialNumber = `d${round}${i}`;
        await compactor.revoke({ serialNumber, reason: "superseded" });
        doomed.push(serialNumber);
      }
      const revokes = Array.from({ length: 30 }, async (_, i) => {
        const serialNumber = `c${round}${i.toString(16).padStart(2, "0")}`;
        const result = await revoker.revoke({ serialNumber, reason: i % 3 === 0 ? "keyCompromise" : "superseded" });
        expect(result.created).toBe(true);
        revisions.push(await revoker.revision({ latest: true }));
        kept.push(serialNumber);
      });
      // The compaction also names some of the racing serials: only those not yet revoked, or keyCompromise, may stay.
      const compaction = (async () => {
        await new Promise((resolve) => setTimeout(resolve, round));
        return compactor.compact(new Set(doomed));
      })();
      await Promise.all([...revokes, compaction]);
      expect(await compaction).toBe(10);
    }
    const expected = kept.map(normalizeSerialNumber).sort();
    expect(await serialsOf(new FileRevocationStore(dataDir))).toEqual(expected);
    expect(await serialsOf(revoker)).toEqual(expected);
    for (let i = 1; i < revisions.length; i += 1) expect(revisions[i]).toBeGreaterThanOrEqual(revisions[i - 1]!);
    expect(await compactor.revision({ latest: true })).toBe(await revoker.revision({ latest: true }));
  }, 120_000);

  it("a store that had read part of the file reads the compacted one from its start: no line skipped or applied twice; also when the new file has the old one's device, inode and birth time", async () => {
    const dataDir = tempDir();
    const path = join(dataDir, REVOCATIONS_FILE);
    const writer = new FileRevocationStore(dataDir);
    const reader = new FileRevocationStore(dataDir, { maxStalenessMs: 60_000 });
    await writer.revoke({ serialNumber: "01", reason: "superseded" });
    await writer.revoke({ serialNumber: "02", reason: "superseded" });
    expect(await serialsOf(reader)).toEqual(["01", "02"]); // read to the end of line 2
    const seen = await reader.revision();
    await writer.revoke({ serialNumber: "03", reason: "certificateHold" });
    await writer.revoke({ serialNumber: "03", reason: "superseded" }); // an upgrade line
    await writer.revoke({ serialNumber: "04", reason: "superseded" });
    expect(await writer.compact(new Set(["01"]))).toBe(1);
    expect(await serialsOf(reader)).toEqual(["02", "03", "04"]);
    expect((await reader.get("03"))?.reason).toBe("superseded");
    const revision = await reader.revision({ latest: true });
    expect(revision).toBe(await writer.revision());
    expect(revision).toBeGreaterThan(seen);

    // What a compaction writes, on the inode the reader read (a rewrite in place keeps device, inode and birth time,
    // as an inode reused on a file system without birth time does), larger than what it read.
    const before = statSync(path);
    const line = (serialNumber: string): string => `${JSON.stringify({ serialNumber, reason: "superseded", revokedAt: "2026-03-01T10:00:00.000Z", id: `id${serialNumber}` })}\n`;
    writeFileSync(path, `${JSON.stringify({ revisionBase: revision + 10 })}\n${line("05")}${line("06")}${line("07")}${line("08")}${line("09")}`);
    const after = statSync(path);
    expect([after.dev, after.ino, after.birthtimeMs]).toEqual([before.dev, before.ino, before.birthtimeMs]);
    expect(after.size).toBeGreaterThan(before.size);
    // Before: read on from the old offset, inside the new file's lines.
    expect(await serialsOf(reader)).toEqual(["05", "06", "07", "08", "09"]);
    expect(await reader.revision({ latest: true })).toBe(revision + 15);
  });

  it("kill -9 of a process revoking and of one compacting, 5 times at random moments: every acknowledged revocation not named by the compaction (and every keyCompromise one) is in the file, every line whole; a compaction after the crashes takes the lock over", async () => {
    const dataDir = tempDir();
    const revoked = new Set<string>();
    const even = (serial: string): boolean => parseInt(serial.at(-1)!, 16) % 2 === 0;
    const compromised = (serial: string): boolean => parseInt(serial.slice(2), 16) % 4 === 0;
    for (let run = 0; run < 5; run += 1) {
      const revoker = spawnFixture("revocations-child.ts", [dataDir, "revoke", `${run + 1}f`]);
      const compactor = spawnFixture("revocations-child.ts", [dataDir, "compact"]);
      await revoker.waitFor((lines) => lines.length >= 10, "10 revocations");
      await compactor.waitFor((lines) => lines.some((l) => /^COMPACTED [1-9]/.test(l)), "a compaction that removed entries");
      await new Promise((resolve) => setTimeout(resolve, Math.floor(Math.random() * 200)));
      revoker.process.kill("SIGKILL");
      compactor.process.kill("SIGKILL");
      expect((await revoker.exited).signal).toBe("SIGKILL");
      expect((await compactor.exited).signal).toBe("SIGKILL");
      expect(revoker.stderr()).toBe("");
      expect(compactor.stderr()).toBe("");
      for (const l of revoker.lines) if (l.startsWith("REVOKED ")) revoked.add(l.slice(8));
      const lines = linesOf(dataDir); // whole lines only
      expect(typeof lines[0]?.revisionBase).toBe("number");
      const inFile = await serialsOf(new FileRevocationStore(dataDir));
      expect([...revoked].filter((s) => (!even(s) || compromised(s)) && !inFile.includes(normalizeSerialNumber(s)))).toEqual([]);
    }
    // After the crashes (a killed holder's lock taken over): everything named, only the keyCompromise entries stay.
    const store = new FileRevocationStore(dataDir);
    await store.compact(new Set(await serialsOf(store)));
    const left = await store.list();
    expect(left.every((e) => e.reason === "keyCompromise")).toBe(true);
    const leftSerials = left.map((e) => e.serialNumber);
    expect([...revoked].filter((s) => compromised(s) && !leftSerials.includes(normalizeSerialNumber(s)))).toEqual([]);
    expect(linesOf(dataDir)).toHaveLength(left.length + 1);
  }, 180_000);
});
