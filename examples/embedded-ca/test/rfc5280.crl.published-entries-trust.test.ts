// What the restore of a published CRL's entries (ca.crl.json) trusts, and how often it runs. RFC 5280 §6.3.3: a CRL
// counts only when its issuer is the CA and its signature verifies with the CA's key; an unverifiable ca.crl.json is
// ignored for the restore (one onPublishedCrlIgnored; the CA still opens and signs). An entry that does not read is
// skipped on its own (counted in onRevocationsRestored's `skipped`); the others are restored. A look-up of a serial
// whose entry a restore left off (its certificate expired before the CRL was issued) does not list the store again
// for that CRL.
import { sign } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import "reflect-metadata";
import { AsnConvert, OctetString } from "@peculiar/asn1-schema";
import { AlgorithmIdentifier, Certificate, CertificateList, CRLNumber, CRLReason, CRLReasons, Extension, RevokedCertificate as AsnRevokedCertificate, TBSCertList, Time, Version, id_ce_cRLNumber, id_ce_cRLReasons } from "@peculiar/asn1-x509";
import { describe, expect, it } from "vitest";
import { MemoryRevocationStore, type RevocationStore } from "@scep/core";
import { openFileCa, type FileCa, type RevocationsRestoredEvent } from "../src/index.js";
import { readCrlEntries } from "../src/crl-entries.js";
import { opensslCsr, tempDir } from "./helpers.js";

const T0 = Date.parse("2026-03-01T10:00:00.000Z");

/** Replaces the DER in `dataDir/ca.crl.json` (and ca.crl), keeping everything else the file says but what `stated` gives. */
function publishDer(dataDir: string, der: Uint8Array, crlNumber?: bigint, stated?: { thisUpdate: Date; nextUpdate: Date; revokedCount: number }): void {
  const path = join(dataDir, "ca.crl.json");
  const state = JSON.parse(readFileSync(path, "utf8")) as Record<string, unknown>;
  state.der = Buffer.from(der).toString("base64");
  if (crlNumber !== undefined) state.crlNumber = String(crlNumber);
  if (stated) Object.assign(state, { thisUpdate: stated.thisUpdate.toISOString(), nextUpdate: stated.nextUpdate.toISOString(), revokedCount: stated.revokedCount });
  writeFileSync(path, `${JSON.stringify(state)}\n`);
  writeFileSync(join(dataDir, "ca.crl"), der);
}

/** A store that counts its list() calls. */
function countingStore(clock?: () => Date): { store: RevocationStore; lists: () => number; inner: MemoryRevocationStore } {
  const inner = new MemoryRevocationStore(clock ? { now: clock } : {});
  let lists = 0;
  const store: RevocationStore = {
    revoke: (o) => inner.revoke(o),
    get: (s) => inner.get(s),
    list: () => ((lists += 1), inner.list()),
    nextCrlNumber: () => inner.nextCrlNumber(),
    revision: () => inner.revision(),
  };
  return { store, lists: () => lists, inner };
}

/** A CA with one revoked certificate on its published CRL. */
async function publishedRevocation(dir: string): Promise<{ dataDir: string; serial: string; crlNumber: bigint; ca: FileCa }> {
  const dataDir = join(dir, "data");
  const ca = await openFileCa({ dataDir, crlValiditySeconds: 3600, revocations: new MemoryRevocationStore() });
  const issued = await ca.issue({ csrDer: opensslCsr(dir, "a", { subject: "/CN=a" }) });
  await ca.revoke(issued.serialNumber, "keyCompromise");
  const crl = await ca.crl();
  return { dataDir, serial: issued.serialNumber, crlNumber: crl.crlNumber, ca };
}

