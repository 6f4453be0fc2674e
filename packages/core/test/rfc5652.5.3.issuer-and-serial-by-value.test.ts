/**
 * RFC 5652 §5.3 (SignerIdentifier) and §6.2.1 (RecipientIdentifier): an IssuerAndSerialNumber names a certificate by its
 * issuer and serial number, and a client may write that INTEGER otherwise than the certificate does. RFC 8894 §3.2
 * has the server find the request's signer certificate and its own decryption key from these identifiers.
 *
 * - .NET's SignedCms and EnvelopedCms wrote a certificate's negative serial number as its unsigned reading (`FD 31 …`
 *   in the certificate, `00 FD 31 …` in the SignerInfo or RecipientInfo: dotnet/corefx#29691,
 *   https://github.com/dotnet/corefx/issues/29691, fixed in .NET Core by dotnet/corefx#29705,
 *   https://github.com/dotnet/corefx/pull/29705), and .NET Framework still treats every serial as unsigned
 *   (dotnet/runtime#100713, https://github.com/dotnet/runtime/pull/100713). Negative serials are what a Cisco ASA's
 *   self-signed certificate carries (field.signer-serial-numbers.test.ts) and what old CAs issued; RFC 5280 §4.1.2.2
 *   asks relying parties to handle them gracefully.
 * - Our server compared the serial octets byte for byte: a PKCSReq whose SignerInfo named its own self-signed
 *   certificate that way was FAILURE badRequest "the signer certificate is not in the message", and one encrypted
 *   that way to an RA whose serial is negative got FAILURE badMessageCheck (no configured key), though the message
 *   held the certificate and the RA's key opened it. Now an identifier that matches no certificate byte for byte is
 *   matched by value (the same number, or the same unsigned magnitude): the signature is still verified with the key of
 *   the certificate found, and the envelope still opened with the key found, so nothing is taken on the identifier's
 *   word. An identifier that names no certificate at all is refused as before.
 */
import { describe, expect, it } from "vitest";
import * as der from "../src/lib/der.js";
import * as nc from "../src/lib/node-crypto.js";
import * as oids from "../src/oids.js";
import { attribute, findSigner } from "../src/cms/signed-data.js";
import { buildEnvelopedData } from "../src/cms/enveloped-data.js";
import { DIGEST_OID } from "../src/algorithms.js";
import { Certificate, LocalKey, createScepServer, generateCsr, generateRsaKeyPair, readCertRep, verifyRequestSigner, type ScepServer } from "../src/index.js";
import { NOW, withSerialOctets, createDevice, createTestCa, eventLog, hex, issuingHook, postPki } from "./support/server-pki.js";

const CHALLENGE = "by-value";
const SHA256_WITH_RSA = "1.2.840.113549.1.1.11";
/** A negative serial (top bit set, no leading 00), 16 octets as makecert and Cisco ASA write them. */
const NEGATIVE = new Uint8Array([0xfd, 0x31, 0x9c, 0xb1, 0x51, 0x4b, 0x06, 0xaf, 0x49, 0xe0, 0x05, 0x22, 0x27, 0x7e, 0x43, 0xc8]);
/** How .NET wrote that serial in an IssuerAndSerialNumber: its unsigned reading, a positive INTEGER. */
const UNSIGNED = new Uint8Array([0x00, ...NEGATIVE]);

/** IssuerAndSerialNumber ::= SEQUENCE { issuer Name, serialNumber CertificateSerialNumber }, with the serial octets as given. */
const issuerAndSerial = (cert: Certificate, serial: Uint8Array): der.Der => der.seq(der.raw(der.parse(cert.issuerDer)), der.tlv(der.Tag.INTEGER, serial));

/**
 * The envelope `buildEnvelopedData` makes for `recipient`, with its KeyTransRecipientInfo's rid replaced by `rid`.
 *
 * ```asn
 * KeyTransRecipientInfo ::= SEQUENCE { version CMSVersion, rid RecipientIdentifier,
 *   keyEncryptionAlgorithm KeyEncryptionAlgorithmIdentifier, encryptedKey EncryptedKey }
 * ```
 */
