// RFC 5280 §5.3.1 / CA/B BR §4.9.1.1 with a revocation store of your own that has no revision() (the optional O(1)
// change marker): the compromised-key set is rebuilt from list(). issue()'s first check answers from a listing that
// started less than maxStalenessMs ago, as it answers from the snapshots of a store with revision(); its re-check after
// the index line lists the store afresh, a listing started after it was asked, which concurrent re-checks share. Before,
// every check listed the whole store: two listings per issue, one after another for concurrent issues. A keyCompromise
// revoke through another CA on the store (another worker) during the staleness window is still caught by the re-check.
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { MemoryRevocationStore, type RevocationStore } from "@scep/core";
import { isEmbeddedCaError, openFileCa } from "../src/index.js";
import { fileHandlePrototype, opensslCsr, sameKeyCsr, tempDir, ticker } from "./helpers.js";

afterEach(() => {
  vi.restoreAllMocks();
});

/** A store over `inner` without revision(), counting its list() calls. */
function withoutRevision(inner: RevocationStore): { store: RevocationStore; lists: () => number } {
  let lists = 0;
  const store: RevocationStore = {
    revoke: (o) => inner.revoke(o),
    get: (s) => inner.get(s),
    list: () => ((lists += 1), inner.list()),
    nextCrlNumber: () => inner.nextCrlNumber(),
  };
  return { store, lists: () => lists };
}

describe("a revocation store without revision(): the compromised-key checks list it once per issue, not twice", () => {
  it("10 issues one after another: 11 listings (the first issue's first check, then each re-check), 20 before; once maxStalenessMs has passed the first check lists again; maxStalenessMs 0 lists per check", async () => {
    const dir = tempDir();
    const { monotonicNow, pass } = ticker();
    const { store, lists } = withoutRevision(new MemoryRevocationStore());
    const ca = await openFileCa({ dataDir: join(dir, "data"), revocations: store, monotonicNow, certificateFiles: false });
    const csrDer = opensslCsr(dir, "device", { subject: "/CN=device" });
    const before = lists();
    for (let i = 0; i < 10; i++) await ca.issue({ csrDer });
    expect(lists() - before).toBe(11);
    pass();
    const later = lists();
    await ca.issue({ csrDer });
    expect(lists() - later).toBe(2);

    const { store: eager, lists: eagerLists } = withoutRevision(new MemoryRevocationStore());
    const every = await openFileCa({ dataDir: join(dir, "every"), revocations: eager, monotonicNow, maxStalenessMs: 0, certificateFiles: false });
    const start = eagerLists();
    for (let i = 0; i < 3; i++) await every.issue({ csrDer });
    expect(eagerLists() - start).toBe(6);
  }, 120_000);

  it("10 concurrent issues share listings: fewer than the 20 checks they make", async () => {
    const dir = tempDir();
    const { store, lists } = withoutRevision(new MemoryRevocationStore());
    const ca = await openFileCa({ dataDir: join(dir, "data"), revocations: store, certificateFiles: false, monotonicNow: () => 0 });
    const csrDer = opensslCsr(dir, "device", { subject: "/CN=device" });
    // The index's writes take 200 ms (a slow disk), so the lines of the issues behind the first form one batch and their
    // re-checks come at once: what is counted is the sharing, not how a fast disk happened to split the batches (an
    // index line that became durable between two others' made a listing of its own).
    const proto = await fileHandlePrototype();
    const realWrite = proto.write;
    let batches = 0;
    vi.spyOn(proto, "write").mockImplementation(async function (this: unknown, ...args: unknown[]) {
      batches += 1;
      await new Promise((resolve) => setTimeout(resolve, 200));
      return realWrite.apply(this, args);
    });
    const before = lists();
    await Promise.all(Array.from({ length: 10 }, () => ca.issue({ csrDer })));
    expect(batches).toBeLessThanOrEqual(2);
    expect(lists() - before).toBeLessThanOrEqual(3);
  }, 120_000);

  it("another CA on the store revokes a key keyCompromise inside this CA's staleness window: the first check misses it, the re-check after the index line lists afresh, revokes the new certificate and rejects KEY_COMPROMISED", async () => {
    const dir = tempDir();
    const dataDir = join(dir, "data");
    const inner = new MemoryRevocationStore();
    const { store } = withoutRevision(inner);
    const monotonicNow = (): number => 0; // this CA's listing never falls due: only the re-check lists again
    const ca = await openFileCa({ dataDir, revocations: store, monotonicNow });
    const other = await openFileCa({ dataDir, revocations: store, monotonicNow });
    const first = await ca.issue({ csrDer: opensslCsr(dir, "k", { subject: "/CN=k" }) }); // ca's listing is now fresh
    await other.revoke(first.serialNumber, "keyCompromise");
    const refused = await ca.issue({ csrDer: sameKeyCsr(dir, "k", "/CN=k-2") }).catch((e: unknown) => e);
    expect(isEmbeddedCaError(refused, "KEY_COMPROMISED")).toBe(true);
    const records = await ca.list();
    expect(records).toHaveLength(2); // the second certificate was signed and indexed (the first check missed the revoke) …
    expect((await inner.get(records[1]!.serialNumber))?.reason).toBe("keyCompromise"); // … and is revoked
  }, 120_000);
});
