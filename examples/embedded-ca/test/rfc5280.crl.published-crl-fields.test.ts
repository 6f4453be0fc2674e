// The published CRL (ca.crl.json) the embedded CA restores revocations from, read with the @peculiar/asn1-x509
// schemas (crl-entries.ts). RFC 5280 §5.1: each revokedCertificates entry is read on its own, so entries that
// @peculiar's own TBSCertList refuses (and with them the whole list) are skipped one by one. RFC 5280 §5.1.1.2: a CRL
// whose signatureAlgorithm is not its tbsCertList's signature field is not trusted, even when its signature verifies
// under the outer field (which the signature does not cover). Every CRL here is signed again with the CA's key, so
// the one fault named is the only one.
import { execFileSync } from "node:child_process";
import { sign, type KeyObject } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import "reflect-metadata";
import * as asn1js from "asn1js";
import { AsnConvert, OctetString } from "@peculiar/asn1-schema";
import { AlgorithmIdentifier, Certificate, CertificateList, CRLNumber, Extension, RevokedCertificate, TBSCertList, Time, Version, id_ce_cRLNumber } from "@peculiar/asn1-x509";
import { describe, expect, it } from "vitest";
import { MemoryRevocationStore } from "@scep/core";
import { openFileCa, type FileCa, type RevocationsRestoredEvent } from "../src/index.js";
import { opensslCsr, packageDir, tempDir } from "./helpers.js";

const T0 = Date.parse("2026-03-01T10:00:00.000Z");
const SHA256_RSA = "1.2.840.113549.1.1.11";
const SHA384_RSA = "1.2.840.113549.1.1.12";
const withNull = (oid: string): AlgorithmIdentifier => new AlgorithmIdentifier({ algorithm: oid, parameters: null });

/** A DER TLV (definite length). */
function tlv(tag: number, ...parts: Uint8Array[]): Uint8Array {
  const body = Buffer.concat(parts);
  const n = body.length;
  const length = n < 0x80 ? [n] : n < 0x100 ? [0x81, n] : n < 0x10000 ? [0x82, n >> 8, n & 0xff] : [0x83, n >> 16, (n >> 8) & 0xff, n & 0xff];
  return new Uint8Array(Buffer.concat([Uint8Array.of(tag, ...length), body]));
}

/** A CertificateList of `tbs` (DER) under `outer`, its signature made with `key` over `digest`. */
function signedCrl(tbs: Uint8Array, outer: AlgorithmIdentifier, key: KeyObject, digest: string): Uint8Array {
  return tlv(0x30, tbs, new Uint8Array(AsnConvert.serialize(outer)), tlv(0x03, Uint8Array.of(0), sign(digest, tbs, key)));
}

/** Replaces the DER in `dataDir/ca.crl.json` (and ca.crl), keeping everything else the file says but what `stated` gives. */
function publishDer(dataDir: string, der: Uint8Array, stated?: { thisUpdate: Date; nextUpdate: Date; revokedCount: number }): void {
  const path = join(dataDir, "ca.crl.json");
  const state = JSON.parse(readFileSync(path, "utf8")) as Record<string, unknown>;
  state.der = Buffer.from(der).toString("base64");
  if (stated) Object.assign(state, { thisUpdate: stated.thisUpdate.toISOString(), nextUpdate: stated.nextUpdate.toISOString(), revokedCount: stated.revokedCount });
  writeFileSync(path, `${JSON.stringify(state)}\n`);
  writeFileSync(join(dataDir, "ca.crl"), der);
}

/** A CA (RSA, its CRLs sha256WithRSAEncryption) with one revoked certificate on its published CRL. */
async function publishedRevocation(dir: string): Promise<{ dataDir: string; serial: string; crlNumber: bigint; der: Uint8Array; ca: FileCa }> {
  const dataDir = join(dir, "data");
  const ca = await openFileCa({ dataDir, crlValiditySeconds: 3600, revocations: new MemoryRevocationStore() });
  const issued = await ca.issue({ csrDer: opensslCsr(dir, "a", { subject: "/CN=a" }) });
  await ca.revoke(issued.serialNumber, "keyCompromise");
  const crl = await ca.crl();
  return { dataDir, serial: issued.serialNumber, crlNumber: crl.crlNumber, der: crl.der, ca };
}

