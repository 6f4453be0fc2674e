/**
 * Field reports about what a CertRep must carry, rebuilt against our server
 * (RFC 8894 §3.3.2, RFC 5652 §5.3). Replies are read back with our client
 * codec and, where a peer checks with OpenSSL or BouncyCastle, with the
 * `openssl` CLI.
 *
 * - Legacy clients expect the CertRep's SignerInfo signatureAlgorithm to be
 *   plain rsaEncryption rather than sha1WithRSAEncryption and friends
 *   (smallstep/certificates#2776, https://github.com/smallstep/certificates/pull/2776).
 * - Mikrotik RouterOS and certmonger need a senderNonce in every CertRep and a
 *   recipientNonce equal to their senderNonce (micromdm/scep#80,
 *   https://github.com/micromdm/scep/issues/80; micromdm/scep#104,
 *   https://github.com/micromdm/scep/pull/104).
 * - jscep (BouncyCastle) refused a CertRep whose signed attributes lacked
 *   contentType (openxpki/openxpki#789, https://github.com/openxpki/openxpki/issues/789;
 *   seize-the-dave/jscep#152, https://github.com/seize-the-dave/jscep/issues/152).
 * - failInfoText must use id-scep-failInfoText 1.3.6.1.5.5.7.24.1 or clients
 *   print no reason (smallstep/certificates#1794, https://github.com/smallstep/certificates/pull/1794).
 * - A wrong challenge must be a FAILURE CertRep (badRequest), not an HTTP 500
 *   (micromdm/scep#37, https://github.com/micromdm/scep/issues/37).
 * - The reply's content cipher must be the request's: micromdm answered
 *   DES-CBC to an AES request, which OpenSSL 3 without the legacy provider cannot
 *   open (micromdm/scep#244, https://github.com/micromdm/scep/issues/244); Juniper
 *   SRX sends 3DES (micromdm/scep#208, https://github.com/micromdm/scep/issues/208).
 *   A cipher the policy refuses is a FAILURE badAlg, not an exception (AWS
 *   Private CA refusing DES, micromdm/scep#253, https://github.com/micromdm/scep/pull/253).
 * - Apple's client pairs the first certificate of a SUCCESS reply with its key;
 *   a server that sorted the certs-only SET OF by encoding put a shorter CA
 *   certificate first and iOS failed with "mismatching public keys" (22008)
 *   (NeySlim/ultimate-ca-manager#228). RFC 8894 §3.3.2.1: the issued
 *   certificate MUST be the first; we keep it first whatever the encodings.
 * - Dogtag answered SUCCESS with an empty payload to a request awaiting
 *   approval, and sscep failed with "illegal size of payload"
 *   (dogtagpki/pki#4198, https://github.com/dogtagpki/pki/issues/4198): PENDING
 *   must say PENDING and carry no envelope; after approval the poll must be
 *   SUCCESS with the certificate (OmniTrustILM/core#1834,
 *   https://github.com/OmniTrustILM/core/issues/1834).
 */
import { describe, expect, it } from "vitest";
import * as der from "../src/lib/der.js";
import * as oids from "../src/oids.js";
import { parseSignedData } from "../src/cms/signed-data.js";
import { parseEnvelopedData } from "../src/cms/enveloped-data.js";
import {
  CertificationRequest,
  MemoryTransactionStore,
  buildCertPoll,
  buildPkcsReq,
  createScepServer,
  readCertRep,
  type BuiltRequest,
  type ContentCipher,
  type ScepServer,
} from "../src/index.js";
import { withScratch } from "./support/openssl.js";
import { NOW, createDevice, hex, issuingHook, postPki, staticScep } from "./support/server-pki.js";

const CHALLENGE = "field-certrep";
const { ca, device, calls, log, server, profile } = await staticScep({ caName: "Field CertRep CA", deviceCn: "field-certrep-device", challenge: CHALLENGE, profile: { name: "p" } });
const noDes = createScepServer({ profiles: [{ ...profile, algorithmPolicy: { ciphers: ["aes128", "aes192", "aes256", "des3"] } }], onEvent: log.onEvent, now: () => NOW });
const manual = createScepServer({
  profiles: [{ ...profile, transactions: new MemoryTransactionStore({ now: () => NOW }), issue: issuingHook(ca, calls, (ctx) => (ctx.approved ? undefined : { status: "PENDING" })) }],
  onEvent: log.onEvent,
  now: () => NOW,
});

async function exchange(to: ScepServer, built: BuiltRequest): Promise<{ body: Uint8Array; rep: Awaited<ReturnType<typeof readCertRep>> }> {
  const res = await postPki(to, "/scep", built.der);
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toBe("application/x-pki-message");
  const body = new Uint8Array(await res.arrayBuffer());
  return { body, rep: await readCertRep(body, { request: built, decrypter: device.signer, caCertificates: [ca.cert] }) };
}

