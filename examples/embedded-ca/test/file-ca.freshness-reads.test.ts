// The per-request revocation checks (issue()'s compromised-key check, revocation(), isKeyCompromised) read the
// revocation state through one snapshot per FileCa: the default FileRevocationStore's memory of revocations.jsonl and
// CrlPublication's of ca.crl.json, each looked at (a stat) at most once per maxStalenessMs. Counted here: the stat and
// open calls on those two files, over many requests. What must stay immediate is checked too: this process's own
// revoke counts at once, crl() always looks, and another worker's revoke counts once its snapshot is due. One read is
// not from the snapshot: an issue's re-check after its index line is durable reads the store's latest revision (one
// stat of revocations.jsonl), so that a keyCompromise revoke by another worker whose sweep of the index came too early
// for that line is seen (CA/B BR §4.9.1.1; rfc5280.key-compromise.issue-race.test.ts).
import { basename } from "node:path";
import { join } from "node:path";
import { beforeEach, describe, expect, it, vi } from "vitest";

const calls = vi.hoisted(() => ({ byFile: new Map<string, number>() }));

vi.mock("node:fs/promises", async (importOriginal) => {
  const actual = await importOriginal<typeof import("node:fs/promises")>();
  const counted = <F extends (path: never, ...rest: never[]) => unknown>(f: F): F =>
    ((path: unknown, ...rest: unknown[]) => {
      const name = basename(String(path));
      calls.byFile.set(name, (calls.byFile.get(name) ?? 0) + 1);
      return (f as unknown as (...a: unknown[]) => unknown)(path, ...rest);
    }) as unknown as F;
  return { ...actual, stat: counted(actual.stat), open: counted(actual.open), readFile: counted(actual.readFile), default: { ...actual, stat: counted(actual.stat), open: counted(actual.open), readFile: counted(actual.readFile) } };
});

const { FileRevocationStore, isEmbeddedCaError, openFileCa } = await import("../src/index.js");
const { opensslCsr, tempDir, ticker } = await import("./helpers.js");
const { readCrlEntries } = await import("../src/crl-entries.js");

/** File system calls (stat, open, readFile) on revocations.jsonl and ca.crl.json since the last reset. */
function freshnessCalls(): { revocations: number; publishedCrl: number } {
  return { revocations: calls.byFile.get("revocations.jsonl") ?? 0, publishedCrl: calls.byFile.get("ca.crl.json") ?? 0 };
}

beforeEach(() => calls.byFile.clear());

describe("FileRevocationStore: get and revision() answer from memory within maxStalenessMs", () => {
  it("100 get/revision calls stat nothing; its own revoke counts at once; another store's once the snapshot is due, or at once with { latest: true }", async () => {
    const dir = tempDir("freshness-");
    const { monotonicNow, pass } = ticker();
    const mine = new FileRevocationStore(dir, { monotonicNow });
    const other = new FileRevocationStore(dir, { monotonicNow });
    const empty = await mine.revision();
    await other.revision();
    calls.byFile.clear();
    for (let i = 0; i < 50; i++) {
      expect(await mine.get("0a")).toBeUndefined();
      expect(await mine.revision()).toBe(empty);
    }
    expect(freshnessCalls()).toEqual({ revocations: 0, publishedCrl: 0 });

    await mine.revoke({ serialNumber: "0a", reason: "superseded" });
    expect((await mine.get("0a"))?.reason).toBe("superseded"); // its own: at once, the clock has not moved
    expect(await mine.revision()).toBe(empty + 1);

    await other.revoke({ serialNumber: "0b", reason: "keyCompromise" });
    pass(999);
    calls.byFile.clear();
    expect(await mine.get("0b")).toBeUndefined(); // the snapshot is 999 ms old: not looked at
    expect(freshnessCalls().revocations).toBe(0);
    expect(await mine.revision({ latest: true })).toBe(empty + 2);
    expect(freshnessCalls().revocations).toBe(2); // one stat, one open to read the appended line

    await other.revoke({ serialNumber: "0c", reason: "keyCompromise" });
    pass();
    expect((await mine.get("0c"))?.reason).toBe("keyCompromise");
  });

  it("maxStalenessMs 0 looks on every call; a bad value is ERR_INVALID_ARGUMENT", async () => {
    const store = new FileRevocationStore(tempDir("freshness-"), { maxStalenessMs: 0 });
    await store.revision();
    calls.byFile.clear();
    for (let i = 0; i < 5; i++) await store.get("0a");
    expect(freshnessCalls().revocations).toBe(5);
    for (const bad of [-1, Number.NaN, Infinity, "1000"]) {
      expect(() => new FileRevocationStore(tempDir("freshness-"), { maxStalenessMs: bad as number })).toThrow(expect.objectContaining({ code: "ERR_INVALID_ARGUMENT" }));
    }
  });
});

