// RFC 5280 §5.2.3 (CRL numbers only grow) across a reset of the store's counter: the CA passes its floor (its last
// published CRL + 1) to nextCrlNumber({ atLeast }), and the store keeps it, so the store itself numbers on above the
// last CRL (another process, or a tool that draws from the store, never gets a number already on a CRL).
import { rmSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { MemoryRevocationStore } from "@scep/core";
import { CRL_NUMBERS_FILE, FileRevocationStore, openFileCa } from "../src/index.js";
import { opensslCsr, tempDir } from "./helpers.js";

let nowMs = Date.parse("2026-03-01T10:00:00.000Z");
const clock = (): Date => new Date(nowMs);

describe("RFC 5280 §5.2.3: the CA's floor becomes the store's counter", () => {
  it("a deleted crl-numbers file: the next CRL is numbered above ca.crl, and the file holds that number", async () => {
    const dir = tempDir();
    const dataDir = join(dir, "data");
    const ca = await openFileCa({ dataDir, clock, crlValiditySeconds: 3600 });
    expect((await ca.crl()).crlNumber).toBe(1n);
    const first = await ca.issue({ csrDer: opensslCsr(dir, "one", { subject: "/CN=one" }) });
    await ca.revoke(first.serialNumber, "superseded");
    expect((await ca.crl()).crlNumber).toBe(2n);
    rmSync(join(dataDir, CRL_NUMBERS_FILE));
    const second = await ca.issue({ csrDer: opensslCsr(dir, "two", { subject: "/CN=two" }) });
    await ca.revoke(second.serialNumber, "superseded");
    nowMs += 1000;
    expect((await ca.crl()).crlNumber).toBe(3n);
    expect(readFileSync(join(dataDir, CRL_NUMBERS_FILE), "utf8")).toBe("=3\n");
    expect(await new FileRevocationStore(dataDir).nextCrlNumber()).toBe(4n);
  });

  it("a new in-memory store (a restart): the CA numbers above its last CRL and the store goes on from there", async () => {
    const dir = tempDir();
    const dataDir = join(dir, "data");
    const before = await openFileCa({ dataDir, clock, crlValiditySeconds: 3600, revocations: new MemoryRevocationStore({ now: clock }) });
    await before.crl();
    const issued = await before.issue({ csrDer: opensslCsr(dir, "one", { subject: "/CN=one" }) });
    await before.revoke(issued.serialNumber, "superseded");
    expect((await before.crl()).crlNumber).toBe(2n);
    const store = new MemoryRevocationStore({ now: clock });
    const after = await openFileCa({ dataDir, clock, crlValiditySeconds: 3600, revocations: store });
    const other = await after.issue({ csrDer: opensslCsr(dir, "two", { subject: "/CN=two" }) });
    await after.revoke(other.serialNumber, "superseded");
    nowMs += 1000;
    expect((await after.crl()).crlNumber).toBe(3n);
    expect(await store.nextCrlNumber()).toBe(4n);
  });
});
