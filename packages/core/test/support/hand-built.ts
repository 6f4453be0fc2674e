/**
 * Messages built by hand from the codec's parts, for tests that send what the SDK's own builders refuse to write
 * (buildPkcsReq reads its CSR; buildCertificate and generateCsr check what they encode): a CSR or certificate signed
 * over any bytes, a PKCSReq around any envelope and certificate set, a CertRep around any issued certificate.
 */
import * as crypto from "node:crypto";
import * as der from "../../src/lib/der.js";
import { buildSignedData } from "../../src/cms/signed-data.js";
import { buildEnvelopedData } from "../../src/cms/enveloped-data.js";
import { encodeScepAttributes } from "../../src/message/attributes.js";
import { MessageType } from "../../src/message/types.js";
import type { BuiltRequest, Certificate, Signer } from "../../src/index.js";

const SHA256_WITH_RSA = der.algId("1.2.840.113549.1.1.11", der.NULL);

/**
 * `toBeSigned` (a CertificationRequestInfo or a TBSCertificate, DER) signed with sha256WithRSAEncryption by the RSA
 * `privateKey`: `SEQUENCE { toBeSigned, AlgorithmIdentifier, BIT STRING }`, DER (RFC 2986 §4, RFC 5280 §4.1).
 */
export function signedWithRsaSha256(toBeSigned: Uint8Array, privateKey: crypto.KeyObject): Uint8Array {
  const signature = crypto.sign("sha256", toBeSigned, privateKey);
  return der.encode(der.seq(toBeSigned, SHA256_WITH_RSA, der.tlv(der.Tag.BIT_STRING, Uint8Array.from([0, ...signature]))));
}

/**
 * A PKCSReq PKIMessage (RFC 8894 §3.2.1, DER) around `envelope` (a pkcsPKIEnvelope's EnvelopedData ContentInfo, DER),
 * signed by `signer` with SHA-256, carrying `certificates` (DER; default the signer's certificate).
 */
export function handBuiltPkcsReq(options: { envelope: Uint8Array; signer: Signer; transactionId: string; senderNonce: Uint8Array; certificates?: Uint8Array[] }): Promise<Uint8Array> {
  return buildSignedData({
    content: options.envelope,
    certificates: options.certificates ?? [options.signer.certificate.der],
    signer: options.signer,
    digest: "sha256",
    attributes: encodeScepAttributes({ messageType: MessageType.PKCSReq, transactionId: options.transactionId, senderNonce: options.senderNonce }),
  });
}

/**
 * A SUCCESS CertRep (RFC 8894 §3.3.2, DER) answering `request`: its envelope, encrypted to `recipient` with AES-128,
 * holds a certs-only SignedData with `issued` (DER, not read: buildCertRep reads and refuses what these tests send);
 * signed by `ca` with SHA-256, carrying the CA's certificate.
 */
export async function handBuiltSuccessCertRep(options: { request: BuiltRequest; issued: Uint8Array; recipient: Certificate; ca: Signer; now: Date }): Promise<Uint8Array> {
  const envelope = buildEnvelopedData({ content: await buildSignedData({ certificates: [options.issued] }), recipient: options.recipient, cipher: "aes128" });
  const attributes = encodeScepAttributes({
    messageType: MessageType.CertRep,
    transactionId: options.request.transactionId,
    senderNonce: new Uint8Array(16).fill(7),
    recipientNonce: options.request.senderNonce,
    pkiStatus: "0",
    signingTime: options.now,
  });
  return buildSignedData({ content: envelope, certificates: [options.ca.certificate.der], signer: options.ca, digest: "sha256", attributes });
}
