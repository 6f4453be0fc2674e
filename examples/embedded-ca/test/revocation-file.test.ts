// FileRevocationStore: the published RevocationStore conformance suite, then what the file adds: revocations and CRL
// numbers kept across a restart (a new store on the same directory), shared by several stores on one directory (the
// workers of --workers N), and a write torn by a crash ignored without losing a line.
import { appendFileSync, existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { MAX_CRL_NUMBER } from "@scep/core";
import { revocationStoreConformance } from "../../../packages/core/src/testing/index.js";
import { CRL_NUMBERS_FILE, FileRevocationStore, REVOCATIONS_FILE } from "../src/index.js";
import { spawnCaChild, tempDir, ticker } from "./helpers.js";

revocationStoreConformance({ name: "FileRevocationStore", create: ({ now }) => new FileRevocationStore(tempDir("revocation-file-"), { now }) });

const at = new Date("2026-03-01T10:00:00.000Z");

describe("FileRevocationStore: kept in the data directory", () => {
  it("a new store on the same directory (a restart) has every revocation, and RFC 5280 §5.2.3 CRL numbers go on from the last", async () => {
    const dir = tempDir("revocation-file-");
    const before = new FileRevocationStore(dir);
    await before.revoke({ serialNumber: "4a0b", reason: "keyCompromise", revokedAt: at });
    await before.revoke({ serialNumber: "-7fff", reason: "superseded", revokedAt: new Date(at.getTime() + 1000) });
    expect([await before.nextCrlNumber(), await before.nextCrlNumber(), await before.nextCrlNumber()]).toEqual([1n, 2n, 3n]);

    const after = new FileRevocationStore(dir);
    expect(await after.list()).toEqual([
      { serialNumber: "4a0b", reason: "keyCompromise", revokedAt: at },
      { serialNumber: "-7fff", reason: "superseded", revokedAt: new Date(at.getTime() + 1000) },
    ]);
    expect(await after.get("4A:0B")).toEqual({ serialNumber: "4a0b", reason: "keyCompromise", revokedAt: at });
    expect(await after.revision()).toBe(await before.revision());
    expect(await after.nextCrlNumber()).toBe(4n);
    expect(await after.revoke({ serialNumber: "4a0b", reason: "cessationOfOperation" })).toEqual({ created: false, updated: false, entry: { serialNumber: "4a0b", reason: "keyCompromise", revokedAt: at } });
    expect(readFileSync(join(dir, REVOCATIONS_FILE), "utf8").split("\n")).toHaveLength(4); // the revisionBase header, two lines and the last \n
  });

  it("two stores on one directory (two workers) see each other's revocations; of concurrent revocations of one serial exactly one is created; CRL numbers are distinct", async () => {
    const dir = tempDir("revocation-file-");
    const { monotonicNow, pass } = ticker();
    const one = new FileRevocationStore(dir, { monotonicNow });
    const two = new FileRevocationStore(dir, { monotonicNow });
    const empty = await two.revision();
    expect(await one.revision()).toBe(empty);
    await one.revoke({ serialNumber: "0a", reason: "keyCompromise", revokedAt: at });
    expect(await two.revision({ latest: true })).toBe(empty + 1);
    pass();
    expect(await two.get("0a")).toEqual({ serialNumber: "0a", reason: "keyCompromise", revokedAt: at });

    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => (i % 2 ? one : two).revoke({ serialNumber: "0b", reason: i % 2 ? "superseded" : "affiliationChanged", revokedAt: new Date(at.getTime() + i) })),
    );
    expect(results.filter((r) => r.created)).toHaveLength(1);
    const winner = results.find((r) => r.created)!.entry;
    for (const r of results) expect(r.entry).toEqual(winner);
    expect(await one.list()).toEqual(await two.list());
    expect((await one.list()).map((e) => e.serialNumber)).toEqual(["0a", "0b"]);

    const numbers = await Promise.all(Array.from({ length: 30 }, (_, i) => (i % 2 ? one : two).nextCrlNumber()));
    expect([...numbers].sort((a, b) => (a < b ? -1 : 1))).toEqual(Array.from({ length: 30 }, (_, i) => BigInt(i + 1)));
    expect(await one.nextCrlNumber()).toBe(31n);
    expect(await two.nextCrlNumber()).toBe(32n);
  });

  it("CA/B BR §4.9.1.1: an upgrade to keyCompromise is one journal line, replayed in order by a restart and by another worker; a line before the entry's creation or after the upgrade changes nothing", async () => {
    const dir = tempDir("revocation-file-");
    const { monotonicNow, pass } = ticker();
    const one = new FileRevocationStore(dir, { monotonicNow });
    const two = new FileRevocationStore(dir, { monotonicNow });
    await one.revoke({ serialNumber: "0c", reason: "superseded", revokedAt: at });
    const created = await two.revision();
    const later = new Date(at.getTime() + 60_000);
    expect(await two.revoke({ serialNumber: "0c", reason: "keyCompromise", revokedAt: later })).toEqual({
      created: false,
      updated: true,
      entry: { serialNumber: "0c", reason: "keyCompromise", revokedAt: at },
    });
    pass(); // one sees two's line once its snapshot is due
    expect(await one.get("0c")).toEqual({ serialNumber: "0c", reason: "keyCompromise", revokedAt: at });
    expect(await one.revision()).toBe(created + 1);
    // A repeat or a downgrade appends nothing.
    expect((await one.revoke({ serialNumber: "0c", reason: "keyCompromise" })).updated).toBe(false);
    expect((await one.revoke({ serialNumber: "0c", reason: "superseded" })).updated).toBe(false);
    const lines = readFileSync(join(dir, REVOCATIONS_FILE), "utf8").trimEnd().split("\n");
    expect(lines.slice(1).map((l) => JSON.parse(l).reason)).toEqual(["superseded", "keyCompromise"]);
    // Replayed in order: a restart sees the upgrade, with the same revision.
    const restarted = new FileRevocationStore(dir);
    expect(await restarted.list()).toEqual([{ serialNumber: "0c", reason: "keyCompromise", revokedAt: at }]);
    expect(await restarted.revision()).toBe(created + 1);
    // A journal whose keyCompromise line comes first and superseded second (two workers racing) ends keyCompromise.
    const raced = tempDir("revocation-file-");
    writeFileSync(
      join(raced, REVOCATIONS_FILE),
      `${JSON.stringify({ serialNumber: "0d", reason: "keyCompromise", revokedAt: at.toISOString(), id: "a" })}\n${JSON.stringify({ serialNumber: "0d", reason: "superseded", revokedAt: later.toISOString(), id: "b" })}\n` +
        `${JSON.stringify({ serialNumber: "0e", reason: "cessationOfOperation", revokedAt: at.toISOString(), id: "c" })}\n${JSON.stringify({ serialNumber: "0e", reason: "keyCompromise", revokedAt: later.toISOString(), id: "d" })}\n${JSON.stringify({ serialNumber: "0e", reason: "affiliationChanged", revokedAt: later.toISOString(), id: "e" })}\n`,
    );
    const replay = new FileRevocationStore(raced);
    expect(await replay.list()).toEqual([
      { serialNumber: "0d", reason: "keyCompromise", revokedAt: at },
      { serialNumber: "0e", reason: "keyCompromise", revokedAt: at },
    ]);
    expect(await replay.revision()).toBe(3); // no header: 2 serials + 1 upgrade
  });

  it("two workers racing keyCompromise re-revocations of one superseded serial: exactly one line upgrades, both see keyCompromise", async () => {
    const dir = tempDir("revocation-file-");
    const one = new FileRevocationStore(dir);
    const two = new FileRevocationStore(dir);
    await one.revoke({ serialNumber: "0f", reason: "superseded", revokedAt: at });
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? one : two).revoke({ serialNumber: "0f", reason: "keyCompromise" })));
    expect(results.filter((r) => r.updated)).toHaveLength(1);
    for (const r of results) expect(r.entry).toEqual({ serialNumber: "0f", reason: "keyCompromise", revokedAt: at });
    expect(await one.revision()).toBe(await two.revision());
  });

  it("a last line torn by a crash is ignored, no earlier revocation is lost, and the next revocation glued onto it is read", async () => {
    const dir = tempDir("revocation-file-");
    const before = new FileRevocationStore(dir);
    await before.revoke({ serialNumber: "01", reason: "keyCompromise", revokedAt: at });
    appendFileSync(join(dir, REVOCATIONS_FILE), '{"serialNumber":"02","reason":"keyCo');
    appendFileSync(join(dir, CRL_NUMBERS_FILE), "1f2e3d");

    const after = new FileRevocationStore(dir);
    expect(await after.list()).toEqual([{ serialNumber: "01", reason: "keyCompromise", revokedAt: at }]);
    expect(await after.get("02")).toBeUndefined();
    expect((await after.revoke({ serialNumber: "03", reason: "superseded", revokedAt: at })).created).toBe(true);
    expect((await after.revoke({ serialNumber: "02", reason: "superseded", revokedAt: at })).created).toBe(true);
    expect((await new FileRevocationStore(dir).list()).map((e) => e.serialNumber)).toEqual(["01", "02", "03"]);
    expect(await after.nextCrlNumber()).toBe(1n); // the torn counter line and this one are one line
    expect(await after.nextCrlNumber()).toBe(2n);
  });

  it("lines that are not revocations are skipped; a file replaced by a shorter one is read again from the start", async () => {
    const dir = tempDir("revocation-file-");
    writeFileSync(join(dir, REVOCATIONS_FILE), 'not json\n{"serialNumber":"zz","reason":"keyCompromise","revokedAt":"2026-03-01T10:00:00.000Z","id":"x"}\n{"serialNumber":"0c","reason":"keyCompromise","revokedAt":"2026-03-01T10:00:00.000Z","id":"y"}\n');
    const store = new FileRevocationStore(dir);
    expect((await store.list()).map((e) => e.serialNumber)).toEqual(["0c"]);
    const before = await store.revision(); // a file without the revisionBase header (written before it existed) counts from 0
    expect(before).toBe(1);
    writeFileSync(join(dir, REVOCATIONS_FILE), "");
    expect(await store.list()).toEqual([]);
    expect(await store.revision()).toBeGreaterThan(before);
  });
});