describe("RFC 5280 §6.3.3: a published CRL is trusted for the restore only when it is the CA's", () => {
  it("a signature that does not verify (one bit of it flipped): nothing is restored, revocation() does not answer from it, one onPublishedCrlIgnored; the CA opens and signs the next CRL", async () => {
    const dir = tempDir();
    const { dataDir, serial, crlNumber } = await publishedRevocation(dir);
    const der = new Uint8Array(readFileSync(join(dataDir, "ca.crl")));
    der[der.length - 5]! ^= 0x01; // inside signatureValue, the last field
    publishDer(dataDir, der);

    const ignored: { crlNumber?: bigint; reason: string }[] = [];
    const restored: RevocationsRestoredEvent[] = [];
    const store = new MemoryRevocationStore();
    const ca = await openFileCa({ dataDir, crlValiditySeconds: 3600, revocations: store, onRevocationsRestored: (e) => restored.push(e), onPublishedCrlIgnored: (e) => ignored.push(e) });
    expect(await store.list()).toEqual([]);
    expect(await ca.revocation(serial)).toBeUndefined();
    const next = await ca.crl();
    // The number of a CRL that does not verify is no floor (a file that says 2^159 - 1 would lock the CA out of new
    // CRLs: rfc5280.crl.published-crl-number-floor.test.ts), so with the store reset too (a new memory store) the
    // store's counter alone numbers the next CRL. The revocation was lost with both anyway: its entry is not restored.
    expect([crlNumber, next.crlNumber]).toEqual([1n, 1n]);
    expect(readCrlEntries(next.der)).toEqual([]);
    expect(ignored).toEqual([{ crlNumber, reason: "its signature does not verify with the CA's key" }]);
    expect(restored).toEqual([]);
  });

  it("a CRL another CA signed, under this CA's fingerprint in ca.crl.json: with the same subject, its signature does not verify; with another subject, its issuer is not the CA", async () => {
    const dir = tempDir();
    const { dataDir, crlNumber } = await publishedRevocation(dir);
    for (const [name, subject, reason] of [
      ["same-name", undefined, "its signature does not verify with the CA's key"],
      ["other-name", "CN=Another CA,O=elsewhere", "its issuer is not the CA's subject"],
    ] as const) {
      const other = await openFileCa({ dataDir: join(dir, name), crlValiditySeconds: 3600, ...(subject ? { subject } : {}), revocations: new MemoryRevocationStore() });
      const foreign = await other.issue({ csrDer: opensslCsr(dir, name, { subject: `/CN=${name}` }) });
      await other.revoke(foreign.serialNumber, "superseded");
      const theirs = await other.crl();
      publishDer(dataDir, theirs.der, crlNumber + 1n);

      const ignored: { crlNumber?: bigint; reason: string }[] = [];
      const store = new MemoryRevocationStore();
      const ca = await openFileCa({ dataDir, crlValiditySeconds: 3600, revocations: store, onPublishedCrlIgnored: (e) => ignored.push(e) });
      expect(await ca.revocation(foreign.serialNumber)).toBeUndefined();
      expect(await store.list()).toEqual([]);
      expect(ignored).toEqual([{ crlNumber: crlNumber + 1n, reason }]);
    }
  });

  it("ca.crl.json's DER is not a CRL: ignored with one event naming why, the open succeeds", async () => {
    const dir = tempDir();
    const { dataDir, crlNumber } = await publishedRevocation(dir);
    publishDer(dataDir, new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x01]));
    const ignored: { crlNumber?: bigint; reason: string }[] = [];
    await openFileCa({ dataDir, crlValiditySeconds: 3600, revocations: new MemoryRevocationStore(), onPublishedCrlIgnored: (e) => ignored.push(e) });
    expect(ignored).toEqual([{ crlNumber, reason: expect.stringMatching(/^it does not parse as a CRL \(/) }]);
  });
});

