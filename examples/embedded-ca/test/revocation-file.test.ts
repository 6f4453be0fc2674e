// FileRevocationStore: the published RevocationStore conformance suite, then what the file adds: revocations and CRL
// numbers kept across a restart (a new store on the same directory), shared by several stores on one directory (the
// workers of --workers N), and a write torn by a crash ignored without losing a line.
import { appendFileSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { revocationStoreConformance } from "../../../packages/core/src/testing/index.js";
import { CRL_NUMBERS_FILE, FileRevocationStore, REVOCATIONS_FILE } from "../src/index.js";
import { tempDir } from "./helpers.js";

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
    expect(await after.revision()).toBe(2);
    expect(await after.nextCrlNumber()).toBe(4n);
    expect(await after.revoke({ serialNumber: "4a0b", reason: "cessationOfOperation" })).toEqual({ created: false, entry: { serialNumber: "4a0b", reason: "keyCompromise", revokedAt: at } });
    expect(readFileSync(join(dir, REVOCATIONS_FILE), "utf8").split("\n")).toHaveLength(3); // two lines and the last \n
  });

  it("two stores on one directory (two workers) see each other's revocations; of concurrent revocations of one serial exactly one is created; CRL numbers are distinct", async () => {
    const dir = tempDir("revocation-file-");
    const one = new FileRevocationStore(dir);
    const two = new FileRevocationStore(dir);
    expect(await two.revision()).toBe(0);
    await one.revoke({ serialNumber: "0a", reason: "keyCompromise", revokedAt: at });
    expect(await two.revision()).toBe(1);
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
    writeFileSync(join(dir, REVOCATIONS_FILE), "");
    expect(await store.list()).toEqual([]);
    expect(await store.revision()).toBe(0);
  });
});