describe("FileRevocationStore: revision across a reset, and crl-numbers bounded (RFC 5280 §5.2.3)", () => {
  it("a revocations file deleted and refilled to the same count answers a revision above the old one", async () => {
    let ms = at.getTime();
    const dir = tempDir("revocation-file-");
    const store = new FileRevocationStore(dir, { now: () => new Date(ms) });
    for (const serial of ["01", "02"]) await store.revoke({ serialNumber: serial, reason: "superseded" });
    const before = await store.revision();
    rmSync(join(dir, REVOCATIONS_FILE));
    ms += 1000;
    for (const serial of ["03", "04"]) await store.revoke({ serialNumber: serial, reason: "superseded" });
    expect(await store.revision()).toBeGreaterThan(before);
    expect(await new FileRevocationStore(dir).revision()).toBe(await store.revision());
  });

  it("crl-numbers stays one line however many numbers are handed out; the earlier one-line-per-number file goes on from its count", async () => {
    const dir = tempDir("revocation-file-");
    const store = new FileRevocationStore(dir);
    for (let i = 1; i <= 1000; i++) expect(await store.nextCrlNumber()).toBe(BigInt(i));
    expect(readFileSync(join(dir, CRL_NUMBERS_FILE), "utf8")).toBe("=1000\n");

    const legacy = tempDir("revocation-file-");
    writeFileSync(join(legacy, CRL_NUMBERS_FILE), Array.from({ length: 500 }, (_, i) => `${i.toString(16).padStart(16, "0")}\n`).join(""));
    expect(await new FileRevocationStore(legacy).nextCrlNumber()).toBe(501n);
    expect(readFileSync(join(legacy, CRL_NUMBERS_FILE), "utf8")).toBe("=501\n");
  });

  it("a number near 2^159 - 1 (48 digits) round-trips through crl-numbers: a new store goes on from it up to MAX_CRL_NUMBER, then ERR_CRL_NUMBER_EXHAUSTED with the file left as it is", async () => {
    const dir = tempDir("revocation-file-");
    expect(await new FileRevocationStore(dir).nextCrlNumber({ atLeast: MAX_CRL_NUMBER - 1n })).toBe(MAX_CRL_NUMBER - 1n);
    expect(readFileSync(join(dir, CRL_NUMBERS_FILE), "utf8")).toBe(`=${MAX_CRL_NUMBER - 1n}\n`);
    expect(await new FileRevocationStore(dir).nextCrlNumber()).toBe(MAX_CRL_NUMBER); // read back by a new store (a restart)
    expect(readFileSync(join(dir, CRL_NUMBERS_FILE), "utf8")).toBe("=730750818665451459101842416358141509827966271487\n");
    await expect(new FileRevocationStore(dir).nextCrlNumber()).rejects.toMatchObject({ code: "ERR_CRL_NUMBER_EXHAUSTED", name: "CrlNumberExhaustedError" });
    expect(readFileSync(join(dir, CRL_NUMBERS_FILE), "utf8")).toBe(`=${MAX_CRL_NUMBER}\n`);
  });

  it("a crl-numbers line longer than 48 digits (a file edited by hand, above 2^159 - 1) is read as the number it says, not as an old-format line counted as 1: ERR_CRL_NUMBER_EXHAUSTED, the file left as it is", async () => {
    const dir = tempDir("revocation-file-");
    const line = `=${10n ** 48n}\n`; // 49 digits
    writeFileSync(join(dir, CRL_NUMBERS_FILE), line);
    await expect(new FileRevocationStore(dir).nextCrlNumber()).rejects.toMatchObject({ code: "ERR_CRL_NUMBER_EXHAUSTED" });
    await expect(new FileRevocationStore(dir).nextCrlNumber({ atLeast: 5n })).rejects.toMatchObject({ code: "ERR_CRL_NUMBER_EXHAUSTED" });
    expect(readFileSync(join(dir, CRL_NUMBERS_FILE), "utf8")).toBe(line);
  });

  it("a process killed (SIGKILL) while handing out numbers loses none: the next number is above every one it answered, and its lock is taken over", async () => {
    const dir = tempDir("revocation-file-");
    const child = spawnCaChild([dir, "crl-numbers"]);
    await child.waitFor((lines) => lines.length > 200, "200 CRL numbers");
    child.process.kill("SIGKILL");
    await child.exited;
    const answered = child.lines.filter((l) => l.startsWith("CRL-NUMBER ")).map((l) => BigInt(l.slice("CRL-NUMBER ".length)));
    const highest = answered.reduce((a, b) => (a > b ? a : b));
    // As if it died holding the lock (it may have: then its lock directory is there, naming its pid): the lock names a
    // pid that is gone, and a half-written temporary file is left.
    const lock = join(dir, `${CRL_NUMBERS_FILE}.lock`);
    if (!existsSync(lock)) writeFileSync(lock, `${JSON.stringify({ pid: child.process.pid, host: hostname(), nonce: "00" })}\n`);
    writeFileSync(join(dir, `${CRL_NUMBERS_FILE}.tmp`), "=1");
    const next = await new FileRevocationStore(dir).nextCrlNumber();
    expect(next > highest).toBe(true);
    expect(readFileSync(join(dir, CRL_NUMBERS_FILE), "utf8")).toBe(`=${next}\n`);
  }, 60_000);
});
