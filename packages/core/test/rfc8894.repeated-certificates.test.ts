/**
 * RFC 8894 §4.2.1.2, §3.3.2.1, §4.7: a certificate set sent to a client names each certificate once.
 *
 * An iOS enrollment server answered GetCACert with the same CA certificate twice under
 * `application/x-x509-ca-ra-cert`, and iOS refused it; the fix was to send the one CA certificate as
 * `application/x-x509-ca-cert` (nolanbrown/ios-cert-enrollment#3,
 * https://github.com/nolanbrown/ios-cert-enrollment/pull/3). Our server's profile already sent a repeated
 * `caCertificates` entry once; the public codec functions a custom handler calls did not: `buildGetCaCertResponse`
 * put both copies in a degenerate PKCS#7, `buildGetNextCaCertResponse` and `buildCertRep`'s `extraCertificates` the
 * same, and a SUCCESS CertRep carried the issued certificate twice when the issue hook's `chain` was a full-chain PEM
 * that starts with the leaf (what certbot-style `fullchain.pem` files and several CAs' APIs return). On the client
 * side, `parseGetCaCertResponse` returned both copies of a repeated certificate, and `readCertRep` could not tell the
 * issued certificate of a reply naming it twice (two "leaves") unless it was given the requested key.
 */
import { describe, expect, it } from "vitest";
import {
  Certificate,
  buildGetCaCertResponse,
  buildCertRep,
  buildGetNextCaCertResponse,
  buildPkcsReq,
  createScepServer,
  decodePkiMessage,
  parseGetCaCertResponse,
  parseGetNextCaCertResponse,
  readCertRep,
  type CertRep,
  type IssueHook,
} from "../src/index.js";
import { buildEnvelopedData } from "../src/cms/enveloped-data.js";
import { buildSignedData, parseSignedData } from "../src/cms/signed-data.js";
import { encodeScepAttributes } from "../src/message/attributes.js";
import { MessageType, PkiStatus } from "../src/message/types.js";
import { NOW, createTestCa, hex, issuingHook, postPki, staticScep } from "./support/server-pki.js";

const ders = (certs: readonly Certificate[]): (string | undefined)[] => certs.map((c) => hex(c.der));

describe("RFC 8894 §4.2.1: buildGetCaCertResponse sends a repeated certificate once (ios-cert-enrollment#3)", async () => {
  const ca = await createTestCa("Repeat CA");
  const ra = await ca.ra("CN=Repeat RA");

  it("the CA twice → the CA alone, DER, application/x-x509-ca-cert", async () => {
    const reply = await buildGetCaCertResponse([ca.cert, ca.cert.der]);
    expect([reply.contentType, hex(reply.body)]).toEqual(["application/x-x509-ca-cert", hex(ca.cert.der)]);
  });

  it("RA, CA, RA → a degenerate PKCS#7 of RA then CA, each once", async () => {
    const reply = await buildGetCaCertResponse([ra.certificate, ca.cert, ra.certificate]);
    expect(reply.contentType).toBe("application/x-x509-ca-ra-cert");
    expect(ders(parseGetCaCertResponse(reply.body))).toEqual(ders([ra.certificate, ca.cert]));
  });
});

describe("RFC 8894 §4.2.1, client: another server's GetCACert that names a certificate twice (ios-cert-enrollment#3's server)", async () => {
  const ca = await createTestCa("Repeat Served CA");
  const ra = await ca.ra("CN=Repeat Served RA");

  it("CA, RA, CA, RA → CA, RA, each once, in first-seen order", async () => {
    const body = await buildSignedData({ certificates: [ca.cert.der, ra.certificate.der, ca.cert.der, ra.certificate.der] });
    expect(ders(parseGetCaCertResponse(body, "application/x-x509-ca-ra-cert"))).toEqual(ders([ca.cert, ra.certificate]));
  });
});

describe("RFC 8894 §4.7: buildGetNextCaCertResponse sends a repeated next certificate once", async () => {
  const current = await createTestCa("Repeat Current CA");
  const next = await createTestCa("Repeat Next CA");

  it("the next CA twice → once", async () => {
    const reply = await buildGetNextCaCertResponse({ certificates: [next.cert, next.cert], signer: current.key, now: NOW });
    expect(ders(parseGetNextCaCertResponse(reply.body, [current.cert]))).toEqual(ders([next.cert]));
  });
});