describe("RFC 5280 §5.3.1: one entry of the published CRL that does not read", () => {
  it("is skipped and counted; the CA's other entries are restored and listed on the next CRL", async () => {
    const dir = tempDir();
    const { dataDir, serial, crlNumber, ca: first } = await publishedRevocation(dir);
    // The CA's own key signs a CRL with the good entry and one whose reasonCode is not an ENUMERATED.
    const caCert = AsnConvert.parse(first.certificateDer, Certificate);
    const algorithm = new AlgorithmIdentifier({ algorithm: "1.2.840.113549.1.1.11", parameters: null });
    const entry = (serialHex: string, reasonValue: Uint8Array): AsnRevokedCertificate =>
      new AsnRevokedCertificate({
        userCertificate: new Uint8Array(Buffer.from(serialHex, "hex")).buffer,
        revocationDate: new Time(new Date(T0)),
        crlEntryExtensions: [new Extension({ extnID: id_ce_cRLReasons, critical: false, extnValue: new OctetString(reasonValue) })],
      });
    const good = new Uint8Array(AsnConvert.serialize(new CRLReason(CRLReasons.cessationOfOperation)));
    const tbs = new TBSCertList({
      version: Version.v2,
      signature: algorithm,
      issuer: caCert.tbsCertificate.subject,
      thisUpdate: new Time(new Date(T0)),
      nextUpdate: new Time(new Date(T0 + 3_600_000)),
      revokedCertificates: [entry("7e01", new Uint8Array([0x04, 0x00])), entry(serial, good)],
      crlExtensions: [new Extension({ extnID: id_ce_cRLNumber, critical: false, extnValue: new OctetString(AsnConvert.serialize(new CRLNumber(Number(crlNumber)))) })],
    });
    const tbsDer = new Uint8Array(AsnConvert.serialize(tbs));
    const der = new Uint8Array(AsnConvert.serialize(new CertificateList({ tbsCertList: tbs, signatureAlgorithm: algorithm, signature: sign("sha256", tbsDer, first.privateKey).buffer as ArrayBuffer })));
    // What ca.crl.json states is this CRL's (a CRL whose number or times differ from the file's is not trusted).
    publishDer(dataDir, der, crlNumber, { thisUpdate: new Date(T0), nextUpdate: new Date(T0 + 3_600_000), revokedCount: 2 });

    const events: RevocationsRestoredEvent[] = [];
    const ignored: unknown[] = [];
    const store = new MemoryRevocationStore();
    const ca = await openFileCa({ dataDir, crlValiditySeconds: 3600, revocations: store, onRevocationsRestored: (e) => events.push(e), onPublishedCrlIgnored: (e) => ignored.push(e) });
    expect(ignored).toEqual([]);
    expect(events).toEqual([{ restored: 1, skipped: 1, crlNumber }]);
    expect(await store.list()).toEqual([{ serialNumber: serial, reason: "cessationOfOperation", revokedAt: new Date(T0) }]);
    expect(readCrlEntries((await ca.crl()).der).map((e) => [e.serialNumber, e.reason])).toEqual([[serial, "cessationOfOperation"]]);
    expect(events).toHaveLength(1);
    expect(() => readCrlEntries(der)).toThrow(/1 CRL entries do not read/); // the strict reader still refuses it
  });
});

describe("FileCa.revocation() of an entry a restore left off as expired", () => {
  it("lists the store once per published CRL, not once per call (at open, or on the first look-up when the open did not restore)", async () => {
    let nowMs = T0;
    const clock = (): Date => new Date(nowMs);
    const dir = tempDir();
    const dataDir = join(dir, "data");
    const before = await openFileCa({ dataDir, clock, crlValiditySeconds: 3600, revocations: new MemoryRevocationStore({ now: clock }) });
    const shortLived = await before.issue({ csrDer: opensslCsr(dir, "short", { subject: "/CN=short" }), validityDays: 1 });
    await before.revoke(shortLived.serialNumber, "superseded");
    nowMs += 2 * 86_400_000; // expired; the next CRL is issued after its expiry and lists it
    const published = await before.crl();
    expect(readCrlEntries(published.der).map((e) => e.serialNumber)).toEqual([shortLived.serialNumber]);

    for (const restoreOnOpen of [true, false]) {
      const { store, lists, inner } = countingStore(clock);
      const ca = await openFileCa({ dataDir, clock, crlValiditySeconds: 3600, revocations: store, restoreOnOpen });
      expect(lists()).toBe(restoreOnOpen ? 1 : 0);
      for (let i = 0; i < 3; i += 1) expect(await ca.revocation(shortLived.serialNumber)).toMatchObject({ serialNumber: shortLived.serialNumber, reason: "superseded" });
      expect(lists()).toBe(1);
      expect(await inner.list()).toEqual([]); // left off: a CRL issued after its expiry listed it
    }
  });
});
