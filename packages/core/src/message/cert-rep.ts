/**
 * Server side: build a CertRep (RFC 8894 §3.3.2): SUCCESS, FAILURE or PENDING.
 *
 * @module
 */
import * as der from "../lib/der.js";
import * as nc from "../lib/node-crypto.js";
import { uniqueDers } from "../lib/unique-ders.js";
import { type ContentCipher, type DigestAlgorithm, type KeyTransport, type SignatureAlgorithm, DIGEST_OID } from "../algorithms.js";
import type { FailInfo } from "../errors.js";
import { InvalidArgumentError } from "../errors.js";
import { envelopedData } from "../cms/enveloped-data.js";
import { buildSignedData, degenerateSignedData } from "../cms/signed-data.js";
import type { Signer } from "../keys/key.js";
import { Certificate } from "../x509/certificate.js";
import { defaultSignatureAlgorithm } from "../x509/algorithm-identifier.js";
import { type ScepAttributes, encodeScepAttributes } from "./attributes.js";
import { MessageType, PkiStatus } from "./types.js";

/**
 * `Certificate.dersOf` of every entry of `list`, in order, appended to `into`: a loop, not `flatMap`
 * (V8 runs `flatMap` through a generic path that cost a CertRep microseconds).
 */
function appendDers(list: readonly (Certificate | Uint8Array)[], into: Uint8Array[]): Uint8Array[] {
  for (const value of list) {
    if (value instanceof Certificate) into.push(value.der);
    else for (const d of Certificate.dersOf(value)) into.push(d);
  }
  return into;
}

/** The request a CertRep answers: what a {@link PkiRequest} (or a failed decode's `request`) provides. @group Codec */
export interface CertRepRequest {
  /** transactionID, echoed. */
  transactionId: string;
  /** senderNonce, returned as recipientNonce; empty when the request had none (the CertRep then has no recipientNonce). */
  senderNonce: Uint8Array;
  /** The requester's certificate: SUCCESS replies are encrypted to it. */
  signerCertificate?: Certificate;
  /** The request's content cipher: SUCCESS replies use it unless told otherwise. */
  contentCipher?: ContentCipher;
  /** The request's digest: the reply uses it unless told otherwise. */
  digestAlgorithm?: DigestAlgorithm | string;
  /**
   * The request's key transport: SUCCESS replies use it unless told otherwise, so a client that wrapped its
   * content key with RSAES-OAEP (Windows CNG, NDES) gets an OAEP-wrapped reply, as NDES answers.
   */
  keyTransport?: KeyTransport;
  /** The request's RSAES-OAEP hash (with `keyTransport: "rsaes-oaep"`). */
  oaepHash?: DigestAlgorithm;
}

/** Options of {@link buildCertRep}. @group Codec */
export interface CertRepOptions {
  /** The request answered. */
  request: CertRepRequest;
  /** The CA or RA key that signs the reply. */
  signer: Signer;
  /** SUCCESS, FAILURE or PENDING. */
  status: PkiStatus;
  /** FAILURE: the reason code. Default badRequest. */
  failInfo?: FailInfo;
  /** FAILURE: a human-readable reason (id-scep-failInfoText). */
  failInfoText?: string;
  /**
   * SUCCESS: the issued certificate first, then its chain ({@link Certificate}, DER, or PEM file bytes, RFC 7468;
   * sent as DER). An entry that is a PEM bundle gives every `CERTIFICATE` block it holds, in order. A certificate
   * given twice is sent once, first place kept (a full-chain PEM that starts with the issued certificate).
   */
  certificates?: readonly (Certificate | Uint8Array)[];
  /** SUCCESS to GetCRL: the CRL, DER. */
  crl?: Uint8Array;
  /** Content cipher of the reply's envelope (default: the request's, else AES-128). */
  contentCipher?: ContentCipher;
  /** Key transport of the reply's envelope (default: the request's, else RSAES-PKCS1-v1_5). */
  keyTransport?: KeyTransport;
  /** RSAES-OAEP hash of the reply's envelope (default: the request's when it used OAEP too, else SHA-1). */
  oaepHash?: DigestAlgorithm;
  /** Digest (default: the request's, else SHA-256). */
  digestAlgorithm?: DigestAlgorithm;
  /**
   * Signature algorithm. Default for RSA signers: PKCS#1 v1.5 with the plain
   * `rsaEncryption` OID and NULL parameters (strongSwan < 5.9.11 accepts
   * nothing else; Apple, NDES and cryptlib send the same). ECDSA for EC signers.
   */
  signatureAlgorithm?: SignatureAlgorithm;
  /** Include the signer's certificate in the SignedData (default true). */
  includeSignerCertificate?: boolean;
  /** Extra certificates for the SignedData (e.g. the CA above an RA), in the same forms as `certificates`; one already there (the signer's) is not repeated. */
  extraCertificates?: readonly (Certificate | Uint8Array)[];
  /** signingTime (default now). */
  now?: Date;
  /** senderNonce of the reply (default 16 random bytes). */
  senderNonce?: Uint8Array;
}