function envelopeNaming(content: Uint8Array, recipient: Certificate, rid: der.Der): Uint8Array {
  const envelope = buildEnvelopedData({ content, recipient, cipher: "aes128" });
  const [typeT, contentT] = der.children(der.parse(envelope));
  const [version, recipients, eci] = der.children(der.explicit(contentT!, 0, "content"));
  const [ktriVersion, , algorithm, encryptedKey] = der.children(der.children(recipients!)[0]!);
  const ktri = der.seq(der.raw(ktriVersion!), rid, der.raw(algorithm!), der.raw(encryptedKey!));
  return der.encode(der.seq(der.raw(typeT!), der.ctx(0, der.seq(der.raw(version!), der.tlv(der.Tag.SET, ktri), der.raw(eci!)))));
}

/** A PKCSReq (RFC 8894 §3.3.1) signed by `signer` whose SignerInfo sid is `sid`, carrying `envelope`. */
async function pkcsReq(signer: LocalKey, sid: der.Der, envelope: Uint8Array, transactionId: string): Promise<Uint8Array> {
  const digestAlg = der.algId(DIGEST_OID.sha256, der.NULL);
  const attrs = der.setOf([
    attribute(oids.id_contentType, der.oid(oids.id_data)),
    attribute(oids.id_messageDigest, der.octetString(nc.digest("sha256", envelope))),
    attribute(oids.id_messageType, der.printable("19")),
    attribute(oids.id_transactionID, der.printable(transactionId)),
    attribute(oids.id_senderNonce, der.octetString(new Uint8Array(16).fill(0x5a))),
  ]);
  const signature = await signer.sign(der.encode(attrs), { scheme: "rsa-pkcs1", digest: "sha256", rsaOid: "withDigest" });
  const signerInfo = der.seq(der.int(1), sid, digestAlg, der.tlv(0xa0, ...attrs.body), der.algId(SHA256_WITH_RSA, der.NULL), der.octetString(signature));
  const signedData = der.seq(
    der.int(1),
    der.tlv(der.Tag.SET, digestAlg),
    der.seq(der.oid(oids.id_data), der.ctx(0, der.octetString(envelope))),
    der.ctx(0, signer.certificate.der),
    der.tlv(der.Tag.SET, signerInfo),
  );
  return der.encode(der.seq(der.oid(oids.id_signedData), der.ctx(0, signedData)));
}

const ca = await createTestCa("By Value CA");
const log = eventLog();
const server: ScepServer = createScepServer({
  profiles: [{ path: "/scep", caCertificate: ca.cert, signer: ca.key, challenge: { type: "static", password: CHALLENGE }, issue: issuingHook(ca) }],
  onEvent: log.onEvent,
  now: () => NOW,
});

/** A device whose self-signed signer certificate has the negative serial {@link NEGATIVE}. */
const device = await createDevice({ cn: "by-value-device", challengePassword: CHALLENGE });
const negativeSigner = LocalKey.from(await withSerialOctets(device.signer.certificate.der, NEGATIVE, device.keys.privateKey), device.keys.privateKey);

// An RA (RFC 8894 §2.2) with a negative serial, issued by the CA, signs the replies and decrypts the requests.
const raKeys = await generateRsaKeyPair(2048);
const raCsr = await generateCsr({ keys: raKeys, subject: "CN=By Value RA, O=scep-sdk server tests" });
const issued = await ca.issue(raCsr);
const raCert = await withSerialOctets(issued.der, NEGATIVE, ca.keys.privateKey);
const ra = LocalKey.from(raCert, raKeys.privateKey);
const raServer = createScepServer({
  profiles: [{ path: "/scep", caCertificate: ca.cert, signer: ra, challenge: { type: "static", password: CHALLENGE }, issue: issuingHook(ca) }],
  now: () => NOW,
});

