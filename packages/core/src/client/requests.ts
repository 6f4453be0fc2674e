/**
 * Client side: build SCEP requests (PKCSReq, RenewalReq, CertPoll, GetCert,
 * GetCRL), signed by the requester and encrypted to the CA/RA.
 *
 * @module
 */
import * as der from "../lib/der.js";
import * as nc from "../lib/node-crypto.js";
import { toHex } from "../lib/bytes.js";
import { InvalidArgumentError } from "../errors.js";
import type { ContentCipher, DigestAlgorithm, KeyTransport, SignatureAlgorithm } from "../algorithms.js";
import { buildEnvelopedData } from "../cms/enveloped-data.js";
import { buildSignedData } from "../cms/signed-data.js";
import type { Signer } from "../keys/key.js";
import { Certificate } from "../x509/certificate.js";
import { defaultSignatureAlgorithm } from "../x509/algorithm-identifier.js";
import { CertificationRequest } from "../x509/certification-request.js";
import { encodeScepAttributes } from "../message/attributes.js";
import { MessageType } from "../message/types.js";

/** Options every request builder shares. @group Client */
export interface RequestOptions {
  /** The requester's key and certificate (self-signed for a first enrollment, the old certificate to renew). */
  signer: Signer;
  /** The CA/RA certificate to encrypt to (see {@link selectRecipient}). */
  recipient: Certificate | Uint8Array | string;
  /** Content cipher (default aes128: RFC 8894 §3.5.2's `AES`, what a CA that advertises AES or SCEPStandard takes). */
  cipher?: ContentCipher;
  /** Digest (default sha256). */
  digest?: DigestAlgorithm;
  /** Signature algorithm (default RSA PKCS#1 v1.5, `sha*WithRSAEncryption` OID; ECDSA for EC keys). */
  signatureAlgorithm?: SignatureAlgorithm;
  /** Key transport (default RSAES-PKCS1-v1_5). */
  keyTransport?: KeyTransport;
  /** Hash of RSAES-OAEP (and its MGF1) when `keyTransport` is `rsaes-oaep` (default sha1, what NDES sends). */
  oaepHash?: DigestAlgorithm;
  /** transactionID (default: for PKCSReq/RenewalReq the SHA-256 of the CSR's public key, hex; otherwise random). */
  transactionId?: string;
  /** senderNonce (default 16 random bytes). */
  senderNonce?: Uint8Array;
  /** signingTime (default now). */
  now?: Date;
}

/** A built request and what the client keeps to read the reply. @group Client */
export interface BuiltRequest {
  /** The PKIMessage, DER. */
  der: Uint8Array;
  /** transactionID sent. */
  transactionId: string;
  /** senderNonce sent: the reply's recipientNonce must equal it. */
  senderNonce: Uint8Array;
  /** messageType sent. */
  messageType: MessageType;
}

async function build(messageType: MessageType, inner: der.Der, options: RequestOptions, defaultTid: () => string): Promise<BuiltRequest> {
  const recipient = Certificate.from(options.recipient);
  const digest = options.digest ?? "sha256";
  const signatureAlgorithm = options.signatureAlgorithm ?? defaultSignatureAlgorithm(options.signer.certificate.spki, digest, "withDigest");
  const envelope = buildEnvelopedData({
    content: der.encode(inner),
    recipient,
    cipher: options.cipher ?? "aes128",
    ...(options.keyTransport ? { transport: options.keyTransport } : {}),
    ...(options.oaepHash ? { oaepHash: options.oaepHash } : {}),
  });
  const transactionId = options.transactionId ?? defaultTid();
  const senderNonce = options.senderNonce ?? nc.randomNonce(16);
  const attributes = encodeScepAttributes({ messageType, transactionId, senderNonce, signingTime: options.now ?? new Date() });
  const out = await buildSignedData({
    content: envelope,
    certificates: [options.signer.certificate.der],
    signer: options.signer,
    digest,
    signatureAlgorithm,
    attributes,
  });
  return { der: out, transactionId, senderNonce, messageType };
}

const randomTid = (): string => toHex(nc.randomBytes(16)).toUpperCase();