/** What a CA opened on `dataDir` with an empty store restores, and which published CRLs it ignores (and why). */
async function reopen(dataDir: string): Promise<{ restored: RevocationsRestoredEvent[]; ignored: { crlNumber?: bigint; reason: string }[]; stored: string[] }> {
  const restored: RevocationsRestoredEvent[] = [];
  const ignored: { crlNumber?: bigint; reason: string }[] = [];
  const store = new MemoryRevocationStore();
  await openFileCa({ dataDir, crlValiditySeconds: 3600, revocations: store, onRevocationsRestored: (e) => restored.push(e), onPublishedCrlIgnored: (e) => ignored.push(e) });
  return { restored, ignored, stored: (await store.list()).map((r) => r.serialNumber) };
}

describe("RFC 5280 §5.1: revokedCertificates entries of the published CRL are read one by one", () => {
  it("an entry whose serial is an OCTET STRING and one whose revocationDate is a UTF8String (each failing @peculiar's whole TBSCertList) are skipped alone; the good one is restored", async () => {
    const dir = tempDir();
    const { dataDir, serial, crlNumber, ca: first } = await publishedRevocation(dir);
    const entry = (serialHex: string, at: number): RevokedCertificate =>
      new RevokedCertificate({ userCertificate: new Uint8Array(Buffer.from(serialHex, "hex")).buffer, revocationDate: new Time(new Date(at)) });
    const tbs = new TBSCertList({
      version: Version.v2,
      signature: withNull(SHA256_RSA),
      issuer: AsnConvert.parse(first.certificateDer, Certificate).tbsCertificate.subject,
      thisUpdate: new Time(new Date(T0)),
      nextUpdate: new Time(new Date(T0 + 3_600_000)),
      revokedCertificates: [entry("7e01", T0 - 1000), entry("7e02", T0 - 2000), entry(serial, T0 - 3000)],
      crlExtensions: [new Extension({ extnID: id_ce_cRLNumber, critical: false, extnValue: new OctetString(AsnConvert.serialize(new CRLNumber(Number(crlNumber)))) })],
    });
    const tbsDer = Buffer.from(AsnConvert.serialize(tbs));
    const patch = (find: Uint8Array, tag: number): void => {
      const at = tbsDer.indexOf(find);
      expect(at).toBeGreaterThan(0);
      expect(tbsDer.indexOf(find, at + 1)).toBe(-1);
      tbsDer[at] = tag;
    };
    patch(Uint8Array.of(0x02, 0x02, 0x7e, 0x01), 0x04); // 7e01's userCertificate: INTEGER → OCTET STRING
    patch(new Uint8Array(AsnConvert.serialize(new Time(new Date(T0 - 2000)))), 0x0c); // 7e02's revocationDate: UTCTime → UTF8String
    const der = signedCrl(new Uint8Array(tbsDer), withNull(SHA256_RSA), first.privateKey, "sha256");
    expect(() => AsnConvert.parse(der, CertificateList)).toThrow(/does not match/); // @peculiar's TBSCertList: the whole list
    publishDer(dataDir, der, { thisUpdate: new Date(T0), nextUpdate: new Date(T0 + 3_600_000), revokedCount: 3 }); // as the CRL states them

    expect(await reopen(dataDir)).toEqual({ restored: [{ restored: 1, skipped: 2, crlNumber }], ignored: [], stored: [serial] });
  });

  it("bytes after the CertificateList, or a fourth element in it: the CRL is ignored with one event naming why", async () => {
    const dir = tempDir();
    const { dataDir, crlNumber, der } = await publishedRevocation(dir);
    publishDer(dataDir, Uint8Array.from([...der, 0x05, 0x00]));
    expect(await reopen(dataDir)).toEqual({ restored: [], ignored: [{ crlNumber, reason: "it does not parse as a CRL (2 bytes after the CertificateList)" }], stored: [] });
    const list = AsnConvert.parse(der, CertificateList);
    const fields = [new Uint8Array(list.tbsCertListRaw!), new Uint8Array(AsnConvert.serialize(list.signatureAlgorithm)), tlv(0x03, Uint8Array.of(0), new Uint8Array(list.signature))];
    expect(tlv(0x30, ...fields)).toEqual(der);
    publishDer(dataDir, tlv(0x30, ...fields, Uint8Array.of(0x05, 0x00)));
    expect(await reopen(dataDir)).toEqual({ restored: [], ignored: [{ crlNumber, reason: "it does not parse as a CRL (not a CertificateList)" }], stored: [] });
  });
});

