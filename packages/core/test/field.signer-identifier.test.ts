/**
 * Field reports about how a request names its signer and its recipient by key identifier (RFC 5652 §5.3
 * SignerIdentifier, §6.2.1 RecipientIdentifier, RFC 5280 §4.2.1.2), rebuilt against our server. The requests are
 * hand-assembled from our own CMS pieces so the identifiers can be spelled the way the reported clients spelled
 * them; the CSR, the envelope and the RSA signature are real.
 *
 * - A custom client's PKCSReq, accepted by other CAs, made EJBCA throw (Keyfactor/ejbca-ce#924,
 *   https://github.com/Keyfactor/ejbca-ce/issues/924). Its envelope names the recipient by subjectKeyIdentifier
 *   (KeyTransRecipientInfo version 2), and the [0] holds the key identifier as a whole OCTET STRING (`80 16 04 14 …`:
 *   the SKI extension's extnValue) where RFC 5652 puts the 20 key-identifier octets themselves.
 * - .NET's SignedCms names a signer by subjectKeyIdentifier even when the certificate has no SKI extension: it
 *   computes one from the key, and other platforms then find no signer (NuGet/Home#6254,
 *   https://github.com/NuGet/Home/issues/6254). A SCEP client's self-signed certificate seldom carries the extension
 *   (ours does not); its key is what the signature is checked with.
 *
 * Each spelling must reach the decrypter and the signer it means: SUCCESS, a certificate for the CSR's key.
 */
import { describe, expect, it } from "vitest";
import * as der from "../src/lib/der.js";
import * as nc from "../src/lib/node-crypto.js";
import * as oids from "../src/oids.js";
import { attribute } from "../src/cms/signed-data.js";
import { buildEnvelopedData } from "../src/cms/enveloped-data.js";
import { DIGEST_OID } from "../src/algorithms.js";
import { readCertRep, type Certificate } from "../src/index.js";
import { hex, postPki, staticScep } from "./support/server-pki.js";

const CHALLENGE = "field-sid";
const SHA256_WITH_RSA = "1.2.840.113549.1.1.11";
const { ca, device, server } = await staticScep({ caName: "Field Signer Identifier CA", deviceCn: "field-sid-device", challenge: CHALLENGE });

/** RFC 5280 §4.2.1.2 method (1): the SHA-1 of the subjectPublicKey BIT STRING's value (unused-bits octet left out). */
function keyIdOf(cert: Certificate): Uint8Array {
  const [, bits] = der.children(der.parse(cert.spki));
  return nc.digest("sha1", der.content(bits).subarray(1));
}

interface Spelling {
  /** How the envelope's KeyTransRecipientInfo names the CA: issuer and serial (version 0), or [0] with these octets (version 2). */
  rid?: { ski: Uint8Array } | "issuerAndSerial";
  /** How the SignerInfo names the signer: issuer and serial (version 1), or [0] with these octets (version 3). */
  sid?: { ski: Uint8Array } | "issuerAndSerial";
}

/** The envelope of `content` to the CA, its recipient named as asked. */
function envelope(content: Uint8Array, rid: Spelling["rid"]): Uint8Array {
  const built = buildEnvelopedData({ content, recipient: ca.cert, cipher: "aes128" });
  if (rid === undefined || rid === "issuerAndSerial") return built;
  const [, ctx] = der.children(der.parse(built));
  const [, recipients, eci] = der.children(der.children(ctx)[0]);
  const [, , keyAlg, encryptedKey] = der.children(der.children(recipients)[0]);
  const ktri = der.seq(der.int(2), der.tlv(0x80, rid.ski), der.raw(keyAlg), der.raw(encryptedKey));
  return der.encode(der.seq(der.oid(oids.id_envelopedData), der.ctx(0, der.seq(der.int(2), der.tlv(der.Tag.SET, ktri), der.raw(eci)))));
}