/** Options of {@link buildPkcsReq}. @group Client */
export interface PkcsReqOptions extends RequestOptions {
  /** The PKCS#10 request, DER or PEM. */
  csr: Uint8Array | string;
  /** Send RenewalReq (17) instead of PKCSReq (19). */
  renewal?: boolean;
}

/**
 * Builds a PKCSReq (or, with `renewal`, a RenewalReq).
 *
 * @example
 * ```ts
 * const client = new ScepClient({ url: "http://127.0.0.1:8080/scep" });
 * const caCertificates = await client.getCaCert();
 * const keys = await generateRsaKeyPair();
 * const signer = await createSelfSignedSigner({ keys, subject: "CN=device-42" });
 * const csr = await generateCsr({ keys, subject: "CN=device-42", challengePassword: "secret" });
 * // aes128: what RFC 8894 §3.5.2's AES (and SCEPStandard) promises; aes192/aes256 only to a CA known to decrypt them
 * const req = await buildPkcsReq({ csr, signer, recipient: selectRecipient(caCertificates), cipher: "aes128", digest: "sha256" });
 * const reply = await client.pkiOperation(req.der); // a CertRep: read it with readCertRep
 * ```
 * @group Client
 */
export async function buildPkcsReq(options: PkcsReqOptions): Promise<BuiltRequest> {
  const csr = CertificationRequest.from(options.csr);
  const type = options.renewal ? MessageType.RenewalReq : MessageType.PKCSReq;
  return build(type, csr.der, options, () => toHex(nc.digest("sha256", csr.spki)).toUpperCase());
}

/** Options of {@link buildCertPoll}: `issuer` or `issuerName`. @group Client */
export interface CertPollOptions extends RequestOptions {
  /** The issuing CA's certificate (its subject is the issuer); see {@link selectIssuerName} to pick it from a GetCACert set. */
  issuer?: Certificate | Uint8Array | string;
  /** The issuing CA's Name, DER (e.g. `selectIssuerName(caCerts)`, or an RA's `issuerDer`); instead of `issuer`. */
  issuerName?: Uint8Array;
  /** The subject Name of the pending request, DER (e.g. `csr.subjectDer`). */
  subject: Uint8Array;
  /** The transactionID of the pending PKCSReq (required: the server finds it by this). */
  transactionId: string;
}

/**
 * Builds a CertPoll (GetCertInitial, RFC 8894 §3.3.3) for a PENDING request.
 * `IssuerAndSubject.issuer` is the Name of the CA that will issue the
 * certificate: the issuer of the RA requests are encrypted to, or the lowest
 * CA of the chain ({@link selectIssuerName} picks it from a GetCACert set in
 * any order); servers may match on it and answer badCertId.
 *
 * ```asn
 * IssuerAndSubject ::= SEQUENCE { issuer Name, subject Name }
 * ```
 *
 * @throws InvalidArgumentError `ERR_INVALID_ARGUMENT` without `issuer` or `issuerName`, or with both.
 *
 * @example
 * ```ts
 * const client = new ScepClient({ url: "http://127.0.0.1:8080/scep" });
 * const keys = await generateRsaKeyPair();
 * const signer = await createSelfSignedSigner({ keys, subject: "CN=device-42" });
 * const csr = await generateCsr({ keys, subject: "CN=device-42", challengePassword: "secret" });
 * const pending = await client.enroll({ csr, signer }); // status "PENDING": the CA approves by hand
 * const poll = await buildCertPoll({
 *   issuerName: selectIssuerName(pending.caCertificates),
 *   subject: CertificationRequest.from(csr).subjectDer,
 *   transactionId: pending.transactionId,
 *   signer,
 *   recipient: selectRecipient(pending.caCertificates),
 * });
 * ```
 * @group Client
 */
export async function buildCertPoll(options: CertPollOptions): Promise<BuiltRequest> {
  if ((options.issuer === undefined) === (options.issuerName === undefined)) throw new InvalidArgumentError("buildCertPoll needs exactly one of issuer and issuerName");
  const issuerName = options.issuerName ?? Certificate.from(options.issuer!).subjectDer;
  try {
    der.parse(issuerName);
  } catch (cause) {
    throw new InvalidArgumentError("issuerName is not a DER Name", { cause });
  }
  return build(MessageType.CertPoll, der.seq(issuerName, options.subject), options, randomTid);
}