/** The reply's signed attributes by OID, each as its single value. */
function signedAttributes(body: Uint8Array): Map<string, der.Tlv> {
  const si = parseSignedData(body).signerInfos[0]!;
  return new Map([...si.attributes].map(([oid, values]) => [oid, values[0]!]));
}

describe("RFC 8894 §3.2.1.5: every CertRep carries a fresh senderNonce and recipientNonce = the request's senderNonce (micromdm#80, #104)", () => {
  it("SUCCESS", async () => {
    const built = await buildPkcsReq({ csr: device.csr, signer: device.signer, recipient: ca.cert, now: NOW });
    const { rep } = await exchange(server, built);
    expect(rep.status).toBe("SUCCESS");
    expect(hex(rep.recipientNonce)).toBe(hex(built.senderNonce));
    expect(rep.senderNonce.length).toBe(16);
    expect(hex(rep.senderNonce)).not.toBe(hex(built.senderNonce));
  });

  it("FAILURE (wrong challenge) is a 200 FAILURE badRequest CertRep, not a 500 (micromdm#37)", async () => {
    const wrong = await createDevice({ cn: "field-certrep-wrong", challengePassword: "not-it" });
    const built = await buildPkcsReq({ csr: wrong.csr, signer: wrong.signer, recipient: ca.cert, now: NOW });
    const res = await postPki(server, "/scep", built.der);
    expect(res.status).toBe(200);
    const rep = await readCertRep(new Uint8Array(await res.arrayBuffer()), { request: built, caCertificates: [ca.cert] });
    expect(rep).toMatchObject({ status: "FAILURE", failInfo: "badRequest" });
    expect(hex(rep.recipientNonce)).toBe(hex(built.senderNonce));
    expect(rep.senderNonce.length).toBe(16);
  });
});

describe("RFC 5652 §5.3 / RFC 8894 §3.3.2: signed attributes a BouncyCastle or OpenSSL peer checks (openxpki#789, jscep#152)", () => {
  it("contentType is id-data and messageDigest matches; OpenSSL's cms -verify accepts the reply", async () => {
    const built = await buildPkcsReq({ csr: device.csr, signer: device.signer, recipient: ca.cert, now: NOW });
    const { body } = await exchange(server, built);
    const attrs = signedAttributes(body);
    expect(der.readOid(attrs.get(oids.id_contentType), "contentType")).toBe(oids.id_data);
    expect(attrs.get(oids.id_messageDigest)!.tag).toBe(der.Tag.OCTET_STRING);
    expect(der.readString(attrs.get(oids.id_messageType), "messageType")).toBe("3");
    expect(attrs.get(oids.id_messageType)!.tag).toBe(der.Tag.PRINTABLE_STRING);
    expect(attrs.get(oids.id_pkiStatus)!.tag).toBe(der.Tag.PRINTABLE_STRING);
    await withScratch(async (s) => {
      s.write("rep.der", body);
      const { stderr } = await s.run(["cms", "-verify", "-inform", "DER", "-in", "rep.der", "-noverify", "-binary", "-out", "content.der"]);
      expect(stderr).toMatch(/Verification successful/);
      expect(hex(s.read("content.der"))).toBe(hex(parseSignedData(body).content));
    });
  });

  it("the SignerInfo's signatureAlgorithm is rsaEncryption with NULL parameters, its digest the request's (smallstep#2776)", async () => {
    for (const digest of ["sha1", "sha256", "sha512"] as const) {
      const built = await buildPkcsReq({ csr: device.csr, signer: device.signer, recipient: ca.cert, digest, now: NOW });
      const { body, rep } = await exchange(server, built);
      expect(rep.digestAlgorithm).toBe(digest);
      const [algOid, params] = der.children(parseSignedData(body).signerInfos[0]!.signatureAlgorithm);
      expect(der.readOid(algOid, "signatureAlgorithm")).toBe("1.2.840.113549.1.1.1");
      expect(params?.tag).toBe(der.Tag.NULL);
    }
  });

  it("failInfoText is id-scep-failInfoText 1.3.6.1.5.5.7.24.1, a UTF8String (smallstep#1794)", async () => {
    const wrong = await createDevice({ cn: "field-certrep-text", challengePassword: "nope" });
    const built = await buildPkcsReq({ csr: wrong.csr, signer: wrong.signer, recipient: ca.cert, now: NOW });
    const res = await postPki(server, "/scep", built.der);
    const attrs = signedAttributes(new Uint8Array(await res.arrayBuffer()));
    expect(oids.id_scep_failInfoText).toBe("1.3.6.1.5.5.7.24.1");
    const textValue = attrs.get("1.3.6.1.5.5.7.24.1");
    expect(textValue?.tag).toBe(der.Tag.UTF8_STRING);
    expect(der.readString(textValue, "failInfoText").length).toBeGreaterThan(0);
    expect(der.readString(attrs.get(oids.id_failInfo), "failInfo")).toBe("2");
  });
});