/** A PKCSReq from `device` to `ca` with the identifiers spelled as given (RFC 8894 §3.2, RFC 5652 §5, §6). */
async function pkcsReq(s: Spelling): Promise<Uint8Array> {
  const env = envelope(device.csr, s.rid);
  const digestAlg = der.algId(DIGEST_OID.sha256, der.NULL);
  const attrs = der.setOf([
    attribute(oids.id_contentType, der.oid(oids.id_data)),
    attribute(oids.id_messageDigest, der.octetString(nc.digest("sha256", env))),
    attribute(oids.id_messageType, der.printable("19")),
    attribute(oids.id_transactionID, der.printable(`FIELD-SID-${hex(nc.randomNonce(4))}`)),
    attribute(oids.id_senderNonce, der.octetString(nc.randomNonce(16))),
  ]);
  const signature = await device.signer.sign(der.encode(attrs), { scheme: "rsa-pkcs1", digest: "sha256", rsaOid: "withDigest" });
  const bySki = s.sid !== undefined && s.sid !== "issuerAndSerial" ? s.sid.ski : undefined;
  const sid = bySki ? der.tlv(0x80, bySki) : device.signer.certificate.issuerAndSerialNumber();
  const signerInfo = der.seq(der.int(bySki ? 3 : 1), sid, digestAlg, der.tlv(0xa0, ...attrs.body), der.algId(SHA256_WITH_RSA, der.NULL), der.octetString(signature));
  const signedData = der.seq(der.int(bySki ? 3 : 1), der.tlv(der.Tag.SET, digestAlg), der.seq(der.oid(oids.id_data), der.ctx(0, der.octetString(env))), der.ctx(0, device.signer.certificate.der), der.tlv(der.Tag.SET, signerInfo));
  return der.encode(der.seq(der.oid(oids.id_signedData), der.ctx(0, signedData)));
}

async function enroll(s: Spelling) {
  const res = await postPki(server, "/scep", await pkcsReq(s));
  const body = new Uint8Array(await res.arrayBuffer());
  expect(res.status, Buffer.from(body).toString("latin1").slice(0, 200)).toBe(200);
  return readCertRep(body, { decrypter: device.signer, caCertificates: [ca.cert] });
}

describe("RFC 5652 §6.2.1: the recipient named by subjectKeyIdentifier (ejbca-ce#924)", () => {
  it("the CA's subjectKeyIdentifier (KeyTransRecipientInfo version 2) → SUCCESS", async () => {
    expect(ca.cert.subjectKeyIdentifier).toBeDefined();
    const rep = await enroll({ rid: { ski: ca.cert.subjectKeyIdentifier! } });
    expect(rep.status).toBe("SUCCESS");
    expect(hex(rep.certificates[0]!.spki)).toBe(hex(device.signer.certificate.spki));
  });

  it("the key identifier wrapped in its own OCTET STRING, as ejbca-ce#924's client sent it → SUCCESS", async () => {
    const wrapped = der.encode(der.octetString(ca.cert.subjectKeyIdentifier!));
    expect(hex(wrapped.subarray(0, 2))).toBe("0414");
    const rep = await enroll({ rid: { ski: wrapped } });
    expect(rep.status).toBe("SUCCESS");
  });

  it("a key identifier of no configured key → FAILURE badMessageCheck saying so (never a 5xx)", async () => {
    const rep = await enroll({ rid: { ski: new Uint8Array(20).fill(7) } });
    expect(rep).toMatchObject({ status: "FAILURE", failInfo: "badMessageCheck", failInfoText: "the envelope is not encrypted to any configured key" });
  });
});

describe("RFC 5652 §5.3: the signer named by subjectKeyIdentifier, its certificate without the extension (NuGet#6254)", () => {
  it("the SHA-1 of the signer's key (RFC 5280 §4.2.1.2 method 1), SignerInfo version 3 → SUCCESS", async () => {
    expect(device.signer.certificate.subjectKeyIdentifier).toBeUndefined();
    const rep = await enroll({ sid: { ski: keyIdOf(device.signer.certificate) } });
    expect(rep.status).toBe("SUCCESS");
    expect(hex(rep.certificates[0]!.spki)).toBe(hex(device.signer.certificate.spki));
  });

  it("the SKI extension's whole extnValue (an OCTET STRING holding it) in the [0] → SUCCESS", async () => {
    const rep = await enroll({ sid: { ski: der.encode(der.octetString(keyIdOf(device.signer.certificate))) } });
    expect(rep.status).toBe("SUCCESS");
  });

  it("a key identifier that is not the signer's → FAILURE badRequest naming the signer certificate (never a 5xx)", async () => {
    const rep = await enroll({ sid: { ski: new Uint8Array(20).fill(9) } });
    expect(rep).toMatchObject({ status: "FAILURE", failInfo: "badRequest", failInfoText: "the signer certificate is not in the message" });
  });
});
