/**
 * RFC 2985 §5.4.1 and §5.4.2 (challengePassword and extensionRequest are SINGLE VALUE attributes) and RFC 5280 §4.2
 * (an extension appears at most once), held against our server with PKCS#10 requests signed by their own key:
 *
 * - A request that carries one of these twice (two attributes, or two values in one), or asks for the same extension
 *   twice, has two answers to one question. Before, the last attribute and the first extension won; a reader of
 *   the raw CSR that takes the other one (an OpenSSL-based CA behind the issue hook, a webhook or Intune validator
 *   reading `raw`) would issue names or accept a challenge we never checked. Now it is CsrInvalidError; over the wire the FAILURE any unreadable CSR gets, nothing issued.
 * - Microsoft's older szOID_CERT_EXTENSIONS attribute (1.3.6.1.4.1.311.2.1.14, written by Windows' older enrollment
 *   APIs, same shape as extensionRequest) is read as the requested extensions, as OpenSSL's X509_REQ_get_extensions
 *   reads it (checked below with `openssl req -text`). Before, its subjectAltName was ignored and the certificate
 *   came out without it. When both attributes are present they must be the same bytes.
 */
import * as crypto from "node:crypto";
import { describe, expect, it } from "vitest";
import * as der from "../src/lib/der.js";
import * as oids from "../src/oids.js";
import { buildEnvelopedData } from "../src/cms/enveloped-data.js";
import { CertificationRequest, CsrInvalidError, readCertRep } from "../src/index.js";
import { withScratch } from "./support/openssl.js";
import { NOW, postPki, staticScep } from "./support/server-pki.js";
import { handBuiltPkcsReq, signedWithRsaSha256 } from "./support/hand-built.js";

const CHALLENGE = "attr-once-challenge";
const { ca, device, calls, log, server } = await staticScep({ caName: "Attributes Once CA", deviceCn: "attributes-once", challenge: CHALLENGE });
const privateKey = crypto.KeyObject.from(device.keys.privateKey);
const spki = new Uint8Array(crypto.KeyObject.from(device.keys.publicKey).export({ format: "der", type: "spki" }));
const subject = CertificationRequest.from(device.csr).subjectDer;

const attribute = (type: string, ...values: der.Der[]): der.Der => der.seq(der.oid(type), der.setOf(values));
const challenge = (s: string): der.Der => der.printable(s);
const san = (dns: string): der.Der => der.seq(der.oid(oids.id_ce_subjectAltName), der.octetString(der.encode(der.seq(der.tlv(0x82, new TextEncoder().encode(dns))))));
const extensions = (...exts: der.Der[]): der.Der => der.seq(...exts);

/** A PKCS#10 request (RFC 2986) with these attributes, signed with the device key (sha256WithRSAEncryption). */
function csrWith(...attributes: der.Der[]): Uint8Array {
  return signedWithRsaSha256(der.encode(der.seq(der.int(0), subject, spki, der.ctx(0, ...attributes))), privateKey);
}

let sent = 0;

/**
 * Sends `csr` in a PKCSReq built by hand (our client's buildPkcsReq refuses such a CSR: CsrInvalidError), and reads
 * the CertRep (decrypted with the device key when it is a SUCCESS).
 */
async function enroll(csr: Uint8Array) {
  const before = calls.length;
  const transactionId = `ATTR-ONCE-${++sent}`;
  const envelope = buildEnvelopedData({ content: csr, recipient: ca.cert, cipher: "aes128" });
  const body = await handBuiltPkcsReq({ envelope, signer: device.signer, transactionId, senderNonce: new Uint8Array(16).fill(sent) });
  const res = await postPki(server, "/scep", body);
  expect(res.status).toBe(200);
  const rep = await readCertRep(new Uint8Array(await res.arrayBuffer()), { decrypter: device.signer, caCertificates: [ca.cert] });
  expect(rep.transactionId).toBe(transactionId);
  return { rep, hookCalls: calls.slice(before) };
}

