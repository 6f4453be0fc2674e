/**
 * RFC 8894 §3.3.2 / RFC 5652 §5.4: a CertRep's messageDigest covers its pkcsPKIEnvelope as sent. `buildCertRep`
 * hashes the envelope before it awaits the Signer (an HSM or KMS may take its time) and writes it after, so nothing
 * in the envelope may be bytes the caller can still change: the recipient's IssuerAndSerialNumber is copied when the
 * envelope is made. Found by review: with the requester certificate's buffer reused while the Signer ran, the reply's
 * messageDigest no longer matched its content (ERR_DIGEST_MISMATCH at the client).
 */
import { beforeAll, describe, expect, it } from "vitest";
import { Certificate, type Signer, buildCertRep, buildPkcsReq, decodePkiMessage, readCertRep } from "../src/index.js";
import { NOW, createTestPki, type TestPki } from "./support/pki.js";

let pki: TestPki;
beforeAll(async () => {
  pki = await createTestPki();
});

describe("RFC 8894 §3.3.2 SUCCESS CertRep built from its inputs as they were when buildCertRep was called", () => {
  it.each(["aes128", "des3"] as const)("the requester certificate's buffer reused while the Signer runs (%s): the reply still reads", async (cipher) => {
    const device = pki.requesters.rsa;
    const built = await buildPkcsReq({ csr: device.csr, signer: device.signer, recipient: pki.ca.certificate, cipher, now: NOW });
    const request = await decodePkiMessage(built.der, { decrypters: pki.ca });
    // The caller's own copy of the requester certificate, in a buffer it reuses for something else meanwhile.
    const reused = new Uint8Array(request.signerCertificate.der);
    const slow: Signer = {
      certificate: pki.ca.certificate,
      async sign(data, algorithm) {
        await new Promise((resolve) => setTimeout(resolve, 5));
        reused.fill(0x55);
        return pki.ca.sign(data, algorithm);
      },
    };
    const issued = await pki.issue(device.csr, "51");
    const reply = await buildCertRep({ request: { ...request, signerCertificate: new Certificate(reused) }, signer: slow, status: "SUCCESS", certificates: [issued], now: NOW });
    const read = await readCertRep(reply, { request: built, decrypter: device.signer, caCertificates: [pki.ca.certificate] });
    expect(read.status).toBe("SUCCESS");
    expect(read.certificates[0]!.serialNumberHex).toBe(issued.serialNumberHex);
  });
});
