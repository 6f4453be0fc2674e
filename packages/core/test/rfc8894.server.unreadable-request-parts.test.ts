/**
 * RFC 8894 §3.3.2.2: a request the server cannot process gets a FAILURE
 * CertRep, never an HTTP 5xx. The CSR's subject and subjectAltName, and the
 * signer certificate's names and extensions, are parsed only when first read
 * (by a policy, a challenge validator, an issue hook or the event line), so a
 * request whose outer structure is sound but whose names are malformed DER
 * used to pass decoding and fail later with an `ERR_ASN1` the server answered
 * with HTTP 500 (found by a structure-aware fuzz run: signed and encrypted
 * PKCSReqs around generated CSRs). The server now reads those parts while it
 * decodes and answers FAILURE badRequest before any hook runs. A certificate
 * in the request's set that does not parse at all (one with an extension
 * twice, RFC 5280 §4.2) made the whole message an HTTP 400; it is a FAILURE
 * badRequest too, since the transactionID and senderNonce can still be read.
 */
import * as crypto from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import * as der from "../src/lib/der.js";
import { LocalKey, buildPkcsReq, generateRsaKeyPair, readCertRep } from "../src/index.js";
import { buildEnvelopedData } from "../src/cms/enveloped-data.js";
import { buildSignedData } from "../src/cms/signed-data.js";
import { handBuiltPkcsReq, signedWithRsaSha256 } from "./support/hand-built.js";
import { NOW, DAY, postPki, staticScep, type StaticScep } from "./support/server-pki.js";

const CHALLENGE = "unreadable-parts";
const SHA256_WITH_RSA = der.algId("1.2.840.113549.1.1.11", der.NULL);
const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
const cn = (s: string): der.Der => der.seq(der.setOf([der.seq(der.oid("2.5.4.3"), der.utf8(s))]));
// An otherName whose [0] value claims 5 length octets: the GeneralNames list reads, the GeneralName inside does not.
const BROKEN_OTHER_NAME = der.encode(der.seq(der.tlv(0xa0, Uint8Array.from([0x06, 0x01, 0x2a, 0xa0, 0x85, 0x01, 0x02, 0x03, 0x04, 0x05]))));

let s: StaticScep;
let keys: CryptoKeyPair;
let privateKey: crypto.KeyObject;
let spki: Uint8Array;

beforeAll(async () => {
  s = await staticScep({ caName: "Unreadable Parts CA", deviceCn: "device", challenge: CHALLENGE });
  keys = await generateRsaKeyPair(2048);
  privateKey = crypto.KeyObject.from(keys.privateKey);
  spki = new Uint8Array(crypto.KeyObject.from(keys.publicKey).export({ type: "spki", format: "der" }));
}, 60_000);

/** A signed PKCS#10 request (RFC 2986) with this subject and, when given, this subjectAltName extension value. */
function csr(subject: der.Der, sanValue?: Uint8Array): Uint8Array {
  const attributes: der.Der[] = [der.seq(der.oid("1.2.840.113549.1.9.7"), der.setOf([der.printable(CHALLENGE)]))];
  if (sanValue) attributes.push(der.seq(der.oid("1.2.840.113549.1.9.14"), der.setOf([der.seq(der.seq(der.oid("2.5.29.17"), der.octetString(sanValue)))])));
  return signedWithRsaSha256(der.encode(der.seq(der.int(0), subject, spki, der.tlv(0xa0, ...attributes))), privateKey);
}

/** A self-signed signer certificate with the device key, carrying these extensions, DER (serial 7, CN=device). */
function signerCertificate(extensions: der.Der[]): Uint8Array {
  const validity = der.seq(der.time(new Date(NOW.getTime() - DAY)), der.time(new Date(NOW.getTime() + DAY)));
  const tbs = der.encode(der.seq(der.ctx(0, der.int(2)), der.int(7), SHA256_WITH_RSA, cn("device"), validity, cn("device"), spki, der.ctx(3, der.seq(...extensions))));
  return signedWithRsaSha256(tbs, privateKey);
}

/** {@link signerCertificate} with the device key. */
function signer(extensions: der.Der[]): LocalKey {
  return LocalKey.from(signerCertificate(extensions), keys.privateKey);
}

