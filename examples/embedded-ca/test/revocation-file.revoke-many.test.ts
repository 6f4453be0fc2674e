// FileRevocationStore.revokeMany: the revocations of one call (a keyCompromise sweep's, CA/B BR §4.9.1.1) written as
// one append: the same entries and results as revoke() one after another, nothing written when one of them is
// invalid, and a write torn by a crash (a prefix of the batch's bytes) read as its whole lines, the rest written by the
// next call. Real files in a temporary directory.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { RevocationReason } from "@scep/core";
import { FileRevocationStore, REVOCATIONS_FILE } from "../src/index.js";
import { tempDir } from "./helpers.js";

const at = new Date("2026-03-01T10:00:00.000Z");
const later = new Date(at.getTime() + 60_000);
const serialOf = (n: number): string => "41" + n.toString(16).padStart(6, "0");
/** The revocation lines of revocations.jsonl (the revisionBase header left out). */
const revocationLines = (dir: string): string[] => readFileSync(join(dir, REVOCATIONS_FILE), "utf8").split("\n").filter((l) => l.startsWith('{"serialNumber"'));

describe("FileRevocationStore.revokeMany", () => {
  it("answers what revoke() one after another answers, leaves the same entries and revision: new, already revoked, upgraded, one serial twice", async () => {
    const batch: { serialNumber: string; reason: RevocationReason; revokedAt: Date }[] = [
      { serialNumber: "0A", reason: "keyCompromise", revokedAt: later }, // new
      { serialNumber: "0b", reason: "keyCompromise", revokedAt: later }, // already keyCompromise: nothing
      { serialNumber: "0c", reason: "keyCompromise", revokedAt: later }, // superseded → keyCompromise, its date kept
      { serialNumber: "0d", reason: "certificateHold", revokedAt: later }, // new, on hold
      { serialNumber: "0D", reason: "keyCompromise", revokedAt: later }, // the hold made permanent in the same call
      { serialNumber: "0e", reason: "superseded", revokedAt: later }, // keyCompromise is not downgraded
    ];
    const manyDir = tempDir("revoke-many-");
    const stores = [new FileRevocationStore(tempDir("revoke-many-")), new FileRevocationStore(manyDir)] as const;
    for (const store of stores) {
      await store.revoke({ serialNumber: "0b", reason: "keyCompromise", revokedAt: at });
      await store.revoke({ serialNumber: "0c", reason: "superseded", revokedAt: at });
      await store.revoke({ serialNumber: "0e", reason: "keyCompromise", revokedAt: at });
    }
    const [one, many] = stores;
    const before = await many.revision();
    const each = [];
    for (const r of batch) each.push(await one.revoke(r));
    const together = await many.revokeMany(batch);

    expect(together.map((r) => [r.created, r.updated])).toEqual([
      [true, false],
      [false, false],
      [false, true],
      [true, false],
      [false, true],
      [false, false],
    ]);
    expect(together.map((r) => [r.created, r.updated])).toEqual(each.map((r) => [r.created, r.updated]));
    // Each entry as it is once the whole batch is written: 0d's first result already says keyCompromise.
    expect(together.map((r) => r.entry)).toEqual([
      { serialNumber: "0a", reason: "keyCompromise", revokedAt: later },
      { serialNumber: "0b", reason: "keyCompromise", revokedAt: at },
      { serialNumber: "0c", reason: "keyCompromise", revokedAt: at },
      { serialNumber: "0d", reason: "keyCompromise", revokedAt: later },
      { serialNumber: "0d", reason: "keyCompromise", revokedAt: later },
      { serialNumber: "0e", reason: "keyCompromise", revokedAt: at },
    ]);
    expect(await many.list()).toEqual(await one.list());
    expect((await many.revision()) - before).toBe(4); // 0a, 0d created; 0c, 0d upgraded
    // A new store reading the file (a restart) replays the same state.
    expect(await new FileRevocationStore(manyDir).list()).toEqual(await one.list());
    expect(await new FileRevocationStore(manyDir).revision()).toBe(await many.revision());
    expect(await many.revokeMany([])).toEqual([]);
  });

  it("one invalid revocation rejects the call with ERR_INVALID_ARGUMENT and writes none of them", async () => {
    const dir = tempDir("revoke-many-");
    const store = new FileRevocationStore(dir);
    await store.revoke({ serialNumber: "01", reason: "superseded", revokedAt: at });
    const file = readFileSync(join(dir, REVOCATIONS_FILE));
    for (const bad of [
      { serialNumber: "not hex", reason: "keyCompromise" as RevocationReason },
      { serialNumber: "03", reason: "stolen" as RevocationReason },
      { serialNumber: "03", reason: "keyCompromise" as RevocationReason, revokedAt: new Date(Number.NaN) },
    ]) {
      await expect(store.revokeMany([{ serialNumber: "02", reason: "keyCompromise", revokedAt: at }, bad])).rejects.toMatchObject({ code: "ERR_INVALID_ARGUMENT" });
    }
    expect(readFileSync(join(dir, REVOCATIONS_FILE))).toEqual(file);
    expect((await store.list()).map((e) => e.serialNumber)).toEqual(["01"]);
  });

  it("a crash in the batch's write (a prefix of its bytes on disk, the last line torn): the whole lines are revocations, the torn one is ignored, and the same call again writes the rest", async () => {
    const serials = Array.from({ length: 500 }, (_, n) => serialOf(n));
    const batch = serials.map((serialNumber) => ({ serialNumber, reason: "keyCompromise" as const, revokedAt: at }));
    const written = tempDir("revoke-many-");
    await new FileRevocationStore(written).revokeMany(batch);
    const bytes = readFileSync(join(written, REVOCATIONS_FILE));
    expect(revocationLines(written)).toHaveLength(500);

    // What a crash 300 lines and a half into the one write leaves: the header, 300 whole lines, half of the next.
    const lines = bytes.toString("utf8").split("\n");
    const cut = lines.slice(0, 301).join("\n").length + 1 + Math.floor(lines[301]!.length / 2);
    const crashed = tempDir("revoke-many-");
    writeFileSync(join(crashed, REVOCATIONS_FILE), bytes.subarray(0, cut));
    const after = new FileRevocationStore(crashed);
    expect((await after.list()).map((e) => e.serialNumber)).toEqual(serials.slice(0, 300));
    expect(await after.get(serials[300]!)).toBeUndefined();

    const again = await after.revokeMany(batch);
    expect(again.map((r) => r.created)).toEqual(serials.map((_, n) => n >= 300));
    // The first new line was glued onto the torn one: a store reading the file from its start finds every revocation.
    for (const store of [after, new FileRevocationStore(crashed)]) {
      const listed = await store.list();
      expect(listed.map((e) => e.serialNumber)).toEqual(serials);
      expect(listed.every((e) => e.reason === "keyCompromise" && e.revokedAt.getTime() === at.getTime())).toBe(true);
    }
    expect((await after.revokeMany(batch)).some((r) => r.created || r.updated)).toBe(false);
    expect(revocationLines(crashed)).toHaveLength(500); // the torn one glued to the 301st: 300 + 200
  });
});