/** The reply's key transport: the one asked for, else the request's (with its OAEP hash), else PKCS#1 v1.5. */
function transportOf(options: CertRepOptions): { transport?: KeyTransport; oaepHash?: DigestAlgorithm } {
  const transport = options.keyTransport ?? options.request.keyTransport;
  if (transport !== "rsaes-oaep") return transport ? { transport } : {};
  const sameAsRequest = options.request.keyTransport === "rsaes-oaep";
  const oaepHash = options.oaepHash ?? (sameAsRequest ? options.request.oaepHash : undefined);
  return oaepHash ? { transport, oaepHash } : { transport };
}

/**
 * Builds a signed CertRep. SUCCESS carries a degenerate certs-only SignedData
 * (or CRL) enveloped to the requester's certificate; FAILURE and PENDING carry
 * no envelope: their eContent is an empty OCTET STRING, as micromdm sends (an
 * absent eContent makes OpenSSL's PKCS7_verify fail with "no content", so
 * certmonger took a rejection or PENDING for an unreachable CA). transactionID is echoed, recipientNonce is the request's
 * senderNonce, senderNonce is fresh. Unless told otherwise, the reply uses the request's digest, content cipher and key
 * transport (RSAES-OAEP with the request's hash when the client wrapped its key with OAEP).
 *
 * @example
 * ```ts
 * async function success(req: PkiRequest, ca: LocalKey, issued: Certificate): Promise<Response> {
 *   const reply = await buildCertRep({ request: req, signer: ca, status: "SUCCESS", certificates: [issued, ca.certificate] });
 *   return new Response(new Uint8Array(reply), { headers: { "content-type": PKI_MESSAGE_CONTENT_TYPE } });
 * }
 * ```
 * @group Codec
 */
export async function buildCertRep(options: CertRepOptions): Promise<Uint8Array> {
  const { request, signer, status } = options;
  const requestedDigest = request.digestAlgorithm && Object.hasOwn(DIGEST_OID, request.digestAlgorithm) ? (request.digestAlgorithm as DigestAlgorithm) : undefined;
  const digest = options.digestAlgorithm ?? requestedDigest ?? "sha256";
  let content: der.Der | undefined;
  if (status === "SUCCESS") {
    const recipient = request.signerCertificate;
    if (!recipient) throw new InvalidArgumentError("a SUCCESS CertRep needs the requester's certificate to encrypt to");
    const certs = options.certificates ? uniqueDers(appendDers(options.certificates, [])) : [];
    if (certs.length === 0 && !options.crl) throw new InvalidArgumentError("a SUCCESS CertRep needs a certificate or a CRL");
    const inner = degenerateSignedData({ certificates: certs, crls: options.crl ? [options.crl] : [] });
    const envOpts = {
      content: inner,
      recipient,
      cipher: options.contentCipher ?? request.contentCipher ?? "aes128",
      ...transportOf(options),
    };
    content = envelopedData(envOpts); // written once, into the SignedData (hashed from a reused buffer first)
  }
  const scep: ScepAttributes = {
    messageType: MessageType.CertRep,
    transactionId: request.transactionId,
    senderNonce: options.senderNonce ?? nc.randomNonce(16),
    pkiStatus: PkiStatus[status],
    signingTime: options.now ?? new Date(),
  };
  // A request without a senderNonce (answered FAILURE badRequest) gets none back (RFC 8894 §3.3.2).
  if (request.senderNonce.length > 0) scep.recipientNonce = request.senderNonce;
  if (status === "FAILURE") {
    scep.failInfo = options.failInfo ?? "badRequest";
    if (options.failInfoText) scep.failInfoText = options.failInfoText;
  }
  const attrs = encodeScepAttributes(scep);
  const signatureAlgorithm = options.signatureAlgorithm ?? defaultSignatureAlgorithm(signer.certificate.spki, digest, "rsaEncryption");
  const certificates: Uint8Array[] = options.includeSignerCertificate === false ? [] : [signer.certificate.der];
  if (options.extraCertificates) appendDers(options.extraCertificates, certificates);
  return buildSignedData({ content: content ?? new Uint8Array(), certificates: uniqueDers(certificates), signer, digest, signatureAlgorithm, attributes: attrs });
}