describe("RFC 8894 §3.3.2.1: the issued certificate is the first of the reply, even when DER order would put the CA first (UCM#228)", () => {
  it("a leaf whose encoding sorts after the CA's (long subject) still comes first, the CA after it", async () => {
    // Long through several attributes, each within its RFC 5280 Appendix A bound (a CN of at most 64 characters).
    const cn = `field-certrep-long, L=${"l".repeat(128)}, ST=${"s".repeat(128)}, OU=${"o".repeat(64)}, OU=${"p".repeat(64)}`;
    const long = await createDevice({ cn, challengePassword: CHALLENGE, san: { dns: ["a-long-name.field.example.test", "another-long-name.field.example.test"] } });
    const built = await buildPkcsReq({ csr: long.csr, signer: long.signer, recipient: ca.cert, now: NOW });
    const res = await postPki(server, "/scep", built.der);
    const rep = await readCertRep(new Uint8Array(await res.arrayBuffer()), { request: built, decrypter: long.signer, caCertificates: [ca.cert] });
    expect(rep.status).toBe("SUCCESS");
    const [first, second] = rep.certificates;
    expect(hex(first!.spki)).toBe(hex(long.signer.certificate.spki));
    expect(hex(second!.der)).toBe(hex(ca.cert.der));
    // DER SET OF order (by encoding) would have put the CA first:
    expect(Buffer.compare(Buffer.from(ca.cert.der), Buffer.from(first!.der))).toBe(-1);
    expect(hex(rep.certificate!.der)).toBe(hex(first!.der));
  });
});

describe("RFC 8894 §3.3.2: the reply's content cipher is the request's (micromdm#244, #208, #253)", () => {
  const ciphers: ContentCipher[] = ["aes128", "aes192", "aes256", "des3", "des"];
  for (const cipher of ciphers) {
    it(`${cipher} request → ${cipher} reply`, async () => {
      const built = await buildPkcsReq({ csr: device.csr, signer: device.signer, recipient: ca.cert, cipher, digest: "sha1", now: NOW });
      const { body, rep } = await exchange(server, built);
      expect(rep.status).toBe("SUCCESS");
      expect(rep.contentCipher).toBe(cipher);
      expect(rep.digestAlgorithm).toBe("sha1");
      expect(parseEnvelopedData(parseSignedData(body).content!).cipher).toBe(cipher);
    });
  }

  it("a profile that refuses DES answers a DES request with FAILURE badAlg, nothing issued", async () => {
    const before = calls.length;
    const built = await buildPkcsReq({ csr: device.csr, signer: device.signer, recipient: ca.cert, cipher: "des", now: NOW });
    const { rep } = await exchange(noDes, built);
    expect(rep).toMatchObject({ status: "FAILURE", failInfo: "badAlg" });
    expect(calls.length).toBe(before);
  });
});

describe("RFC 8894 §3.3.2.3 / §3.3.3: PENDING says PENDING with no envelope; after approval CertPoll is SUCCESS (dogtag#4198, OmniTrustILM#1834)", () => {
  it("PENDING has an empty eContent; CertPoll after approve() gets the certificate; a re-poll gets it again", async () => {
    const pendingDevice = await createDevice({ cn: "field-certrep-pending", challengePassword: CHALLENGE });
    const built = await buildPkcsReq({ csr: pendingDevice.csr, signer: pendingDevice.signer, recipient: ca.cert, now: NOW });
    const first = await postPki(manual, "/scep", built.der);
    const firstBody = new Uint8Array(await first.arrayBuffer());
    const pending = await readCertRep(firstBody, { request: built, caCertificates: [ca.cert] });
    expect(pending.status).toBe("PENDING");
    expect(parseSignedData(firstBody).content).toEqual(new Uint8Array(0));
    expect(der.readString(signedAttributes(firstBody).get(oids.id_pkiStatus), "pkiStatus")).toBe("3");

    await manual.approve("p", built.transactionId);
    const subject = CertificationRequest.from(pendingDevice.csr).subjectDer;
    for (let i = 0; i < 2; i++) {
      const poll = await buildCertPoll({ signer: pendingDevice.signer, recipient: ca.cert, issuer: ca.cert, subject, transactionId: built.transactionId, now: NOW });
      const res = await postPki(manual, "/scep", poll.der);
      const rep = await readCertRep(new Uint8Array(await res.arrayBuffer()), { request: poll, decrypter: pendingDevice.signer, caCertificates: [ca.cert] });
      expect(rep.status).toBe("SUCCESS");
      expect(rep.transactionId).toBe(built.transactionId);
      expect(hex(rep.certificates[0]!.spki)).toBe(hex(pendingDevice.signer.certificate.spki));
    }
  });

  it("none of these requests ended in a 5xx", () => {
    expect(log.events.filter((e) => e.status >= 500 || e.outcome === "error")).toEqual([]);
  });
});
