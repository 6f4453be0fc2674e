/**
 * verifyRequestSigner (RFC 8894 §3.2, RFC 5652 §5.4, §5.6): who signed a PKIMessage, checked without the CA's key,
 * for a relay (`@scep/proxy`) that binds a client's re-send to its first request. Held against real captured requests
 * (micromdm scepclient, strongSwan incl. RSASSA-PSS, iOS as DER and as the BER it sends), against decodePkiMessage
 * (which opens them with the CA key), and against altered messages and arbitrary bytes.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MessageType, buildCertPoll, buildPkcsReq, decodePkiMessage, generateCsr, verifyRequestSigner, type Decrypter } from "../src/index.js";
import { parseSignedData } from "../src/cms/signed-data.js";
import { toHex } from "../src/lib/bytes.js";
import { signedDataToBer } from "./support/ber.js";
import { createTestPki } from "./support/pki.js";
import { appleCa, capturedCa, vector } from "./support/vectors.js";

const captured: [string, () => Decrypter][] = [
  ["captured/pkcsreq.micromdm-scepclient.des-sha1.der", capturedCa],
  ["captured/pkcsreq.strongswan.des3-sha1.der", capturedCa],
  ["captured/pkcsreq.strongswan.des3-sha256.der", capturedCa],
  ["captured/pkcsreq.strongswan.des3-sha512.der", capturedCa],
  ["captured/pkcsreq.strongswan.des3-sha256-pss.der", capturedCa],
  ["public/apple-ios.pkcsreq.des3-sha1.der", appleCa],
];

describe("verifyRequestSigner on real requests agrees with decodePkiMessage", () => {
  it.each(captured)("%s", async (name, ca) => {
    const bytes = vector(name);
    const signed = verifyRequestSigner(bytes);
    const decoded = await decodePkiMessage(bytes, { decrypters: ca() });
    expect(signed).toBeDefined();
    expect(signed!.messageType).toBe(MessageType.PKCSReq);
    expect(signed!.transactionId).toBe(decoded.transactionId);
    expect(toHex(signed!.signerCertificate.der)).toBe(toHex(decoded.signerCertificate.der));
  });

  it("iOS's BER form (indefinite lengths, constructed eContent) gives the same answer as its DER form", () => {
    const der = vector("public/apple-ios.pkcsreq.des3-sha1.der");
    const a = verifyRequestSigner(der)!;
    const b = verifyRequestSigner(signedDataToBer(der, 128))!;
    expect(b.transactionId).toBe("A13090761A30F66664F85D37433D2065E1112BA1");
    expect([b.messageType, b.transactionId, toHex(b.signerCertificate.der)]).toEqual([a.messageType, a.transactionId, toHex(a.signerCertificate.der)]);
  });
});

describe("verifyRequestSigner refuses what its signer did not sign", () => {
  it("a PKCSReq and a CertPoll of the SDK: type, transactionID and signer; altered signature, envelope or signed attribute → undefined", async () => {
    const pki = await createTestPki();
    const r = pki.requesters.rsa;
    const csr = await generateCsr({ keys: r.keys, subject: "CN=signer-test", challengePassword: "x" });
    const req = await buildPkcsReq({ csr, signer: r.signer, recipient: pki.ca.certificate, transactionId: "TX-1" });
    expect(verifyRequestSigner(req.der)).toMatchObject({ messageType: 19, transactionId: "TX-1" });
    expect(toHex(verifyRequestSigner(req.der)!.signerCertificate.der)).toBe(toHex(r.signer.certificate.der));
    const poll = await buildCertPoll({ signer: r.signer, recipient: pki.ca.certificate, issuer: pki.ca.certificate, subject: r.signer.certificate.subjectDer, transactionId: "TX-1" });
    expect(verifyRequestSigner(poll.der)).toMatchObject({ messageType: 20, transactionId: "TX-1" });

    const signature = req.der.slice();
    signature[signature.length - 1]! ^= 0x01;
    expect(verifyRequestSigner(signature)).toBeUndefined();

    const envelope = parseSignedData(req.der).content!;
    const at = Buffer.from(req.der).indexOf(Buffer.from(envelope));
    const content = req.der.slice();
    content[at + envelope.length - 1]! ^= 0x01;
    expect(verifyRequestSigner(content)).toBeUndefined();

    // The transactionID's last character, inside the signed attributes.
    const tid = Buffer.from(req.der).indexOf(Buffer.from("TX-1"));
    const attribute = req.der.slice();
    attribute[tid + 3] = "2".charCodeAt(0);
    expect(verifyRequestSigner(attribute)).toBeUndefined();
  });

  it("any byte string → undefined or an answer, never a throw; truncations of a real request → undefined", () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 512 }), (bytes) => {
      const r = verifyRequestSigner(bytes);
      expect(r === undefined || typeof r.transactionId === "string").toBe(true);
    }));
    const bytes = vector("captured/pkcsreq.micromdm-scepclient.des-sha1.der");
    for (let n = 0; n < bytes.length; n += 97) expect(verifyRequestSigner(bytes.subarray(0, n))).toBeUndefined();
  });
});