describe("one freshness gate (lib/staleness.ts) for revocations.jsonl and ca.crl.json", () => {
  it("a monotonic clock that went back looks at each file again; exactly maxStalenessMs old looks again too", async () => {
    const dir = tempDir("freshness-");
    const dataDir = join(dir, "data");
    const { monotonicNow, pass } = ticker(1000);
    const ca = await openFileCa({ dataDir, monotonicNow, maxStalenessMs: 500, certificateFiles: false });
    await ca.crl(); // published: ca.crl.json exists, and both files were just looked at
    calls.byFile.clear();
    await ca.revocation("01");
    expect(freshnessCalls()).toEqual({ revocations: 0, publishedCrl: 0 });
    pass(-1); // the clock went back: nothing read can be dated, so both are looked at (one stat each)
    await ca.revocation("01");
    expect(freshnessCalls()).toEqual({ revocations: 1, publishedCrl: 1 });
    calls.byFile.clear();
    pass(499); // 499 ms after that look: from memory
    await ca.revocation("01");
    expect(freshnessCalls()).toEqual({ revocations: 0, publishedCrl: 0 });
    pass(1); // 500 ms: due
    await ca.revocation("01");
    expect(freshnessCalls()).toEqual({ revocations: 1, publishedCrl: 1 });
  });

  it("a bad maxStalenessMs or monotonicNow: openFileCa INVALID_OPTIONS, FileRevocationStore ERR_INVALID_ARGUMENT, with the same one line", async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ maxStalenessMs: -1 }, "maxStalenessMs must be a number of milliseconds >= 0, got -1"],
      [{ maxStalenessMs: "1000" }, "maxStalenessMs must be a number of milliseconds >= 0, got 1000"],
      [{ monotonicNow: 5 }, "monotonicNow must be a function returning milliseconds"],
    ];
    for (const [options, message] of cases) {
      const opened = await openFileCa({ dataDir: join(tempDir("freshness-"), "data"), certificateFiles: false, ...options }).catch((e: unknown) => e);
      expect(isEmbeddedCaError(opened, "INVALID_OPTIONS"), String(opened)).toBe(true);
      expect((opened as Error).message).toBe(message);
      expect(() => new FileRevocationStore(tempDir("freshness-"), options)).toThrow(expect.objectContaining({ code: "ERR_INVALID_ARGUMENT", message }));
    }
  });
});

describe("FileCa: issue() pays one stat per request for the revocation state, after its index line", () => {
  it("50 issues (no compromised key known, then one known) stat revocations.jsonl once each (the re-check after the index line) and ca.crl.json never; its own revoke is refused at once; another worker's once due; crl() always looks", async () => {
    const dir = tempDir("freshness-");
    const dataDir = join(dir, "data");
    const { monotonicNow, pass } = ticker();
    const ca = await openFileCa({ dataDir, monotonicNow, certificateFiles: false });
    const worker = await openFileCa({ dataDir, monotonicNow, certificateFiles: false });
    const csrDer = opensslCsr(dir, "device", { subject: "/CN=device" });
    await ca.crl(); // published: ca.crl.json exists
    const device = await ca.issue({ csrDer });

    calls.byFile.clear();
    for (let i = 0; i < 25; i++) await ca.issue({ csrDer });
    expect(freshnessCalls()).toEqual({ revocations: 25, publishedCrl: 0 });

    const lostCsr = opensslCsr(dir, "lost", { subject: "/CN=lost" });
    const compromised = await ca.issue({ csrDer: lostCsr });
    await ca.revoke(compromised.serialNumber, "keyCompromise");
    const again = await ca.issue({ csrDer: lostCsr }).catch((e: unknown) => e);
    expect(isEmbeddedCaError(again, "KEY_COMPROMISED")).toBe(true); // its own revoke: at once, the clock has not moved
    // A key already known compromised is refused without a look at the store; the next other key's check sees the
    // revision the revoke moved and refreshes the set once (one list of the store).
    await ca.issue({ csrDer });

    calls.byFile.clear();
    for (let i = 0; i < 25; i++) await ca.issue({ csrDer });
    expect(await ca.revocation(compromised.serialNumber)).toMatchObject({ reason: "keyCompromise" });
    expect(await ca.revocation("01")).toBeUndefined();
    expect(freshnessCalls()).toEqual({ revocations: 25, publishedCrl: 0 });

    // Another worker revokes the key `device` uses: refused here once this CA's snapshot is due.
    await worker.revoke(device.serialNumber, "keyCompromise");
    pass();
    const late = await ca.issue({ csrDer }).catch((e: unknown) => e);
    expect(isEmbeddedCaError(late, "KEY_COMPROMISED")).toBe(true);

    // crl() reads the latest state: another worker's revoke is on this CA's next CRL at once.
    const other = await ca.issue({ csrDer: opensslCsr(dir, "other", { subject: "/CN=other" }) });
    await ca.crl();
    await worker.revoke(other.serialNumber, "superseded");
    expect(readCrlEntries((await ca.crl()).der).map((e) => e.serialNumber)).toContain(other.serialNumber);
  });
});
