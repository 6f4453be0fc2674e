// RFC 5280 §5.2.3: the cRLNumber of one CA's CRLs only grows, whoever signs them. The processes of one data directory
// (the workers of --workers N, replicas on one volume) share the last CRL through ca.crl / ca.crl.json: a client
// asking them in turn, a reader of ca.crl, and a CA whose revocation store was reset never see the number go back,
// and ca.crl is never half-written. Real processes (test/fixtures/ca-child.ts) for the last part.
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import "reflect-metadata";
import { AsnConvert } from "@peculiar/asn1-schema";
import { CRLNumber, CertificateList, id_ce_cRLNumber } from "@peculiar/asn1-x509";
import { describe, expect, it } from "vitest";
import { MemoryRevocationStore } from "@scep/core";
import { openFileCa } from "../src/index.js";
import { opensslCsr, spawnCaChild, tempDir } from "./helpers.js";

/** The cRLNumber of a DER CRL; throws on anything but one whole CRL (a half-written file). */
function crlNumberOf(der: Uint8Array): bigint {
  const list = AsnConvert.parse(der, CertificateList);
  if (AsnConvert.serialize(list).byteLength !== der.byteLength) throw new Error(`not one whole CRL (${der.byteLength} bytes)`);
  const extension = list.tbsCertList.crlExtensions?.find((e) => e.extnID === id_ce_cRLNumber);
  if (!extension) throw new Error("no cRLNumber");
  return BigInt(AsnConvert.parse(extension.extnValue, CRLNumber).value);
}

describe("RFC 5280 §5.2.3: one CRL number sequence for every process of a data directory", () => {
  it("two FileCa on one data directory (two workers), asked in turn as time passes: the number a client sees never goes back, and ca.crl holds the highest", async () => {
    let nowMs = Date.parse("2026-03-01T10:00:00.000Z");
    const clock = (): Date => new Date(nowMs);
    const dataDir = join(tempDir(), "data");
    const a = await openFileCa({ dataDir, clock, crlValiditySeconds: 3600 });
    const b = await openFileCa({ dataDir, clock, crlValiditySeconds: 3600 });
    const seen: bigint[] = [];
    for (let round = 0; round < 8; round++) {
      for (const worker of round % 2 ? [b, a] : [a, b]) seen.push((await worker.crl()).crlNumber);
      nowMs += 1000_000; // 1000 s: a CRL is re-signed after 1800 s, by whichever worker is asked first
    }
    expect(seen).toEqual([...seen].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0)));
    expect(new Set(seen).size).toBe(4); // signed at 0, 2000, 4000 and 6000 s: once each, not once per worker
    expect(crlNumberOf(readFileSync(join(dataDir, "ca.crl")))).toBe(seen.at(-1));
  });

  it("a CA reopened with a new (empty) revocation store goes on above its last CRL, and ca.crl is never replaced by a lower number", async () => {
    let nowMs = Date.parse("2026-03-01T10:00:00.000Z");
    const clock = (): Date => new Date(nowMs);
    const dir = tempDir();
    const dataDir = join(dir, "data");
    const before = await openFileCa({ dataDir, clock, crlValiditySeconds: 3600, revocations: new MemoryRevocationStore({ now: clock }) });
    const issued = await before.issue({ csrDer: opensslCsr(dir, "a", { subject: "/CN=a" }) });
    await before.crl();
    await before.revoke(issued.serialNumber, "keyCompromise");
    expect((await before.crl()).crlNumber).toBe(2n);

    nowMs += 60_000;
    const after = await openFileCa({ dataDir, clock, crlValiditySeconds: 3600, revocations: new MemoryRevocationStore({ now: clock }) });
    const next = await after.crl(); // the new store hands out 1: the CA numbers it above the published 2
    // RFC 5280 §3.3: the revocation the published CRL listed is back in the new store, and on the new CRL.
    expect([next.crlNumber, next.revokedCount]).toEqual([3n, 1]);
    expect(crlNumberOf(readFileSync(join(dataDir, "ca.crl")))).toBe(3n);
  });

  it("a publication a crash cut short (ca.crl.json replaced, ca.crl not yet), or a deleted ca.crl: the next open puts the published CRL in ca.crl", async () => {
    let nowMs = Date.parse("2026-03-01T10:00:00.000Z");
    const clock = (): Date => new Date(nowMs);
    const dir = tempDir();
    const dataDir = join(dir, "data");
    const ca = await openFileCa({ dataDir, clock, crlValiditySeconds: 3600 });
    const issued = await ca.issue({ csrDer: opensslCsr(dir, "a", { subject: "/CN=a" }) });
    expect((await ca.crl()).crlNumber).toBe(1n);
    const older = readFileSync(join(dataDir, "ca.crl"));
    await ca.revoke(issued.serialNumber, "keyCompromise");
    const newer = await ca.crl();
    expect(newer.crlNumber).toBe(2n);
    writeFileSync(join(dataDir, "ca.crl"), older); // as if killed between the renames of ca.crl.json and ca.crl

    nowMs += 60_000; // the published CRL is still fresh: nothing re-signs it
    const reopened = await openFileCa({ dataDir, clock, crlValiditySeconds: 3600 });
    expect(crlNumberOf(readFileSync(join(dataDir, "ca.crl")))).toBe(2n);
    expect(Buffer.from(readFileSync(join(dataDir, "ca.crl"))).equals(Buffer.from(newer.der))).toBe(true);
    expect((await reopened.crl()).crlNumber).toBe(2n);

    rmSync(join(dataDir, "ca.crl"));
    await openFileCa({ dataDir, clock, crlValiditySeconds: 3600 });
    expect(crlNumberOf(readFileSync(join(dataDir, "ca.crl")))).toBe(2n);
  });

  it("two processes revoking and signing in a loop on one data directory: each one's numbers and every read of ca.crl only grow, and every read is one whole CRL", async () => {
    const dataDir = join(tempDir(), "data");
    await openFileCa({ dataDir }); // the CA, created before the children race to use it
    const children = [spawnCaChild([dataDir, "crl-loop"]), spawnCaChild([dataDir, "crl-loop"])];
    const reads: bigint[] = [];
    const enough = (): boolean => children.every((c) => c.lines.filter((l) => l.startsWith("CRL ")).length >= 60);
    try {
      while (!enough()) {
        if (existsSync(join(dataDir, "ca.crl"))) reads.push(crlNumberOf(readFileSync(join(dataDir, "ca.crl"))));
        await new Promise((resolve) => setImmediate(resolve));
        for (const c of children) if (c.process.exitCode !== null) throw new Error(`a child exited: ${c.stderr()}`);
      }
    } finally {
      for (const c of children) c.process.kill("SIGKILL");
      await Promise.all(children.map((c) => c.exited));
    }
    const ascending = (list: bigint[]): boolean => list.every((n, i) => i === 0 || n >= list[i - 1]!);
    expect(reads.length).toBeGreaterThan(10);
    expect(ascending(reads)).toBe(true);
    for (const c of children) expect(ascending(c.lines.filter((l) => l.startsWith("CRL ")).map((l) => BigInt(l.slice(4))))).toBe(true);
  }, 120_000);
});
