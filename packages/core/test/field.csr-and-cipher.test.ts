/**
 * Field reports about what sits inside the pkcsPKIEnvelope, rebuilt against
 * our server with CSRs made by the `openssl` CLI (RFC 8894 §3.3.1, RFC 2985
 * §5.4.1, RFC 2986) and envelopes whose content cipher a client picked outside
 * what SCEP names (RFC 8894 §3.5.2).
 *
 * - challengePassword encodings: OpenSSL writes PrintableString, or UTF8String
 *   under `string_mask = utf8only`; wolfSSL defaults to UTF8String and some
 *   servers accepted only PrintableString (wolfSSL/wolfssl#2348,
 *   https://github.com/wolfSSL/wolfssl/pull/2348); jscep threw a
 *   ClassCastException on a non-PrintableString one (OpenSSL itself writes IA5String
 *   for a password with `_`) (seize-the-dave/jscep#73,
 *   https://github.com/seize-the-dave/jscep/pull/73). Every DirectoryString is read.
 * - A .NET user put the challenge in the CSR as an *extension* (in
 *   extensionRequest) instead of the challengePassword attribute
 *   (dotnet/corefx#32331, https://github.com/dotnet/corefx/issues/32331): that
 *   is no challenge, and the FAILURE says so.
 * - AES-GCM, offered by micromdm's client in EnvelopedData
 *   (micromdm/scep#252, https://github.com/micromdm/scep/pull/252; scepman/scepclient#21,
 *   https://github.com/scepman/scepclient/issues/21), RC2 and AES-ECB are not
 *   SCEP content ciphers: FAILURE badAlg naming the OID, nothing issued.
 * - An old Cisco 2800 ("only SHA1 hash") enrolling against step-ca got an
 *   HTTP 500 (smallstep/certificates#2100,
 *   https://github.com/smallstep/certificates/issues/2100): a SHA-1 signed CSR
 *   is issued under the default policy; an MD5 signed one is refused with
 *   FAILURE badAlg naming the digest, never a 5xx.
 */
import { describe, expect, it } from "vitest";
import * as der from "../src/lib/der.js";
import * as oids from "../src/oids.js";
import { buildEnvelopedData } from "../src/cms/enveloped-data.js";
import { CertificationRequest, buildPkcsReq, createSelfSignedSigner, importKeyPairPem, readCertRep } from "../src/index.js";
import { withScratch } from "./support/openssl.js";
import { NOW, hex, postPki, staticScep } from "./support/server-pki.js";
import { handBuiltPkcsReq } from "./support/hand-built.js";

const CHALLENGE = "Field_Pw-7";
const { ca, device, calls, log, server } = await staticScep({ caName: "Field CSR CA", deviceCn: "field-csr-device", challenge: CHALLENGE });

/** Makes a key and a CSR with `openssl req` under `config` (its [req] section), and enrolls with them. */
async function enrollOpensslCsr(config: string, extraArgs: string[] = []) {
  return withScratch(async (s) => {
    s.write("req.cnf", config);
    await s.run(["req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", "key.pem", "-config", "req.cnf", "-outform", "DER", "-out", "csr.der", ...extraArgs]);
    const csr = s.read("csr.der");
    const asn1 = (await s.run(["asn1parse", "-inform", "DER", "-in", "csr.der"])).stdout;
    const keys = await importKeyPairPem(s.readText("key.pem"));
    const signer = await createSelfSignedSigner({ keys, subject: "CN=field-openssl", now: NOW });
    const built = await buildPkcsReq({ csr, signer, recipient: ca.cert, now: NOW });
    const res = await postPki(server, "/scep", built.der);
    expect(res.status).toBe(200);
    const rep = await readCertRep(new Uint8Array(await res.arrayBuffer()), { request: built, decrypter: signer, caCertificates: [ca.cert] });
    return { csr, asn1, rep, signer };
  });
}

const reqConfig = (mask: string, attributes: string, extensions = ""): string =>
  `[req]\nprompt = no\nstring_mask = ${mask}\ndistinguished_name = dn\nattributes = attrs\n${extensions ? "req_extensions = ext\n" : ""}[dn]\nCN = field-openssl\n[attrs]\n${attributes}\n${extensions ? `[ext]\n${extensions}\n` : ""}`;

