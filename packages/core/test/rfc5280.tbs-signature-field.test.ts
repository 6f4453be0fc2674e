/**
 * RFC 5280 §4.1.2.3: a TBSCertificate's `signature` field is an AlgorithmIdentifier. A certificate whose field is
 * something else (here a SET where the SEQUENCE belongs) is refused when it is read, with `ERR_ASN1`; a CertRep
 * carrying it as the issued certificate is `ERR_CERTREP` naming the field (readCertRep resolved with it before): OpenSSL and @peculiar/x509 refuse such a certificate, so a
 * client that wrote it out (as the CLI did, found by its own test) handed its user a certificate nothing can load.
 */
import { describe, expect, it } from "vitest";
import { Asn1Error, Certificate, buildPkcsReq, readCertRep } from "../src/index.js";
import * as der from "../src/lib/der.js";
import { NOW, createDevice, createTestCa } from "./support/server-pki.js";
import { handBuiltSuccessCertRep } from "./support/hand-built.js";

/** `certificate` with its TBS signature field's identifier octet set to `tag`. */
function withTbsSignatureTag(certificate: Uint8Array, tag: number): Uint8Array {
  const [tbs] = der.children(der.parse(certificate));
  const fields = der.children(tbs);
  const field = fields[fields[0]!.tag === 0xa0 ? 2 : 1]!; // version [0], serialNumber, signature
  const out = certificate.slice();
  out[field.start] = tag;
  return out;
}

describe("RFC 5280 §4.1.2.3: the TBSCertificate signature field is read as an AlgorithmIdentifier", () => {
  it("a SET (or an OID alone) in its place → ERR_ASN1; the certificate as issued reads", async () => {
    const ca = await createTestCa("TBS Signature CA");
    expect(new Certificate(ca.cert.der).signatureAlgorithmOid).toBe("1.2.840.113549.1.1.11");
    for (const tag of [der.Tag.SET, der.Tag.OID]) {
      const bad = withTbsSignatureTag(ca.cert.der, tag);
      const error = (() => {
        try {
          new Certificate(bad);
        } catch (e) {
          return e;
        }
      })();
      expect(error).toBeInstanceOf(Asn1Error);
      expect((error as Asn1Error).code).toBe("ERR_ASN1");
      expect((error as Asn1Error).message).toMatch(/TBSCertificate signature/);
    }
  });

  it("a SUCCESS CertRep whose issued certificate has one → ERR_CERTREP, not a certificate handed to the caller", async () => {
    const ca = await createTestCa("TBS Signature CertRep CA");
    const device = await createDevice({ cn: "tbs-signature-device", challengePassword: "pw" });
    const request = await buildPkcsReq({ csr: device.csr, signer: device.signer, recipient: ca.cert, now: NOW });
    // Built from the CMS parts: buildCertRep reads its certificates, and would refuse this one itself.
    const issued = withTbsSignatureTag(device.signer.certificate.der, der.Tag.SET);
    const reply = await handBuiltSuccessCertRep({ request, issued, recipient: device.signer.certificate, ca: ca.key, now: NOW });
    const error = await readCertRep(reply, { decrypter: device.signer, caCertificates: [ca.cert], request }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((error as { code?: string }).code).toBe("ERR_CERTREP");
    expect((error as Error).message).toBe("the SUCCESS CertRep's certificates do not parse: TBSCertificate signature: expected tag 0x30, got 0x31");
  });
});