async function send(csrDer: Uint8Array, by: LocalKey): Promise<{ status: number; rep: Awaited<ReturnType<typeof readCertRep>> | undefined }> {
  const calls = s.calls.length;
  const built = await buildPkcsReq({ csr: csrDer, signer: by, recipient: s.ca.cert, now: NOW });
  const res = await postPki(s.server, "/scep", built.der);
  const body = new Uint8Array(await res.arrayBuffer());
  expect(s.calls.length).toBe(calls); // no issue hook ran
  return { status: res.status, rep: res.status === 200 ? await readCertRep(body, { request: built, caCertificates: [s.ca.cert] }) : undefined };
}

describe("RFC 8894 §3.3.2.2: a request whose names do not parse gets FAILURE badRequest, not HTTP 500", () => {
  it("a CSR subjectAltName whose otherName does not parse", async () => {
    const { status, rep } = await send(csr(cn("device"), BROKEN_OTHER_NAME), signer([]));
    expect(status).toBe(200);
    expect(rep).toMatchObject({ status: "FAILURE", failInfo: "badRequest", failInfoText: "the PKCS#10 request's subject or subjectAltName does not parse: ASN.1 length too large" });
    expect(s.log.events.at(-1)).toMatchObject({ operation: "PKCSReq", outcome: "failure", reason: "csr_invalid", status: 200, failInfo: "badRequest" });
  });

  it("a CSR subject whose RelativeDistinguishedName holds something other than AttributeTypeAndValue", async () => {
    const subject = der.seq(der.tlv(0x31, der.tlv(0x04, utf8("not an AttributeTypeAndValue"))));
    const { status, rep } = await send(csr(subject), signer([]));
    expect(status).toBe(200);
    expect(rep).toMatchObject({ status: "FAILURE", failInfo: "badRequest", failInfoText: "the PKCS#10 request's subject or subjectAltName does not parse: AttributeTypeAndValue: expected tag 0x30, got 0x4" });
    expect(s.log.events.at(-1)).toMatchObject({ reason: "csr_invalid", status: 200 });
  });

  // These parse, but no certificate can carry them (OpenSSL and Go refuse such a certificate): refused by the CSR
  // policy before the issue hook, whose endEntityExtensions would throw ERR_INVALID_ARGUMENT (an HTTP 500).
  it.each([
    ["a CSR subject CN that is an OCTET STRING", () => csr(der.seq(der.setOf([der.seq(der.oid("2.5.4.3"), der.octetString(utf8("device")))]))), "the subject cannot be certified: the value of CN is not a string of a type a certificate name may hold (tag 0x4)"],
    ["a CSR subject CN that is a UTF8String of invalid UTF-8", () => csr(der.seq(der.setOf([der.seq(der.oid("2.5.4.3"), der.tlv(0x0c, Uint8Array.from([0xff, 0xfe])))]))), "the subject cannot be certified: CN: a UTF8String is not valid UTF-8"],
    ["a CSR subjectAltName iPAddress of 5 octets", () => csr(cn("device"), der.encode(der.seq(der.tlv(0x87, new Uint8Array(5))))), "the subjectAltName is not one a certificate can carry (RFC 5280 §4.2.1.6): an iPAddress of 5 octets (4 or 16)"],
  ])("%s: FAILURE badRequest from the CSR policy, before any issue hook", async (_, request, text) => {
    const { status, rep } = await send(request(), signer([]));
    expect(status).toBe(200);
    expect(rep).toMatchObject({ status: "FAILURE", failInfo: "badRequest", failInfoText: text });
    expect(s.log.events.at(-1)).toMatchObject({ operation: "PKCSReq", outcome: "failure", reason: "csr_policy", status: 200, failInfo: "badRequest" });
  });

  it("a signer certificate whose subjectAltName extension does not parse", async () => {
    const { status, rep } = await send(csr(cn("device")), signer([der.seq(der.oid("2.5.29.17"), der.octetString(BROKEN_OTHER_NAME))]));
    expect(status).toBe(200);
    expect(rep).toMatchObject({ status: "FAILURE", failInfo: "badRequest", failInfoText: "the signer certificate's names or extensions do not parse: ASN.1 length too large" });
    expect(s.log.events.at(-1)).toMatchObject({ reason: "signer_certificate_invalid", status: 200 });
  });

  // Go's crypto/x509 and OpenSSL's verifier refuse such a certificate; a reader taking the first copy (as ours did)
  // and one taking the last would disagree on what the signer is allowed. Refused before its signature is checked.
  it("a signer certificate carrying an extension twice (RFC 5280 §4.2): FAILURE badRequest, not HTTP 400", async () => {
    const keyUsage = (bits: number): der.Der => der.seq(der.oid("2.5.29.15"), der.octetString(der.tlv(0x03, Uint8Array.from([7, bits]))));
    const calls = s.calls.length;
    const body = await handBuiltPkcsReq({
      envelope: buildEnvelopedData({ content: csr(cn("device")), recipient: s.ca.cert, cipher: "aes128" }),
      // The certificate set holds the one with keyUsage twice; signer([]) has its issuer and serial number.
      certificates: [signerCertificate([keyUsage(0x80), keyUsage(0x20)])],
      signer: signer([]),
      transactionId: "EXT-TWICE",
      senderNonce: new Uint8Array(16).fill(3),
    });
    const res = await postPki(s.server, "/scep", body);
    expect(res.status).toBe(200);
    const rep = await readCertRep(new Uint8Array(await res.arrayBuffer()), { caCertificates: [s.ca.cert] });
    expect(rep).toMatchObject({
      transactionId: "EXT-TWICE",
      status: "FAILURE",
      failInfo: "badRequest",
      failInfoText: "a certificate in the message does not parse: Certificate: extension 2.5.29.15 appears twice (RFC 5280 §4.2)",
    });
    expect(rep.recipientNonce).toEqual(new Uint8Array(16).fill(3));
    expect(s.log.events.at(-1)).toMatchObject({ operation: "PKCSReq", outcome: "failure", reason: "message_malformed", status: 200, failInfo: "badRequest" });
    expect(s.calls.length).toBe(calls);
  });

  it("an unreadable certificate next to the signer's is refused the same way; without a senderNonce it is HTTP 400", async () => {
    const extra = Uint8Array.from([0x30, 0x06, 0x30, 0x00, 0x30, 0x00, 0x03, 0x00]); // a SEQUENCE of the shape, no certificate
    const envelope = buildEnvelopedData({ content: csr(cn("device")), recipient: s.ca.cert, cipher: "aes128" });
    const by = signer([]);
    const body = await handBuiltPkcsReq({ envelope, certificates: [by.certificate.der, extra], signer: by, transactionId: "EXTRA-CERT", senderNonce: new Uint8Array(16).fill(4) });
    const rep = await readCertRep(new Uint8Array(await (await postPki(s.server, "/scep", body)).arrayBuffer()), { caCertificates: [s.ca.cert] });
    expect(rep).toMatchObject({ transactionId: "EXTRA-CERT", status: "FAILURE", failInfo: "badRequest", failInfoText: expect.stringMatching(/^a certificate in the message does not parse: /) });
    // No senderNonce: nothing to answer before the signature is checked, and it is not checked (RFC 8894 §3.3.2.2).
    const noNonce = await buildSignedData({
      content: envelope,
      certificates: [by.certificate.der, extra],
      signer: by,
      digest: "sha256",
      attributes: [der.seq(der.oid("2.16.840.1.113733.1.9.7"), der.setOf([der.printable("NO-NONCE")])), der.seq(der.oid("2.16.840.1.113733.1.9.2"), der.setOf([der.printable("19")]))],
    });
    const res = await postPki(s.server, "/scep", noNonce);
    expect(res.status).toBe(400);
    expect(await res.text()).toMatch(/^malformed PKIOperation: a certificate in the message does not parse: /);
  });

  it("the same device then enrolls with a well-formed request (the refusals left nothing behind)", async () => {
    const calls = s.calls.length;
    const built = await buildPkcsReq({ csr: csr(cn("device")), signer: signer([]), recipient: s.ca.cert, now: NOW });
    const rep = await readCertRep(new Uint8Array(await (await postPki(s.server, "/scep", built.der)).arrayBuffer()), { request: built, caCertificates: [s.ca.cert] });
    expect(rep.status).toBe("SUCCESS");
    expect(s.calls.length).toBe(calls + 1);
  });
});