async function reply(body: Uint8Array, res?: Response) {
  const response = res ?? (await postPki(server, "/scep", body));
  expect(response.status).toBe(200);
  return readCertRep(new Uint8Array(await response.arrayBuffer()), { decrypter: negativeSigner, caCertificates: [ca.cert] });
}

describe("RFC 5652 §5.3: a SignerInfo that names its signer's negative serial by its unsigned reading (dotnet/corefx#29691)", () => {
  it("the signer certificate's serial is negative, the sid's is the same octets after a 00 → SUCCESS, issued for the signer's key", async () => {
    expect(hex(negativeSigner.certificate.serialNumber)).toBe(hex(NEGATIVE));
    const body = await pkcsReq(negativeSigner, issuerAndSerial(negativeSigner.certificate, UNSIGNED), envelopeNaming(device.csr, ca.cert, der.raw(der.parse(ca.cert.issuerAndSerialNumber()))), "BY-VALUE-SID-1");
    const rep = await reply(body);
    expect([rep.status, rep.failInfo, rep.failInfoText]).toEqual(["SUCCESS", undefined, undefined]);
    expect(hex(rep.certificates[0]!.spki)).toBe(hex(negativeSigner.certificate.spki));
    expect(log.events.at(-1)).toMatchObject({ operation: "PKCSReq", status: 200, reason: "issued" });
  });

  it("the same serial sign-extended (FF FD 31 …, the same negative number) → SUCCESS", async () => {
    const body = await pkcsReq(negativeSigner, issuerAndSerial(negativeSigner.certificate, new Uint8Array([0xff, ...NEGATIVE])), envelopeNaming(device.csr, ca.cert, der.raw(der.parse(ca.cert.issuerAndSerialNumber()))), "BY-VALUE-SID-2");
    expect((await reply(body)).status).toBe("SUCCESS");
  });

  it("verifyRequestSigner (what @scep/proxy checks a re-send with) finds the same signer", async () => {
    const body = await pkcsReq(negativeSigner, issuerAndSerial(negativeSigner.certificate, UNSIGNED), envelopeNaming(device.csr, ca.cert, der.raw(der.parse(ca.cert.issuerAndSerialNumber()))), "BY-VALUE-SID-3");
    const verified = verifyRequestSigner(body);
    expect(verified && hex(verified.signerCertificate.der)).toBe(hex(negativeSigner.certificate.der));
  });

  it("a sid naming another number, or another issuer, is still FAILURE badRequest 'the signer certificate is not in the message'", async () => {
    const other = await createTestCa("By Value Other CA");
    for (const [i, sid] of [issuerAndSerial(negativeSigner.certificate, new Uint8Array([0x00, 0xfd, 0x31])), issuerAndSerial(other.cert, UNSIGNED)].entries()) {
      const rep = await reply(await pkcsReq(negativeSigner, sid, envelopeNaming(device.csr, ca.cert, der.raw(der.parse(ca.cert.issuerAndSerialNumber()))), `BY-VALUE-SID-NO-${i}`));
      expect([rep.status, rep.failInfo, rep.failInfoText]).toEqual(["FAILURE", "badRequest", "the signer certificate is not in the message"]);
    }
  });
});

