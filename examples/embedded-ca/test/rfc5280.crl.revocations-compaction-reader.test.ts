// A FileRevocationStore that reads revocations.jsonl while another process compacts it: the store stats the path,
// then opens it; a compaction that renames its new file over the path in between must not have the new file read up
// to the old file's size (part of its lines: a revision lower than the compaction's, one an earlier list had, which
// keys the CA's CRL and compromised-key caches). The interleaving is made exact at node:fs/promises' `open`, which
// the store calls: the reader's open of the file runs the other store's revokes and compaction first.
import { join } from "node:path";
import { describe, expect, it, vi } from "vitest";
import { FileRevocationStore, REVOCATIONS_FILE } from "../src/index.js";
import { tempDir } from "./helpers.js";

const probe = vi.hoisted(() => ({
  /** When set, run (once) before the next open of this path for reading. */
  before: undefined as { path: string; run: () => Promise<void> } | undefined,
}));

vi.mock("node:fs/promises", async (importOriginal) => {
  const actual = await importOriginal<typeof import("node:fs/promises")>();
  const open = async (...args: Parameters<typeof actual.open>) => {
    const hook = probe.before;
    if (hook && String(args[0]) === hook.path && (args[1] ?? "r") === "r") {
      probe.before = undefined;
      await hook.run();
    }
    return actual.open(...args);
  };
  return { ...actual, open, default: { ...actual, open } };
});

const serialsOf = async (store: FileRevocationStore): Promise<string[]> => (await store.list()).map((e) => e.serialNumber).sort();

describe("revocations.jsonl compaction between a reader's stat and its open", () => {
  it("the reader counts the compacted file whole: its revision is the compactor's, its list the kept entries", async () => {
    const dataDir = tempDir();
    const writer = new FileRevocationStore(dataDir);
    const reader = new FileRevocationStore(dataDir, { maxStalenessMs: 0 });
    for (const serial of ["01", "02", "03"]) await writer.revoke({ serialNumber: serial, reason: "superseded" });
    expect(await serialsOf(reader)).toEqual(["01", "02", "03"]); // read to the end of the file
    await writer.revoke({ serialNumber: "04", reason: "superseded" }); // the reader's next stat sees the file grown
    probe.before = {
      path: join(dataDir, REVOCATIONS_FILE),
      run: async () => {
        // After the reader's stat, before its open: more revocations, then a compaction (a new file, longer than the
        // one the reader stat'ed).
        for (const serial of ["05", "06", "07"]) await writer.revoke({ serialNumber: serial, reason: "superseded" });
        expect(await writer.compact(new Set(["01"]))).toBe(1);
      },
    };
    const revision = await reader.revision({ latest: true });
    expect(probe.before).toBeUndefined(); // the compaction ran between the stat and the open
    expect(revision).toBe(await writer.revision({ latest: true }));
    expect(await serialsOf(reader)).toEqual(["02", "03", "04", "05", "06", "07"]);
  });
});