describe("RFC 8894 §3.3.2.1: a SUCCESS CertRep names the issued certificate and each CA once", async () => {
  const { ca, device, profile } = await staticScep({ caName: "Repeat Fullchain CA", deviceCn: "repeat-fullchain-device", challenge: "repeat" });
  const enroll = async (issue: IssueHook): Promise<CertRep> => {
    const server = createScepServer({ profiles: [{ ...profile, issue }], now: () => NOW });
    const built = await buildPkcsReq({ csr: device.csr, signer: device.signer, recipient: ca.cert, now: NOW });
    const res = await postPki(server, "/scep", built.der);
    expect(res.status).toBe(200);
    return readCertRep(new Uint8Array(await res.arrayBuffer()), { request: built, decrypter: device.signer, caCertificates: [ca.cert] });
  };

  it("a hook's chain of issued, CA, CA after the issued certificate → issued then CA; the client finds the issued certificate without the requested key", async () => {
    const rep = await enroll(async (ctx) => {
      const issued = await ca.issue(ctx.csr.der, { notAfter: ctx.notAfterMax });
      return { status: "SUCCESS", certificate: issued, chain: [issued, ca.cert, ca.cert.der] };
    });
    expect(rep.status).toBe("SUCCESS");
    expect(rep.certificates.map((c) => c.subject)).toEqual([rep.certificates[0]!.subject, ca.cert.subject]);
    expect(rep.certificates[0]!.subject).toContain("repeat-fullchain-device");
    expect(hex(rep.certificate?.der)).toBe(hex(rep.certificates[0]!.der));
  });

  it("buildCertRep's extraCertificates that repeat the signer's certificate: the reply's SignedData names it once", async () => {
    const ra = await ca.ra("CN=Repeat Reply RA");
    const built = await buildPkcsReq({ csr: device.csr, signer: device.signer, recipient: ca.cert, now: NOW });
    const request = await decodePkiMessage(built.der, { decrypters: [ca.key] });
    const body = await buildCertRep({ request, signer: ra, status: "PENDING", extraCertificates: [ra.certificate, ca.cert, ca.cert], now: NOW });
    expect(ders(parseSignedData(body).certificates)).toEqual(ders([ra.certificate, ca.cert]));
  });

  it("the usual hook (no chain) is unchanged: issued, CA", async () => {
    const rep = await enroll(issuingHook(ca));
    expect(rep.certificates.map((c) => c.subject)).toEqual([rep.certificate!.subject, ca.cert.subject]);
  });
});

describe("RFC 8894 §3.3.2.1, client: another CA's SUCCESS that names the issued certificate twice", async () => {
  const { ca, device } = await staticScep({ caName: "Repeat Other CA", deviceCn: "repeat-other-device", challenge: "repeat" });

  it("the issued certificate is found without the requested key (it was undefined: two copies counted as two leaves)", async () => {
    const built = await buildPkcsReq({ csr: device.csr, signer: device.signer, recipient: ca.cert, now: NOW });
    const issued = await ca.issue(device.csr);
    // As a CA that appends a full chain starting with the leaf builds it: leaf, leaf, CA.
    const inner = await buildSignedData({ certificates: [issued.der, issued.der, ca.cert.der] });
    const content = buildEnvelopedData({ content: inner, recipient: device.signer.certificate, cipher: "aes128" });
    const attributes = encodeScepAttributes({
      messageType: MessageType.CertRep,
      transactionId: built.transactionId,
      senderNonce: new Uint8Array(16).fill(7),
      recipientNonce: built.senderNonce,
      pkiStatus: PkiStatus.SUCCESS,
      signingTime: NOW,
    });
    const body = await buildSignedData({ content, certificates: [ca.cert.der], signer: ca.key, digest: "sha256", attributes });
    const rep = await readCertRep(body, { request: built, decrypter: device.signer, caCertificates: [ca.cert] });
    expect([rep.status, rep.certificates.length, hex(rep.certificate?.der)]).toEqual(["SUCCESS", 3, hex(issued.der)]);
  });
});
