/**
 * parsePemCertificates (RFC 7468 §5 CERTIFICATE blocks of an operator's bundle): every block in file order, text
 * around them skipped, and a damaged block named by its place, with what the parser said as the cause.
 */
import { X509Certificate } from "node:crypto";
import { describe, expect, it } from "vitest";
import { Certificate, createSelfSignedSigner, generateRsaKeyPair } from "@scep/core";
import { UnreadablePemCertificate, parsePemCertificates } from "../src/pem-certificates.js";

const keys = await generateRsaKeyPair();
const A = (await createSelfSignedSigner({ keys, subject: "CN=bundle A" })).certificate.toPem();
const B = (await createSelfSignedSigner({ keys, subject: "CN=bundle B" })).certificate.toPem();
const fingerprint = (der: Buffer): string => new X509Certificate(der).fingerprint256;

describe("RFC 7468 §5: the CERTIFICATE blocks of a bundle", () => {
  it("reads every block in file order, skipping explanatory text and other labels", () => {
    const key = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA==\n-----END PRIVATE KEY-----\n";
    const text = `# corp issuing CA\r\n${A.replace(/\n/g, "\r\n")}${key}subject=CN = next\n${B}trailing words`;
    const read = parsePemCertificates(text, (der) => Certificate.from(der));
    expect(read.map((c) => Buffer.from(c.der).toString("base64"))).toEqual([A, B].map((pem) => Buffer.from(new X509Certificate(pem).raw).toString("base64")));
    expect(parsePemCertificates(`${A}${B}`, fingerprint)).toEqual([new X509Certificate(A).fingerprint256, new X509Certificate(B).fingerprint256]);
  });

  it("gives nothing for text without a block, or whose only BEGIN has no END", () => {
    expect(parsePemCertificates("", fingerprint)).toEqual([]);
    expect(parsePemCertificates("-----BEGIN PRIVATE KEY-----\nMC4=\n-----END PRIVATE KEY-----\n", fingerprint)).toEqual([]);
    expect(parsePemCertificates(A.replace("-----END CERTIFICATE-----", ""), fingerprint)).toEqual([]);
    // Blocks before an unterminated one are still read.
    expect(parsePemCertificates(`${A}-----BEGIN CERTIFICATE-----\nMIIB`, fingerprint)).toEqual([new X509Certificate(A).fingerprint256]);
  });

  it("names the first block the parser refuses, counted from 1 of all blocks, with the parser's error as cause", () => {
    const truncated = "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUQ2FGaWxl\n-----END CERTIFICATE-----\n";
    let thrown: unknown;
    try {
      parsePemCertificates(`${A}${truncated}${B}`, (der) => new X509Certificate(der));
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(UnreadablePemCertificate);
    expect(thrown).toMatchObject({ index: 2, count: 3, message: "certificate 2 of 3 cannot be parsed" });
    expect((thrown as Error).cause).toBeInstanceOf(Error);
    // The same bytes through @scep/core's parser: refused at the same place.
    expect(() => parsePemCertificates(`${truncated}${A}`, (der) => Certificate.from(der))).toThrow(new UnreadablePemCertificate(1, 2));
  });

  it("hands each block's PEM text too, armour included, for a parser as strict as OpenSSL's PEM reader", () => {
    const blocks: string[] = [];
    parsePemCertificates(`intro\n${A}between\n${B}`, (_der, pem) => blocks.push(pem));
    expect(blocks).toEqual([A, B]);
    // A stray character in the base64: Node's decoder skips it (the DER still reads), OpenSSL's PEM reader does not.
    const stray = A.replace("\n", "\n!");
    expect(parsePemCertificates(stray, (der) => new X509Certificate(der).subject)).toEqual(["CN=bundle A"]);
    expect(() => parsePemCertificates(stray, (_der, pem) => new X509Certificate(pem))).toThrow(new UnreadablePemCertificate(1, 1));
  });
});