describe("RFC 8894 §3.3.1 / RFC 2985 §5.4.1: an OpenSSL CSR's challengePassword in each string type (wolfSSL#2348, jscep#73)", () => {
  it("PrintableString (string_mask = default, text in the PrintableString alphabet) is read and compared: another password → FAILURE badRequest", async () => {
    const { asn1, rep, csr } = await enrollOpensslCsr(reqConfig("default", "challengePassword = Field Pw 7"));
    expect(asn1).toMatch(/challengePassword\s*\n.*\n.*PRINTABLESTRING\s+:Field Pw 7/);
    expect(new CertificationRequest(csr).challengePassword).toBe("Field Pw 7");
    expect(rep).toMatchObject({ status: "FAILURE", failInfo: "badRequest" }); // a different password: read, compared, refused
  });

  it("UTF8String (string_mask = utf8only) → SUCCESS", async () => {
    const { asn1, rep, signer } = await enrollOpensslCsr(reqConfig("utf8only", `challengePassword = ${CHALLENGE}`));
    expect(asn1).toMatch(/UTF8STRING\s+:Field_Pw-7/);
    expect(rep.status).toBe("SUCCESS");
    expect(hex(rep.certificates[0]!.spki)).toBe(hex(signer.certificate.spki));
  });

  it("IA5String (string_mask = default, '_' outside PrintableString: OpenSSL picks IA5String) → SUCCESS", async () => {
    const { asn1, rep } = await enrollOpensslCsr(reqConfig("default", `challengePassword = ${CHALLENGE}`));
    expect(asn1).toMatch(/IA5STRING\s+:Field_Pw-7/);
    expect(rep.status).toBe("SUCCESS");
  });
});

describe("RFC 8894 §3.3.1: a challenge sent as an extension is not a challengePassword (corefx#32331)", () => {
  it("extensionRequest holding OID 1.2.840.113549.1.9.7 → FAILURE badRequest 'no challenge password in the CSR', nothing issued", async () => {
    const before = calls.length;
    const { rep, csr } = await enrollOpensslCsr(reqConfig("utf8only", "unstructuredName = x", `1.2.840.113549.1.9.7 = ASN1:UTF8String:${CHALLENGE}`));
    expect(new CertificationRequest(csr).challengePassword).toBeUndefined();
    expect(rep).toMatchObject({ status: "FAILURE", failInfo: "badRequest", failInfoText: "no challenge password in the CSR" });
    expect(calls.length).toBe(before);
  });
});

/** A PKCSReq whose envelope names `cipherOid` in place of AES-128-CBC (same OID length, so nothing else moves). */
async function withCipherOid(cipherOid: string): Promise<Uint8Array> {
  const envelope = Buffer.from(buildEnvelopedData({ content: device.csr, recipient: ca.cert, cipher: "aes128" }));
  const from = Buffer.from(der.oid(oids.id_aes128_CBC));
  const to = Buffer.from(der.oid(cipherOid));
  expect(to.length).toBe(from.length);
  to.copy(envelope, envelope.indexOf(from));
  return handBuiltPkcsReq({ envelope: new Uint8Array(envelope), signer: device.signer, transactionId: `CIPHER-${cipherOid}`, senderNonce: new Uint8Array(16).fill(4) });
}

describe("RFC 8894 §3.5.2 / RFC 2986 §4.2: the CSR's own signature digest (smallstep#2100)", () => {
  it("sha1WithRSAEncryption (openssl req -sha1) → SUCCESS", async () => {
    const { asn1, rep } = await enrollOpensslCsr(reqConfig("utf8only", `challengePassword = ${CHALLENGE}`), ["-sha1"]);
    expect(asn1).toContain(":sha1WithRSAEncryption");
    expect(rep.status).toBe("SUCCESS");
  });

  it("md5WithRSAEncryption (openssl req -md5) → FAILURE badAlg 'PKCS#10: digest md5 is not allowed by policy', nothing issued", async () => {
    const before = calls.length;
    const { asn1, rep } = await enrollOpensslCsr(reqConfig("utf8only", `challengePassword = ${CHALLENGE}`), ["-md5"]);
    expect(asn1).toContain(":md5WithRSAEncryption");
    expect(rep).toMatchObject({ status: "FAILURE", failInfo: "badAlg", failInfoText: "PKCS#10: digest md5 is not allowed by policy" });
    expect(calls.length).toBe(before);
  });
});

describe("RFC 8894 §3.5.2: a content cipher SCEP does not name → FAILURE badAlg (micromdm#252, scepclient#21)", () => {
  const cases: [string, string][] = [
    ["AES-128-GCM", "2.16.840.1.101.3.4.1.6"],
    ["AES-256-GCM", "2.16.840.1.101.3.4.1.46"],
    ["AES-128-ECB", "2.16.840.1.101.3.4.1.1"],
  ];
  for (const [name, oid] of cases) {
    // The failInfoText names the cipher, not only its OID (step-ca's AES-GCM CertReps showed how bare an OID reads).
    it(`${name} (${oid}), named in the failInfoText`, async () => {
      const before = calls.length;
      const res = await postPki(server, "/scep", await withCipherOid(oid));
      expect(res.status).toBe(200);
      const rep = await readCertRep(new Uint8Array(await res.arrayBuffer()), { caCertificates: [ca.cert] });
      expect(rep).toMatchObject({ status: "FAILURE", failInfo: "badAlg", failInfoText: `unsupported content encryption algorithm ${name} (${oid}): SCEP takes DES, 3DES or AES in CBC mode (RFC 8894 §3.5.2)`, transactionId: `CIPHER-${oid}` });
      expect(calls.length).toBe(before);
    });
  }

  it("an OID it does not know by name: the OID alone", async () => {
    const res = await postPki(server, "/scep", await withCipherOid("2.16.840.1.101.3.4.1.99"));
    const rep = await readCertRep(new Uint8Array(await res.arrayBuffer()), { caCertificates: [ca.cert] });
    expect(rep).toMatchObject({ status: "FAILURE", failInfo: "badAlg", failInfoText: "unsupported content encryption algorithm 2.16.840.1.101.3.4.1.99" });
  });

  it("none of these requests ended in a 5xx", () => {
    expect(log.events.filter((e) => e.status >= 500 || e.outcome === "error")).toEqual([]);
  });
});

