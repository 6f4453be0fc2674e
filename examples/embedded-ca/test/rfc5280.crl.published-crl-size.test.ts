// RFC 5280 §3.3 with a CA that has revoked many certificates: the published CRL (ca.crl.json) is read back whatever
// its number of entries. A reader with a node limit (asn1js's fromBER stops at 10 000 ASN.1 nodes unless told
// otherwise, about 1 250 entries that carry a reasonCode) would call the CA's own CRL "not a CRL": not served, not
// adopted by the other workers, nothing restored from it.
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { MemoryRevocationStore, REVOCATION_REASONS, type RevocationReason } from "@scep/core";
import { openFileCa, type RevocationsRestoredEvent } from "../src/index.js";
import { readCrlParts } from "../src/crl-entries.js";
import { tempDir } from "./helpers.js";

describe("RFC 5280 §3.3: a published CRL of 3 000 entries is read back", () => {
  it("3 000 entries with reasonCodes: readCrlParts lists them all; another FileCa whose store lost them restores every one, and none is ignored", async () => {
    const dir = tempDir();
    const dataDir = join(dir, "data");
    const store = new MemoryRevocationStore();
    const reasons = Object.keys(REVOCATION_REASONS).filter((r) => r !== "unspecified") as RevocationReason[];
    for (let i = 0; i < 3_000; i++) await store.revoke({ serialNumber: (0x100000 + i).toString(16), reason: reasons[i % reasons.length]! });
    const ca = await openFileCa({ dataDir, revocations: store });
    const published = await ca.crl();
    expect(published.revokedCount).toBe(3_000);
    const parts = readCrlParts(published.der);
    expect([parts.entries.length, parts.skipped, parts.crlNumber]).toEqual([3_000, 0, published.crlNumber]);

    const ignored: unknown[] = [];
    const restored: RevocationsRestoredEvent[] = [];
    const lost = new MemoryRevocationStore();
    const other = await openFileCa({ dataDir, revocations: lost, onPublishedCrlIgnored: (e) => ignored.push(e), onRevocationsRestored: (e) => restored.push(e) });
    expect(ignored).toEqual([]);
    expect(restored).toEqual([{ restored: 3_000, skipped: 0, crlNumber: published.crlNumber }]);
    expect((await lost.list()).length).toBe(3_000);
    expect((await other.crl()).crlNumber >= published.crlNumber).toBe(true);
  }, 120_000);
});