/** Options of {@link buildGetCert} and {@link buildGetCrl}. @group Client */
export interface IssuerAndSerialOptions extends RequestOptions {
  /** The issuer Name DER (e.g. `caCert.subjectDer`). */
  issuer: Uint8Array;
  /** The serial number INTEGER content octets (e.g. `cert.serialNumber`). */
  serialNumber: Uint8Array;
}

/**
 * Builds a GetCert (RFC 8894 §3.3.4): asks the CA for a certificate it issued, by `IssuerAndSerialNumber`
 * (RFC 5652 §10.2.4). Sign it with a certificate the CA knows, typically the one asked for; a SUCCESS CertRep's
 * `certificates` hold it (read with {@link readCertRep}). Our server answers FAILURE badRequest without a `getCert`
 * hook, badCertId when the hook finds no such certificate (the example servers answer from their embedded CA's index).
 *
 * @throws InvalidArgumentError `ERR_INVALID_ARGUMENT` when `recipient` is no certificate.
 * @example
 * ```ts
 * import { readFileSync } from "node:fs";
 * import { Certificate, LocalKey, ScepClient, buildGetCert, readCertRep, selectRecipient } from "@scep/core";
 *
 * const client = new ScepClient({ url: "http://127.0.0.1:8080/scep" });
 * const caCertificates = await client.getCaCert();
 * const device = LocalKey.from(readFileSync("device-1.pem"), readFileSync("device-1.key")); // signs the request, opens the reply
 * const wanted = Certificate.from(readFileSync("device-1.pem"));
 * const built = await buildGetCert({ signer: device, recipient: selectRecipient(caCertificates), issuer: wanted.issuerDer, serialNumber: wanted.serialNumber });
 * const rep = await readCertRep(await client.pkiOperation(built.der), { decrypter: device, caCertificates, request: built });
 * console.log(rep.status, rep.certificates?.map((c) => c.subject)); // a CA with a getCert hook: SUCCESS [ 'CN=device-1' ]
 * ```
 * @group Client
 */
export async function buildGetCert(options: IssuerAndSerialOptions): Promise<BuiltRequest> {
  return build(MessageType.GetCert, der.seq(options.issuer, der.tlv(der.Tag.INTEGER, options.serialNumber)), options, randomTid);
}

/**
 * Builds a GetCRL (RFC 8894 §3.3.5): asks the CA for the CRL that covers a certificate, named by its issuer and serial
 * (`IssuerAndSerialNumber`, RFC 5652 §10.2.4). A SUCCESS CertRep's `crls` hold the CRL, DER (read with
 * {@link readCertRep}); our server answers FAILURE badRequest without a `getCrl` hook, badCertId when it has no CRL
 * for that issuer.
 *
 * @throws InvalidArgumentError `ERR_INVALID_ARGUMENT` when `recipient` is no certificate.
 * @example
 * ```ts
 * import { readFileSync, writeFileSync } from "node:fs";
 * import { Certificate, LocalKey, ScepClient, buildGetCrl, readCertRep, selectRecipient } from "@scep/core";
 *
 * const client = new ScepClient({ url: "http://127.0.0.1:8080/scep" });
 * const caCertificates = await client.getCaCert();
 * const device = LocalKey.from(readFileSync("device-1.pem"), readFileSync("device-1.key"));
 * const cert = Certificate.from(readFileSync("device-1.pem"));
 * const built = await buildGetCrl({ signer: device, recipient: selectRecipient(caCertificates), issuer: cert.issuerDer, serialNumber: cert.serialNumber });
 * const rep = await readCertRep(await client.pkiOperation(built.der), { decrypter: device, caCertificates, request: built });
 * if (rep.status === "SUCCESS") writeFileSync("ca.crl", rep.crls[0]!); // DER: openssl crl -inform DER -in ca.crl -text
 * ```
 * @group Client
 */
export async function buildGetCrl(options: IssuerAndSerialOptions): Promise<BuiltRequest> {
  return build(MessageType.GetCRL, der.seq(options.issuer, der.tlv(der.Tag.INTEGER, options.serialNumber)), options, randomTid);
}
