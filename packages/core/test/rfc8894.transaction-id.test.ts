/**
 * RFC 8894 §3.2.1.1: transactionID is echoed exactly. PrintableString cannot
 * carry every character clients use, so such IDs travel as UTF8String instead
 * of being silently altered.
 */
import { describe, expect, it } from "vitest";
import { buildCertRep, buildPkcsReq, createSelfSignedSigner, decodePkiMessage, generateCsr, generateRsaKeyPair, readCertRep } from "../src/index.js";
import { printable } from "../src/lib/der.js";

describe("transactionID encoding", async () => {
  const caKeys = await generateRsaKeyPair();
  const ca = await createSelfSignedSigner({ keys: caKeys, subject: "CN=tid CA" });
  const keys = await generateRsaKeyPair();
  const signer = await createSelfSignedSigner({ keys, subject: "CN=tid client" });
  const csr = await generateCsr({ keys, subject: "CN=tid client", challengePassword: "x" });

  for (const tid of ["ABC123", "a_b@c*d", "héllo-wörld", "Q2xpZW50/Pw=="]) {
    it(`round-trips ${JSON.stringify(tid)} through request and CertRep`, async () => {
      const built = await buildPkcsReq({ csr, signer, recipient: ca.certificate, transactionId: tid });
      const req = await decodePkiMessage(built.der, { decrypters: [ca] });
      expect(req.transactionId).toBe(tid);
      const rep = await readCertRep(await buildCertRep({ request: req, signer: ca, status: "PENDING" }), { request: built });
      expect(rep.transactionId).toBe(tid);
      expect(rep.status).toBe("PENDING");
    });
  }

  it("refuses to write a non-printable character as PrintableString", () => {
    expect(() => printable("a_b")).toThrow(expect.objectContaining({ code: "ERR_ASN1" }));
  });
});
