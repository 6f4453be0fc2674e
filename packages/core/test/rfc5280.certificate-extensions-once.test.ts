/**
 * RFC 5280 §4.2: "A certificate MUST NOT include more than one instance of a particular extension." The reader took
 * the first of two copies; Go's crypto/x509 refuses such a certificate when it parses it, and OpenSSL's verifier
 * rejects it, so a reader taking one copy and a relying party taking the other (or refusing) disagreed on what the
 * certificate says. `Certificate` now refuses it with `ERR_ASN1` naming the extension; a client reading one in a
 * CertRep or a GetCACert reply gets an error saying which certificate. (A request's certificate set is in
 * rfc8894.server.unreadable-request-parts.test.ts; the PKCS#10 request in rfc2985.csr-attributes-once.test.ts.)
 */
import { describe, expect, it } from "vitest";
import { Asn1Error, Certificate, buildPkcsReq, parseGetCaCertResponse, readCertRep } from "../src/index.js";
import * as der from "../src/lib/der.js";
import { buildSignedData } from "../src/cms/signed-data.js";
import { buildEnvelopedData } from "../src/cms/enveloped-data.js";
import { encodeScepAttributes } from "../src/message/attributes.js";
import { MessageType } from "../src/message/types.js";
import { NOW, createDevice, createTestCa } from "./support/server-pki.js";

/**
 * `certificate` (DER) with the extension at `index` of its extensions written a second time at the end. The
 * signature no longer matches; the reader refuses the certificate before any signature is checked.
 */
function withExtensionTwice(certificate: Uint8Array, index = 0): Uint8Array {
  const [tbs, alg, sig] = der.children(der.parse(certificate));
  const fields = der.children(tbs);
  const at = fields.findIndex((f) => f.tag === 0xa3);
  const extensions = der.children(der.children(fields[at])[0]);
  const twice = der.ctx(3, der.seq(...extensions.map(der.raw), der.raw(extensions[index])));
  const tbsTwice = der.seq(...fields.map((f, i) => (i === at ? twice : der.raw(f))));
  return der.encode(der.seq(tbsTwice, der.raw(alg), der.raw(sig)));
}

function thrown(f: () => unknown): unknown {
  try {
    f();
  } catch (e) {
    return e;
  }
  throw new Error("did not throw");
}

describe("RFC 5280 §4.2: a certificate holds each extension once", () => {
  it("the reader refuses a certificate with an extension twice (ERR_ASN1 naming it), and reads it as issued", async () => {
    const ca = await createTestCa("Extensions Once CA");
    const oids = ca.cert.extensions.map((e) => e.oid);
    expect(new Set(oids).size).toBe(oids.length);
    expect(oids.length).toBeGreaterThan(1);
    for (let i = 0; i < oids.length; i++) {
      const error = thrown(() => new Certificate(withExtensionTwice(ca.cert.der, i)));
      expect(error).toBeInstanceOf(Asn1Error);
      expect(error).toMatchObject({ code: "ERR_ASN1", message: `Certificate: extension ${oids[i]} appears twice (RFC 5280 §4.2)` });
    }
    const pem = `-----BEGIN CERTIFICATE-----\n${Buffer.from(withExtensionTwice(ca.cert.der)).toString("base64")}\n-----END CERTIFICATE-----\n`;
    expect(thrown(() => Certificate.from(pem))).toMatchObject({ code: "ERR_ASN1" });
    expect(new Certificate(ca.cert.der).extensions.map((e) => e.oid)).toEqual(oids);
  });

  it("a SUCCESS CertRep whose issued certificate has one → ERR_CERTREP, not a certificate handed to the caller", async () => {
    const ca = await createTestCa("Extensions Once CertRep CA");
    const device = await createDevice({ cn: "extensions-once-device", challengePassword: "pw" });
    const request = await buildPkcsReq({ csr: device.csr, signer: device.signer, recipient: ca.cert, now: NOW });
    const issued = withExtensionTwice(device.signer.certificate.der);
    const envelope = buildEnvelopedData({ content: await buildSignedData({ certificates: [issued] }), recipient: device.signer.certificate, cipher: "aes128" });
    const attributes = encodeScepAttributes({
      messageType: MessageType.CertRep,
      transactionId: request.transactionId,
      senderNonce: new Uint8Array(16).fill(7),
      recipientNonce: request.senderNonce,
      pkiStatus: "0",
      signingTime: NOW,
    });
    const reply = await buildSignedData({ content: envelope, certificates: [ca.cert.der], signer: ca.key, digest: "sha256", attributes });
    const error = await readCertRep(reply, { decrypter: device.signer, caCertificates: [ca.cert], request }).then(
      () => undefined,
      (e: unknown) => e,
    );
    const oid = device.signer.certificate.extensions[0]!.oid;
    expect(error).toMatchObject({ code: "ERR_CERTREP", message: `the SUCCESS CertRep's certificates do not parse: Certificate: extension ${oid} appears twice (RFC 5280 §4.2)` });
  });

  it("a GetCACert reply holding one, alone or in a PKCS#7 → ERR_MESSAGE_MALFORMED saying so (not 'is the URL a SCEP endpoint?')", async () => {
    const ca = await createTestCa("Extensions Once GetCACert CA");
    const twice = withExtensionTwice(ca.cert.der);
    const message = `extension ${ca.cert.extensions[0]!.oid} appears twice (RFC 5280 §4.2)`;
    expect(thrown(() => parseGetCaCertResponse(twice, "application/x-x509-ca-cert"))).toMatchObject({
      code: "ERR_MESSAGE_MALFORMED",
      message: `GetCACert certificate does not parse: Certificate: ${message}`,
    });
    const pkcs7 = await buildSignedData({ certificates: [ca.cert.der, twice] });
    expect(thrown(() => parseGetCaCertResponse(pkcs7, "application/x-x509-ca-ra-cert"))).toMatchObject({
      code: "ERR_MESSAGE_MALFORMED",
      message: `a GetCACert PKCS#7 certificate does not parse: Certificate: ${message}`,
    });
    // What is no certificate at all is still told apart.
    expect(thrown(() => parseGetCaCertResponse(new TextEncoder().encode("<html>nope</html>"), "text/html"))).toMatchObject({ message: /is neither a certificate nor a PKCS#7/ });
    expect(parseGetCaCertResponse(ca.cert.der, "application/x-x509-ca-cert")[0]!.der).toEqual(ca.cert.der);
  });
});
