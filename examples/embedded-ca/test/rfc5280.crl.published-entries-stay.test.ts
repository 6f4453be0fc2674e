// RFC 5280 §3.3 / §5.3.1: a certificate once on a published CRL stays revoked until it expires (only a delta CRL's
// removeFromCRL takes an entry off; this CA issues none). A revocation store that lost what the last published CRL
// (ca.crl.json) lists gets those entries back, with their reason and revocationDate, when the CA opens or signs its
// next CRL, and FileCa.revocation() answers from the published CRL meanwhile. A store down at open does not stop the
// open; the restore happens once it is back. An entry whose certificate expired before the published CRL was issued
// is not restored (RFC 5280 §3.3: it has been on a CRL issued after the expiry); one that expired later is.
import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { MemoryRevocationStore } from "@scep/core";
import { FileRevocationStore, openFileCa, type RevocationsRestoredEvent } from "../src/index.js";
import { readCrlEntries } from "../src/crl-entries.js";
import { opensslCsr, tempDir } from "./helpers.js";

const T0 = Date.parse("2026-03-01T10:00:00.000Z");

describe("RFC 5280 §3.3: entries of the published CRL stay on the CRLs after it", () => {
  it("a new, empty store: at open the published entries go back (serial, reason, revocationDate), the next CRL lists them, one onRevocationsRestored names the count and CRL number; a certificate that expired after that CRL stays on the next one (RFC 5280 §3.3), and is left off only once a CRL issued after its expiry listed it", async () => {
    let nowMs = T0;
    const clock = (): Date => new Date(nowMs);
    const dir = tempDir();
    const dataDir = join(dir, "data");
    const before = await openFileCa({ dataDir, clock, crlValiditySeconds: 3600, revocations: new MemoryRevocationStore({ now: clock }) });
    const shortLived = await before.issue({ csrDer: opensslCsr(dir, "short", { subject: "/CN=short" }), validityDays: 1 });
    const longLived = await before.issue({ csrDer: opensslCsr(dir, "long", { subject: "/CN=long" }), validityDays: 30 });
    await before.revoke(shortLived.serialNumber, "superseded");
    nowMs += 5_000;
    await before.revoke(longLived.serialNumber, "keyCompromise");
    const published = await before.crl();
    expect(published.revokedCount).toBe(2);

    nowMs += 2 * 86_400_000; // the short-lived certificate has expired, after the published CRL was issued
    const events: RevocationsRestoredEvent[] = [];
    const store = new MemoryRevocationStore({ now: clock });
    const after = await openFileCa({ dataDir, clock, crlValiditySeconds: 3600, revocations: store, onRevocationsRestored: (e) => events.push(e) });
    const both = [
      { serialNumber: shortLived.serialNumber, reason: "superseded", revokedAt: new Date(T0) },
      { serialNumber: longLived.serialNumber, reason: "keyCompromise", revokedAt: new Date(T0 + 5_000) },
    ];
    expect(events).toEqual([{ restored: 2, skipped: 0, crlNumber: published.crlNumber }]);
    expect(await store.list()).toEqual(both);
    const next = await after.crl();
    expect(next.crlNumber > published.crlNumber).toBe(true);
    expect(readCrlEntries(next.der)).toEqual(both); // the expired one is on a CRL issued after its expiry now
    expect(events).toHaveLength(1); // nothing more to restore

    // Emptied again: `next` was issued after the short-lived certificate expired, so only the other entry comes back.
    nowMs += 5_000;
    const later: RevocationsRestoredEvent[] = [];
    const again = new MemoryRevocationStore({ now: clock });
    await openFileCa({ dataDir, clock, crlValiditySeconds: 3600, revocations: again, onRevocationsRestored: (e) => later.push(e) });
    expect(later).toEqual([{ restored: 1, skipped: 0, crlNumber: next.crlNumber }]);
    expect(await again.list()).toEqual([both[1]]);
  });

  it("a store emptied while the CA runs: revocation() answers from the published CRL and puts it back; the next CRL lists it", async () => {
    const dir = tempDir();
    const dataDir = join(dir, "data");
    let store = new MemoryRevocationStore();
    const events: RevocationsRestoredEvent[] = [];
    const ca = await openFileCa({ dataDir, crlValiditySeconds: 3600, revocations: { revoke: (o) => store.revoke(o), get: (s) => store.get(s), list: () => store.list(), nextCrlNumber: () => store.nextCrlNumber(), revision: () => store.revision() }, onRevocationsRestored: (e) => events.push(e) });
    const issued = await ca.issue({ csrDer: opensslCsr(dir, "a", { subject: "/CN=a" }) });
    await ca.revoke(issued.serialNumber, "keyCompromise");
    const published = await ca.crl();
    store = new MemoryRevocationStore(); // what a Redis restarted without persistence looks like
    expect(await ca.revocation(issued.serialNumber.toUpperCase())).toMatchObject({ serialNumber: issued.serialNumber, reason: "keyCompromise" });
    expect(events).toEqual([{ restored: 1, skipped: 0, crlNumber: published.crlNumber }]);
    expect((await store.get(issued.serialNumber))?.reason).toBe("keyCompromise");
    expect(readCrlEntries((await ca.crl()).der).map((e) => e.serialNumber)).toEqual([issued.serialNumber]);
  });

  it("the store is unavailable at open: the open succeeds, crl() answers ERR_STORE_UNAVAILABLE while it is down, and once it is back the published entries are restored and listed", async () => {
    const dir = tempDir();
    const dataDir = join(dir, "data");
    const first = await openFileCa({ dataDir, crlValiditySeconds: 3600 });
    const issued = await first.issue({ csrDer: opensslCsr(dir, "a", { subject: "/CN=a" }) });
    await first.revoke(issued.serialNumber, "cACompromise");
    const published = await first.crl();
    // revocations.jsonl lost, and in its place something the store cannot read (a directory): the store is down.
    rmSync(join(dataDir, "revocations.jsonl"));
    mkdirSync(join(dataDir, "revocations.jsonl"));
    const events: RevocationsRestoredEvent[] = [];
    const second = await openFileCa({ dataDir, crlValiditySeconds: 3600, onRevocationsRestored: (e) => events.push(e) });
    await expect(second.crl()).rejects.toMatchObject({ code: "ERR_STORE_UNAVAILABLE" });
    expect(events).toEqual([]);
    rmSync(join(dataDir, "revocations.jsonl"), { recursive: true });
    const next = await second.crl();
    expect(readCrlEntries(next.der)).toEqual([{ serialNumber: issued.serialNumber, reason: "cACompromise", revokedAt: expect.any(Date) }]);
    expect(events).toEqual([{ restored: 1, skipped: 0, crlNumber: published.crlNumber }]);
    expect((await new FileRevocationStore(dataDir).get(issued.serialNumber))?.reason).toBe("cACompromise");
  });
});
