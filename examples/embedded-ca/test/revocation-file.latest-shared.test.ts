// FileRevocationStore.revision({ latest: true }) (each issue's re-check after its index line, every crl()): concurrent
// calls share one look at revocations.jsonl instead of each taking its turn to stat it, and that look always starts
// after the call was made, so a revocation another store (another worker) completed before the call is counted.
// The stats are counted at node:fs/promises' `stat`, which the store calls; one can be held to make a call arrive
// while a look is in flight.
import { join } from "node:path";
import { describe, expect, it, vi } from "vitest";
import { FileRevocationStore, REVOCATIONS_FILE } from "../src/index.js";
import { tempDir } from "./helpers.js";

const probe = vi.hoisted(() => ({
  /** Paths stat'ed, in order. */
  stats: [] as string[],
  /** When set, the next stat's result (taken at once) is handed back only once this resolves. */
  holdNext: undefined as Promise<void> | undefined,
}));

vi.mock("node:fs/promises", async (importOriginal) => {
  const actual = await importOriginal<typeof import("node:fs/promises")>();
  const stat = async (...args: Parameters<typeof actual.stat>) => {
    probe.stats.push(String(args[0]));
    const hold = probe.holdNext;
    probe.holdNext = undefined;
    const result = await actual.stat(...args);
    if (hold) await hold;
    return result;
  };
  return { ...actual, stat, default: { ...actual, stat } };
});

const statsOf = (dir: string): number => probe.stats.filter((p) => p === join(dir, REVOCATIONS_FILE)).length;

describe("FileRevocationStore: concurrent latest revisions share one look at the file", () => {
  it("20 concurrent revision({ latest: true }) calls stat revocations.jsonl once, and count the revocation another store completed just before", async () => {
    const dir = tempDir("revocation-latest-");
    const reader = new FileRevocationStore(dir);
    const writer = new FileRevocationStore(dir);
    const before = await reader.revision({ latest: true });
    await writer.revoke({ serialNumber: "4a01", reason: "keyCompromise" });
    const statsBefore = statsOf(dir);
    const answers = await Promise.all(Array.from({ length: 20 }, () => reader.revision({ latest: true })));
    expect(answers).toEqual(Array.from({ length: 20 }, () => before + 1));
    expect(statsOf(dir) - statsBefore).toBe(1);
  });

  it("a call made while a look is in flight (its stat taken before another store's revoke) waits for the next look: it counts the revoke, the earlier call does not; the calls made meanwhile share that next look", async () => {
    const dir = tempDir("revocation-latest-");
    const reader = new FileRevocationStore(dir);
    const writer = new FileRevocationStore(dir);
    const before = await reader.revision({ latest: true });
    await writer.list(); // the writer's file state read, so its revoke below stats without the hold
    let release!: () => void;
    probe.holdNext = new Promise<void>((resolve) => (release = resolve));
    const statsBefore = statsOf(dir);
    const early = reader.revision({ latest: true });
    await vi.waitFor(() => expect(statsOf(dir) - statsBefore).toBe(1)); // its look has stat'ed the file
    await writer.revoke({ serialNumber: "4a02", reason: "keyCompromise" });
    const statsAfterRevoke = statsOf(dir);
    const late = Array.from({ length: 5 }, () => reader.revision({ latest: true }));
    release();
    expect(await early).toBe(before);
    expect(await Promise.all(late)).toEqual(Array.from({ length: 5 }, () => before + 1));
    expect(statsOf(dir) - statsAfterRevoke).toBe(1);
  });
});