/**
 * The same kind of fault for every other algorithm a PKCSReq names: an error printed a bare OID
 * (`unsupported digest algorithm 2.16.840.1.101.3.4.2.8`) for algorithms an operator knows by name. Every refusal
 * names a known algorithm, with its OID (one table in src/algorithms.ts): the SignerInfo's digest (RFC 5652 §5.3),
 * the CSR's signature (RFC 2986 §4.2), and an envelope with no key-transport recipient (RFC 5652 §6.2,
 * RFC 8894 §3.2.2).
 */
describe("RFC 8894 §3.5.2 / RFC 5652 §5.3, §6.2: every unsupported algorithm is named in the badAlg failInfoText", () => {
  const rep = async (message: Uint8Array) => {
    const res = await postPki(server, "/scep", message);
    expect(res.status).toBe(200);
    return readCertRep(new Uint8Array(await res.arrayBuffer()), { caCertificates: [ca.cert] });
  };
  /** A PKCSReq signed with SHA-256 whose digestAlgorithm OIDs then say `digestOid` (same length). */
  async function withDigestOid(digestOid: string, transactionId: string): Promise<Uint8Array> {
    const envelope = buildEnvelopedData({ content: device.csr, recipient: ca.cert, cipher: "aes128" });
    const signed = Buffer.from(await handBuiltPkcsReq({ envelope, signer: device.signer, transactionId, senderNonce: new Uint8Array(16).fill(5) }));
    const from = Buffer.from(der.oid(oids.id_sha256));
    const to = Buffer.from(der.oid(digestOid));
    expect(to.length).toBe(from.length);
    for (let at = signed.indexOf(from); at >= 0; at = signed.indexOf(from, at + 1)) to.copy(signed, at);
    return new Uint8Array(signed);
  }

  for (const [name, oid] of [
    ["SHA3-256", "2.16.840.1.101.3.4.2.8"],
    ["SHA-512/256", "2.16.840.1.101.3.4.2.6"],
  ] as const) {
    it(`SignerInfo digestAlgorithm ${name} (${oid}) → FAILURE badAlg naming ${name}`, async () => {
      const before = calls.length;
      expect(await rep(await withDigestOid(oid, `DIGEST-${name}`))).toMatchObject({ status: "FAILURE", failInfo: "badAlg", failInfoText: `unsupported digest algorithm ${name} (${oid})` });
      expect(calls.length).toBe(before);
    });
  }

  it("an envelope whose only RecipientInfo is a KeyAgreeRecipientInfo ([1]) → FAILURE badAlg naming it", async () => {
    const envelope = Buffer.from(buildEnvelopedData({ content: device.csr, recipient: ca.cert, cipher: "aes128" }));
    // The RecipientInfos SET (the first SET in the EnvelopedData) holds one KeyTransRecipientInfo, a SEQUENCE:
    // retag it as kari's [1], contents unchanged.
    const headerLength = (at: number): number => (envelope[at + 1]! & 0x80 ? 2 + (envelope[at + 1]! & 0x7f) : 2);
    const isKtri = (at: number): boolean => envelope[at] === 0x30 && envelope.subarray(at + headerLength(at), at + headerLength(at) + 3).equals(Buffer.from([0x02, 0x01, 0x00]));
    const setAt = [...envelope.keys()].find((i) => envelope[i] === 0x31 && isKtri(i + headerLength(i)))!;
    const ktriAt = setAt + headerLength(setAt);
    expect(isKtri(ktriAt)).toBe(true);
    envelope[ktriAt] = 0xa1;
    const message = await handBuiltPkcsReq({ envelope: new Uint8Array(envelope), signer: device.signer, transactionId: "KARI-ONLY", senderNonce: new Uint8Array(16).fill(6) });
    expect(await rep(message)).toMatchObject({
      status: "FAILURE",
      failInfo: "badAlg",
      failInfoText: "the envelope has no KeyTransRecipientInfo, only KeyAgreeRecipientInfo (ECDH/DH key agreement): SCEP encrypts the content key to the CA's RSA key (RFC 8894 §3.2.2)",
      transactionId: "KARI-ONLY",
    });
  });

  it("none of these requests ended in a 5xx", () => {
    expect(log.events.filter((e) => e.status >= 500 || e.outcome === "error")).toEqual([]);
  });
});