describe("RFC 5280 §5.2.3: the published CRL's cRLNumber, up to 20 octets", () => {
  it("a number past 2^53 (2^64 + 1) read exactly: the CRL is the one ca.crl.json states, its entry is restored", async () => {
    const dir = tempDir();
    const { dataDir, serial, der, ca: first } = await publishedRevocation(dir);
    const big = 2n ** 64n + 1n;
    const list = AsnConvert.parse(der, CertificateList);
    const crlExtensions = list.tbsCertList.crlExtensions!.map((e) =>
      e.extnID === id_ce_cRLNumber ? new Extension({ extnID: id_ce_cRLNumber, critical: false, extnValue: new OctetString(asn1js.Integer.fromBigInt(big).toBER()) }) : e,
    );
    const tbs = new Uint8Array(AsnConvert.serialize(new TBSCertList({ ...list.tbsCertList, crlExtensions })));
    publishDer(dataDir, signedCrl(tbs, list.signatureAlgorithm, first.privateKey, "sha256"));
    const path = join(dataDir, "ca.crl.json");
    writeFileSync(path, JSON.stringify({ ...JSON.parse(readFileSync(path, "utf8")), crlNumber: String(big) }));
    expect(await reopen(dataDir)).toEqual({ restored: [{ restored: 1, skipped: 0, crlNumber: big }], ignored: [], stored: [serial] });
  });
});

describe("RFC 5280 §5.1.1.2: the published CRL's signatureAlgorithm must be its tbsCertList's signature field", () => {
  it("the CA's CRL signed again with SHA-384 under an outer sha384WithRSAEncryption (or with its inner field changed): ignored, nothing restored; signed again unchanged, or with both fields SHA-384, it is restored", async () => {
    const dir = tempDir();
    const { dataDir, serial, crlNumber, der, ca: first } = await publishedRevocation(dir);
    const list = AsnConvert.parse(der, CertificateList);
    const tbs = new Uint8Array(list.tbsCertListRaw!);
    expect(list.signatureAlgorithm.algorithm).toBe(SHA256_RSA);
    const tbsWith = (signature: AlgorithmIdentifier): Uint8Array => new Uint8Array(AsnConvert.serialize(new TBSCertList({ ...list.tbsCertList, signature })));
    const MISMATCH = "its signatureAlgorithm is not its tbsCertList's signature field (RFC 5280 §5.1.1.2)";
    const restoredOnce = { restored: [{ restored: 1, skipped: 0, crlNumber }], ignored: [], stored: [serial] };

    publishDer(dataDir, signedCrl(tbs, withNull(SHA256_RSA), first.privateKey, "sha256"));
    expect(await reopen(dataDir)).toEqual(restoredOnce);
    publishDer(dataDir, signedCrl(tbsWith(withNull(SHA384_RSA)), withNull(SHA384_RSA), first.privateKey, "sha384"));
    expect(await reopen(dataDir)).toEqual(restoredOnce);

    for (const der of [
      signedCrl(tbs, withNull(SHA384_RSA), first.privateKey, "sha384"), // outer SHA-384, signed part says SHA-256
      signedCrl(tbsWith(withNull(SHA384_RSA)), withNull(SHA256_RSA), first.privateKey, "sha256"), // the other way round
      signedCrl(tbs, new AlgorithmIdentifier({ algorithm: SHA256_RSA }), first.privateKey, "sha256"), // same OID, no NULL
    ]) {
      publishDer(dataDir, der);
      expect(await reopen(dataDir)).toEqual({ restored: [], ignored: [{ crlNumber, reason: MISMATCH }], stored: [] });
    }
  });
});

describe("crl-entries.ts's schema classes load where an example server loads them", () => {
  it("under tsx in examples/express-server, whose tsconfig does not include this file (so no experimentalDecorators for it)", () => {
    const tsx = pathToFileURL(createRequire(join(packageDir, "package.json")).resolve("tsx")).href;
    const module = pathToFileURL(join(packageDir, "src", "crl-entries.ts")).href;
    const code = `const m = await import(${JSON.stringify(module)}); console.log(typeof m.readCrlParts);`;
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== "TSX_TSCONFIG_PATH" && k !== "NODE_OPTIONS"));
    const out = execFileSync(process.execPath, ["--import", tsx, "--input-type=module", "-e", code], { cwd: join(packageDir, "..", "express-server"), env, encoding: "utf8" });
    expect(out.trim()).toBe("function");
  });
});
