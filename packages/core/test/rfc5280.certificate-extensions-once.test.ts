/**
 * RFC 5280 §4.2: "A certificate MUST NOT include more than one instance of a particular extension." The reader took
 * the first of two copies; Go's crypto/x509 refuses such a certificate when it parses it, and OpenSSL's verifier
 * rejects it, so a reader taking one copy and a relying party taking the other (or refusing) disagreed on what the
 * certificate says. A certificate received from a peer (`peerCertificate`: every certificate set a SignedData
 * carries, a GetCACert reply) is now refused with `ERR_ASN1` naming the extension; the client says so for a CertRep
 * or a GetCACert reply. The `Certificate` constructor, which reads stored records and configuration, still reads it
 * (the first copy), so a record an earlier version stored stays readable. (A request's certificate set is in
 * rfc8894.server.unreadable-request-parts.test.ts; the PKCS#10 request in rfc2985.csr-attributes-once.test.ts.)
 */
import { describe, expect, it } from "vitest";
import { Asn1Error, Certificate, buildPkcsReq, parseGetCaCertResponse, readCertRep } from "../src/index.js";
import * as der from "../src/lib/der.js";
import { peerCertificate } from "../src/x509/certificate.js";
import { buildSignedData } from "../src/cms/signed-data.js";
import { NOW, createDevice, createTestCa } from "./support/server-pki.js";
import { handBuiltSuccessCertRep } from "./support/hand-built.js";

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
  it("a peer's certificate with an extension twice is refused (ERR_ASN1 naming it); the constructor reads the first copy", async () => {
    const ca = await createTestCa("Extensions Once CA");
    const oids = ca.cert.extensions.map((e) => e.oid);
    expect(new Set(oids).size).toBe(oids.length);
    expect(oids.length).toBeGreaterThan(1);
    for (let i = 0; i < oids.length; i++) {
      const twice = withExtensionTwice(ca.cert.der, i);
      const error = thrown(() => peerCertificate(twice));
      expect(error).toBeInstanceOf(Asn1Error);
      expect(error).toMatchObject({ code: "ERR_ASN1", message: `Certificate: extension ${oids[i]} appears twice (RFC 5280 §4.2)` });
      // Stored records (a PENDING request's signer, an issued certificate) and configuration are read this way.
      expect(new Certificate(twice).extensions.map((e) => e.oid)).toEqual([...oids, oids[i]]);
    }
    expect(peerCertificate(ca.cert.der).extensions.map((e) => e.oid)).toEqual(oids);
  });

  it("a linear check: 4,000 distinct extensions read, and one of 4,000 repeated is found (the asn1Elements cap is 4,096)", async () => {
    const ca = await createTestCa("Extensions Many CA");
    const [tbs, alg, sig] = der.children(der.parse(ca.cert.der));
    const fields = der.children(tbs);
    const at = fields.findIndex((f) => f.tag === 0xa3);
    const many = Array.from({ length: 4000 }, (_, i) => der.seq(der.oid(`1.3.6.1.4.1.55555.${i}`), der.octetString(der.NULL)));
    const withExtensions = (exts: der.Der[]): Uint8Array =>
      der.encode(der.seq(der.seq(...fields.map((f, i) => (i === at ? der.ctx(3, der.seq(...exts)) : der.raw(f)))), der.raw(alg), der.raw(sig)));
    expect(peerCertificate(withExtensions(many)).extensions).toHaveLength(4000);
    expect(thrown(() => peerCertificate(withExtensions([...many.slice(0, 3999), many[17]!])))).toMatchObject({ message: "Certificate: extension 1.3.6.1.4.1.55555.17 appears twice (RFC 5280 §4.2)" });
  });

  it("a SUCCESS CertRep whose issued certificate has one → ERR_CERTREP, not a certificate handed to the caller", async () => {
    const ca = await createTestCa("Extensions Once CertRep CA");
    const device = await createDevice({ cn: "extensions-once-device", challengePassword: "pw" });
    const request = await buildPkcsReq({ csr: device.csr, signer: device.signer, recipient: ca.cert, now: NOW });
    const issued = withExtensionTwice(device.signer.certificate.der);
    const reply = await handBuiltSuccessCertRep({ request, issued, recipient: device.signer.certificate, ca: ca.key, now: NOW });
    const error = await readCertRep(reply, { decrypter: device.signer, caCertificates: [ca.cert], request }).then(
      () => undefined,
      (e: unknown) => e,
    );
    const oid = device.signer.certificate.extensions[0]!.oid;
    expect(error).toMatchObject({ code: "ERR_CERTREP", message: `the SUCCESS CertRep's certificates do not parse: Certificate: extension ${oid} appears twice (RFC 5280 §4.2)` });
  });

  it("a GetCACert reply holding one: alone or in a PKCS#7, ERR_MESSAGE_MALFORMED saying so (not 'is the URL a SCEP endpoint?'); in PEM, ERR_ASN1", async () => {
    const ca = await createTestCa("Extensions Once GetCACert CA");
    const twice = withExtensionTwice(ca.cert.der);
    const message = `extension ${ca.cert.extensions[0]!.oid} appears twice (RFC 5280 §4.2)`;
    expect(thrown(() => parseGetCaCertResponse(twice, "application/x-x509-ca-cert"))).toMatchObject({
      code: "ERR_MESSAGE_MALFORMED",
      message: `GetCACert certificate does not parse: Certificate: ${message}`,
    });
    const pem = `-----BEGIN CERTIFICATE-----\n${Buffer.from(twice).toString("base64")}\n-----END CERTIFICATE-----\n`;
    // A PEM reply's bad DER is ERR_ASN1, as for any other certificate in one.
    expect(thrown(() => parseGetCaCertResponse(new TextEncoder().encode(pem), "application/x-pem-file"))).toMatchObject({ code: "ERR_ASN1", message: `Certificate: ${message}` });
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