describe("RFC 5652 §6.2.1: an envelope that names an RA's negative serial by its unsigned reading (dotnet/corefx#29705)", () => {
  it("the KeyTransRecipientInfo names the RA as 00 FD 31 … where its certificate says FD 31 … → SUCCESS", async () => {
    const envelope = envelopeNaming(device.csr, raCert, issuerAndSerial(raCert, UNSIGNED));
    const body = await pkcsReq(negativeSigner, der.raw(der.parse(negativeSigner.certificate.issuerAndSerialNumber())), envelope, "BY-VALUE-RID-1");
    const res = await postPki(raServer, "/scep", body);
    expect(res.status).toBe(200);
    const rep = await readCertRep(new Uint8Array(await res.arrayBuffer()), { decrypter: negativeSigner, caCertificates: [ca.cert, raCert] });
    expect([rep.status, rep.failInfo, rep.failInfoText]).toEqual(["SUCCESS", undefined, undefined]);
    expect(hex(rep.certificates[0]!.spki)).toBe(hex(negativeSigner.certificate.spki));
  });

  it("readCertRep with a pinned root whose serial equals the RA's by value only: the RA the SignerInfo names byte for byte signs, not the root", async () => {
    // The root re-issued with serial 00 FD 31 … (the positive number), the RA it issued FD 31 …: one issuer Name. A
    // by-value match among the pins must not win over the RA's byte-for-byte match among the message's certificates.
    const root = await withSerialOctets(ca.cert.der, UNSIGNED, ca.keys.privateKey);
    const envelope = envelopeNaming(device.csr, raCert, der.raw(der.parse(raCert.issuerAndSerialNumber())));
    const body = await pkcsReq(negativeSigner, der.raw(der.parse(negativeSigner.certificate.issuerAndSerialNumber())), envelope, "BY-VALUE-PIN-1");
    const res = await postPki(raServer, "/scep", body);
    expect(res.status).toBe(200);
    const rep = await readCertRep(new Uint8Array(await res.arrayBuffer()), { decrypter: negativeSigner, caCertificates: [root, raCert], trustedSigners: [root] });
    expect(rep.status).toBe("SUCCESS");
    expect(hex(rep.signerCertificate.der)).toBe(hex(raCert.der));
  });

  it("an envelope naming a serial no configured key has → FAILURE badMessageCheck, as before", async () => {
    const envelope = envelopeNaming(device.csr, raCert, issuerAndSerial(raCert, new Uint8Array([0x00, 0xfd])));
    const body = await pkcsReq(negativeSigner, der.raw(der.parse(negativeSigner.certificate.issuerAndSerialNumber())), envelope, "BY-VALUE-RID-NO");
    const res = await postPki(raServer, "/scep", body);
    expect(res.status).toBe(200);
    const rep = await readCertRep(new Uint8Array(await res.arrayBuffer()), { decrypter: negativeSigner, caCertificates: [ca.cert, raCert] });
    expect([rep.status, rep.failInfo]).toEqual(["FAILURE", "badMessageCheck"]);
  });
});

describe("RFC 5652 §5.3 at the codec: findSigner matches by value for every caller (the client's CertRep reader, GetNextCACert, the server)", () => {
  const sid = (cert: Certificate, serial: Uint8Array) => ({ issuer: cert.issuerDer, serialNumber: serial });

  it("byte for byte first: of two certificates of one issuer, the one whose serial octets are the sid's wins over one equal by value only", async () => {
    const positive = await withSerialOctets(issued.der, UNSIGNED, ca.keys.privateKey); // the positive number 00 FD 31 …
    expect(findSigner(sid(raCert, UNSIGNED), [raCert, positive])).toBe(positive);
    expect(findSigner(sid(raCert, NEGATIVE), [positive, raCert])).toBe(raCert);
  });

  it.each([
    ["the unsigned reading (00 FD 31 …)", UNSIGNED],
    ["a sign-extended encoding (FF FD 31 …)", new Uint8Array([0xff, ...NEGATIVE])],
  ])("%s of an RA's negative serial names the RA", (_name, serial) => {
    expect(findSigner(sid(raCert, serial), [ca.cert, raCert])).toBe(raCert);
  });

  it("another number or another issuer names nothing", () => {
    expect(findSigner(sid(raCert, new Uint8Array([0x00, 0xfd, 0x31])), [ca.cert, raCert])).toBeUndefined();
    expect(findSigner({ issuer: negativeSigner.certificate.issuerDer, serialNumber: UNSIGNED }, [raCert])).toBeUndefined();
  });
});