describe("RFC 2985 §5.4.1, §5.4.2 / RFC 5280 §4.2: what a request asks once, it asks once", () => {
  const refused: [string, () => Uint8Array, RegExp][] = [
    ["challengePassword twice", () => csrWith(attribute(oids.id_challengePassword, challenge(CHALLENGE)), attribute(oids.id_challengePassword, challenge("other"))), /challengePassword attribute twice/],
    ["challengePassword with two values", () => csrWith(attribute(oids.id_challengePassword, challenge(CHALLENGE), challenge("other"))), /challengePassword attribute has 2 values/],
    [
      "extensionRequest twice",
      () => csrWith(attribute(oids.id_challengePassword, challenge(CHALLENGE)), attribute(oids.id_extensionRequest, extensions(san("a.example"))), attribute(oids.id_extensionRequest, extensions(san("b.example")))),
      /extensionRequest attribute twice/,
    ],
    [
      "extensionRequest with two values",
      () => csrWith(attribute(oids.id_challengePassword, challenge(CHALLENGE)), attribute(oids.id_extensionRequest, extensions(san("a.example")), extensions(san("b.example")))),
      /extensionRequest attribute has 2 values/,
    ],
    ["subjectAltName asked for twice", () => csrWith(attribute(oids.id_challengePassword, challenge(CHALLENGE)), attribute(oids.id_extensionRequest, extensions(san("a.example"), san("b.example")))), /extension 2\.5\.29\.17 twice/],
    [
      "extensionRequest and Microsoft's 1.3.6.1.4.1.311.2.1.14 that differ",
      () => csrWith(attribute(oids.id_challengePassword, challenge(CHALLENGE)), attribute(oids.id_extensionRequest, extensions(san("a.example"))), attribute(oids.id_ms_cert_extensions, extensions(san("b.example")))),
      /extensionRequest and Microsoft certificate extensions .* differ/,
    ],
    [
      // OpenSSL stops at the (empty) extensionRequest and reads no extensions; Microsoft's must not decide instead.
      "an empty extensionRequest next to Microsoft's 1.3.6.1.4.1.311.2.1.14",
      () => csrWith(attribute(oids.id_challengePassword, challenge(CHALLENGE)), attribute(oids.id_extensionRequest), attribute(oids.id_ms_cert_extensions, extensions(san("b.example")))),
      /extensionRequest and Microsoft certificate extensions .* differ/,
    ],
  ];

  // Over the wire an unreadable CSR gets the answer a bad padding gets (no oracle on the decrypted bytes); the event
  // names the reason.
  it.each(refused)("%s: CsrInvalidError ERR_CSR_INVALID naming it; over the wire FAILURE, event csr_invalid, the issue hook never called", async (_, make, message) => {
    const csr = make();
    expect(() => new CertificationRequest(csr)).toThrow(CsrInvalidError);
    expect(() => new CertificationRequest(csr)).toThrow(message);
    const { rep, hookCalls } = await enroll(csr);
    expect(rep).toMatchObject({ status: "FAILURE", failInfo: "badMessageCheck", failInfoText: "could not decrypt the envelope" });
    expect(log.events.at(-1)).toMatchObject({ outcome: "failure", reason: "csr_invalid" });
    expect(hookCalls).toEqual([]);
  });

  it("Microsoft's 1.3.6.1.4.1.311.2.1.14 alone: its subjectAltName is requested (OpenSSL reads it so too), and issued", async () => {
    const csr = csrWith(attribute(oids.id_challengePassword, challenge(CHALLENGE)), attribute(oids.id_ms_cert_extensions, extensions(san("ms-attr.example"))));
    const text = await withScratch(async (s) => {
      s.write("csr.der", csr);
      return (await s.run(["req", "-inform", "DER", "-in", "csr.der", "-noout", "-text"])).stdout;
    });
    expect(text).toMatch(/Requested Extensions:[\s\S]*DNS:ms-attr\.example/);
    expect(new CertificationRequest(csr).subjectAltNames.dns).toEqual(["ms-attr.example"]);
    const { rep, hookCalls } = await enroll(csr);
    expect(rep.status).toBe("SUCCESS");
    expect(hookCalls.map((c) => c.csr.subjectAltNames.dns)).toEqual([["ms-attr.example"]]);
  });

  it("both attributes with the same bytes: read once, issued", async () => {
    const exts = extensions(san("both.example"));
    const csr = csrWith(attribute(oids.id_challengePassword, challenge(CHALLENGE)), attribute(oids.id_extensionRequest, exts), attribute(oids.id_ms_cert_extensions, exts));
    const { rep, hookCalls } = await enroll(csr);
    expect(rep.status).toBe("SUCCESS");
    expect(hookCalls.map((c) => c.csr.extensions.map((e) => e.oid))).toEqual([[oids.id_ce_subjectAltName]]);
  });

  it("an extensionRequest with no value asks for nothing (as OpenSSL reads it): issued, no extensions", async () => {
    const csr = csrWith(attribute(oids.id_challengePassword, challenge(CHALLENGE)), attribute(oids.id_extensionRequest));
    expect(new CertificationRequest(csr).extensions).toEqual([]);
    const { rep } = await enroll(csr);
    expect(rep.status).toBe("SUCCESS");
  });

  it("one of each, as every client sends: issued (the control)", async () => {
    const { rep } = await enroll(csrWith(attribute(oids.id_challengePassword, challenge(CHALLENGE)), attribute(oids.id_extensionRequest, extensions(san("one.example")))));
    expect(rep.status).toBe("SUCCESS");
  });
});
