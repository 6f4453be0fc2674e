/**
 * Server side: decode a PKIMessage (RFC 8894 §3) from the wire. SignedData →
 * signer verification → SCEP attributes → EnvelopedData → the request inside.
 *
 * @module
 */
import * as der from "../lib/der.js";
import * as nc from "../lib/node-crypto.js";
import * as oids from "../oids.js";
import { SIZE_BYTES, numberOption } from "../number-option.js";
import type { ContentCipher, DigestAlgorithm, KeyTransport, SignatureAlgorithm } from "../algorithms.js";
import { type AlgorithmPolicy, type ResolvedPolicy, checkCipher, checkDigest, checkKeyTransport, checkScheme, resolvePolicy } from "../policy.js";
import { type FailInfo, type PartialRequest, KeyError, MessageMalformedError, MessageTypeError, ScepError, CsrInvalidError, AlgorithmNotAllowedError, Asn1Error, DecryptError, errorMessage } from "../errors.js";
import { findSigner, locateSignedData, parseSignedData, signerAlgorithms, verifySignerInfo } from "../cms/signed-data.js";
import { type OpenedEnvelope, findRecipient, openRecipient, parseEnvelopedData } from "../cms/enveloped-data.js";
import type { Decrypter } from "../keys/key.js";
import { Certificate, publicKeyOf } from "../x509/certificate.js";
import { CertificationRequest, requestPublicKey } from "../x509/certification-request.js";
import { type ScepAttributes, readMessageType, readScepAttributesOf, readTransactionId } from "./attributes.js";
import { MessageType, type MessageTypeName, type PkiStatus, failInfoFromCode, messageTypeName, pkiStatusFromCode } from "./types.js";

/** IssuerAndSubject (CertPoll, RFC 8894 §3.3.3). @group Codec */
export interface IssuerAndSubject {
  /** Issuer Name DER. */
  issuer: Uint8Array;
  /** Subject Name DER. */
  subject: Uint8Array;
}

/** IssuerAndSerialNumber (GetCert, GetCRL, RFC 8894 §3.3.4). @group Codec */
export interface IssuerAndSerialNumber {
  /** Issuer Name DER. */
  issuer: Uint8Array;
  /** Serial number INTEGER content octets. */
  serialNumber: Uint8Array;
}

/** A decoded, verified and decrypted SCEP request. @group Codec */
export interface PkiRequest {
  /** messageType number. */
  messageType: MessageType;
  /** messageType name. */
  messageTypeName: MessageTypeName;
  /** transactionID. */
  transactionId: string;
  /** senderNonce. */
  senderNonce: Uint8Array;
  /** signingTime, when the client sent one. */
  signingTime?: Date;
  /** The certificate that signed the request (self-signed for an initial enrollment). */
  signerCertificate: Certificate;
  /** Every certificate carried in the SignedData. */
  certificates: Certificate[];
  /** Digest of the SignerInfo. */
  digestAlgorithm: DigestAlgorithm;
  /** Signature algorithm of the SignerInfo. */
  signatureAlgorithm: SignatureAlgorithm;
  /** Content cipher of the pkcsPKIEnvelope. */
  contentCipher: ContentCipher;
  /** Key transport of the pkcsPKIEnvelope. */
  keyTransport: KeyTransport;
  /** RSAES-OAEP: the hash of OAEP and its MGF1 (RFC 8017 §A.2.1); absent for RSAES-PKCS1-v1_5. */
  oaepHash?: DigestAlgorithm;
  /** The configured key that opened the envelope. */
  recipient: Decrypter;
  /** PKCSReq and RenewalReq: the certification request. */
  csr?: CertificationRequest;
  /** CertPoll: issuer and subject. */
  issuerAndSubject?: IssuerAndSubject;
  /** GetCert and GetCRL: issuer and serial number. */
  issuerAndSerialNumber?: IssuerAndSerialNumber;
}

/** Options of {@link decodePkiMessage}. @group Codec */
export interface DecodePkiMessageOptions {
  /** The CA/RA keys requests may be encrypted to (rollover, separate RA). */
  decrypters: Decrypter | readonly Decrypter[];
  /** Accepted algorithms. */
  policy?: AlgorithmPolicy;
  /** Largest message accepted, in bytes. Default 1 MiB. */
  maxSize?: number;
  /**
   * Message types whose pkcsPKIEnvelope is not opened (default none): the envelope is parsed, its cipher and key
   * transport held to the policy and its recipient matched to a `decrypters` key (`recipient`, `keyTransport`), but
   * nothing is decrypted, and the request has no `issuerAndSubject` / `issuerAndSerialNumber` / `csr`. For a server
   * that answers such a type without its content (`createScepServer` answers a CertPoll from its transactionID, and a
   * GetCert or GetCRL it does not serve without reading it): content without a signature of its own, opened on
   * request, is a CBC padding oracle (RFC 5652 §6.3) against any captured envelope sent again under that type.
   */
  skipContentOf?: readonly MessageType[];
  /**
   * Asked before an envelope is decrypted, with the matched RecipientInfo's encryptedKey (bytes) and the digest of the
   * whole pkcsPKIEnvelope (the EnvelopedData DER, bytes: the signed messageDigest attribute, verified against it)
   * under the signer's `digestAlgorithm`: false refuses it with the `DecryptError` (ERR_DECRYPT) a bad padding gets,
   * nothing decrypted. `createScepServer` refuses a key transport it already unwrapped for another envelope (a CBC
   * padding oracle probe on a captured request, RFC 5652 §6.3). Default: every envelope is decrypted.
   */
  keyTransportGuard?: (encryptedKey: Uint8Array, envelopeDigest: Uint8Array, digestAlgorithm: DigestAlgorithm) => boolean;
}

function tag(e: unknown, partial: PartialRequest): never {
  if (e instanceof ScepError) {
    e.request = { ...partial, ...e.request };
    throw e;
  }
  throw new MessageMalformedError("malformed message", { cause: e, request: partial });
}

function checkRsaSize(p: ResolvedPolicy, key: nc.KeyObject, what: string): void {
  const bits = nc.rsaModulusBits(key);
  if (bits !== undefined && bits < p.minRsaBits) throw new AlgorithmNotAllowedError(`${what}: RSA-${bits} is below the policy minimum of ${p.minRsaBits} bits`);
}

/**
 * The messageType a PKIMessage's signed attributes name (RFC 8894 §3.2.1.2: 19 PKCSReq, 17 RenewalReq, 20 CertPoll,
 * 21 GetCert, 22 GetCRL, 3 CertRep), read without verifying the signature or opening the envelope: for a relay that
 * routes on it and leaves the checks to the CA it forwards to (`@scep/proxy` lets a CertPoll through without a
 * challenge). The value is whatever the sender signed, so it decides nothing a signature must back.
 *
 * A peek, not a parse: it walks ContentInfo → SignedData → the one SignerInfo's signed attributes and reads the
 * messageType's value only. The embedded certificates, CRLs and eContent are stepped over without being decoded, and
 * the SignerInfo's other fields and attributes are not read, so a message whose certificate, say, does not parse still
 * gives its messageType ({@link decodePkiMessage} refuses it later, or the CA does). Cost: a few microseconds for a
 * PKCSReq, whatever certificates it carries.
 *
 * @param bytes - A PKIMessage, DER or BER (ContentInfo of SignedData).
 * @returns The messageType as a number, or undefined when the bytes are no SignedData (RFC 5652 §5.1, the same
 *   structure and certificate/CRL count limits {@link decodePkiMessage} checks) with one SignerInfo whose signed
 *   attributes hold the messageType attribute once, with a single value of 1 to 3 decimal digits. Never throws.
 *
 * @example
 * ```ts
 * import { readFileSync } from "node:fs";
 * import { MessageType, peekMessageType } from "@scep/core";
 *
 * const isPoll = peekMessageType(readFileSync("request.p7")) === MessageType.CertPoll;
 * ```
 * @group Codec
 */
export function peekMessageType(bytes: Uint8Array): number | undefined {
  try {
    const values = peekSignedAttributes(bytes, [oids.id_messageType])?.get(oids.id_messageType);
    return values ? readMessageType(values) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The pkiStatus and failInfo of a CertRep (RFC 8894 §3.2.1.3, §3.2.1.4), read like {@link peekMessageType}: without
 * verifying its signature or opening its envelope, and without the CA's certificates (NDES leaves its signer out of
 * the reply). For a relay that passes a CA's reply on unchanged and wants to know the outcome it carries (`@scep/proxy`
 * puts it in its event, so an MDM can mark a profile failed). The values are whatever the sender signed: report them,
 * decide nothing a signature must back on them.
 *
 * @param bytes - A CertRep (messageType 3), DER or BER (ContentInfo of SignedData).
 * @returns `status` (`SUCCESS`, `FAILURE`, `PENDING`) and, for a FAILURE whose failInfo is one of RFC 8894's five,
 *   `failInfo`; undefined when the bytes are no SignedData with one SignerInfo whose signed attributes name
 *   messageType 3 and one known pkiStatus, each once with a single value. Never throws.
 *
 * @example
 * ```ts
 * import { readFileSync } from "node:fs";
 * import { peekCertRepStatus } from "@scep/core";
 *
 * const outcome = peekCertRepStatus(readFileSync("reply.p7")); // e.g. { status: "FAILURE", failInfo: "badRequest" }
 * ```
 * @group Codec
 */
export function peekCertRepStatus(bytes: Uint8Array): { status: PkiStatus; failInfo?: FailInfo } | undefined {
  try {
    const attrs = peekSignedAttributes(bytes, [oids.id_messageType, oids.id_pkiStatus, oids.id_failInfo]);
    const type = attrs?.get(oids.id_messageType);
    const statusValue = attrs?.get(oids.id_pkiStatus);
    if (!type || !statusValue || readMessageType(type) !== MessageType.CertRep) return undefined;
    const code = der.readString(statusValue, "pkiStatus");
    const status = pkiStatusFromCode(code);
    if (!status) return undefined;
    const failValue = attrs!.get(oids.id_failInfo);
    const failInfo = status === "FAILURE" && failValue ? failInfoFromCode(der.readString(failValue, "failInfo")) : undefined;
    return failInfo ? { status, failInfo } : { status };
  } catch {
    return undefined;
  }
}

/**
 * The single value of each of `types` among the signed attributes of a PKIMessage's one SignerInfo, walked, not
 * parsed: the certificates, CRLs and eContent are skipped over undecoded (a Certificate for each embedded certificate
 * was most of the cost of the full parse {@link peekMessageType} did before), and of the SignerInfo only the signed
 * attributes' types and the wanted values are read. Undefined when there is not exactly one SignerInfo, it has no
 * signed attributes, or a wanted attribute comes twice or with other than one value (ambiguous). Throws on bad DER.
 */
function peekSignedAttributes(bytes: Uint8Array, types: readonly string[]): Map<string, der.Tlv> | undefined {
  const { signerInfos } = locateSignedData(bytes);
  if (signerInfos.length !== 1) return undefined;
  // SignerInfo ::= SEQUENCE { version, sid, digestAlgorithm, signedAttrs [0] IMPLICIT SignedAttributes OPTIONAL, … }
  const signedAttrs = der.expect(signerInfos[0], der.Tag.SEQUENCE, "SignerInfo")[3];
  if (signedAttrs?.tag !== 0xa0) return undefined;
  const found = new Map<string, der.Tlv>();
  // Attribute ::= SEQUENCE { attrType OBJECT IDENTIFIER, attrValues SET OF AttributeValue }
  for (const attribute of der.children(signedAttrs)) {
    const [typeT, valuesT] = der.expect(attribute, der.Tag.SEQUENCE, "Attribute");
    const type = der.readOid(typeT, "attribute type");
    if (!types.includes(type)) continue;
    if (found.has(type)) return undefined; // the attribute twice: ambiguous
    const values = der.expect(valuesT, der.Tag.SET, "AttributeValues");
    if (values.length !== 1) return undefined;
    found.set(type, values[0]!);
  }
  return found;
}

/**
 * Decodes a PKIMessage: parses the SignedData (BER accepted), verifies the
 * signer's signature and messageDigest, reads the SCEP attributes, opens the
 * envelope with the matching key and parses the request inside.
 *
 * Throws a {@link ScepError}; when the sender could be identified, its
 * `request` property carries the transactionID, senderNonce and digest so a
 * server can answer with a FAILURE CertRep (failInfo from the error). A
 * request without a messageType or senderNonce attribute (RFC 8894 §3.2.1.2,
 * §3.2.1.5) is verified first (its envelope is not opened), then refused with
 * `ERR_MESSAGE_MALFORMED` whose `request` has `signatureVerified: true` and no
 * `senderNonce`; one without a transactionID is refused at once, with no
 * `request` (nothing can answer it). A certificate in the SignedData that does
 * not parse (RFC 5280 §4.1; one with an extension twice, §4.2) is
 * `ERR_MESSAGE_MALFORMED` with `request`, before the signature is checked.
 *
 * @example
 * ```ts
 * import { readFileSync } from "node:fs";
 * import { LocalKey, decodePkiMessage } from "@scep/core";
 *
 * const ca = LocalKey.fromPem(readFileSync("ca.pem", "utf8"), readFileSync("ca.key", "utf8"));
 * const req = await decodePkiMessage(readFileSync("request.p7"), { decrypters: [ca] });
 * if (req.messageTypeName === "PKCSReq") console.log(req.csr!.subject, req.csr!.challengePassword);
 * ```
 * @group Codec
 */
export async function decodePkiMessage(bytes: Uint8Array, options: DecodePkiMessageOptions): Promise<PkiRequest> {
  const policy = resolvePolicy(options.policy);
  const decrypters = Array.isArray(options.decrypters) ? options.decrypters : [options.decrypters as Decrypter];
  if (decrypters.length === 0) throw new KeyError("decodePkiMessage needs at least one decrypter");
  if (bytes.length > numberOption("maxSize", options.maxSize, 1 << 20, SIZE_BYTES)) throw new MessageMalformedError("message too large");
  if (bytes.length === 0) throw new MessageMalformedError("empty message");

  // A certificate that does not parse is refused once the attributes are read, so the refusal can be a FAILURE.
  let unreadableCertificate: unknown;
  const sd = parseSignedData(bytes, (e) => (unreadableCertificate ??= e));
  if (sd.signerInfos.length !== 1) throw new MessageMalformedError(`a PKIMessage has one SignerInfo, this has ${sd.signerInfos.length}`);
  const si = sd.signerInfos[0]!;
  if (!si.signedAttrs) throw new MessageMalformedError("SignerInfo without signed attributes");
  // A missing messageType or senderNonce is the client's mistake, answered with a FAILURE badRequest CertRep
  // (RFC 8894 §3.3.2.2) once the request's signature verifies, so that the answer goes to
  // a sender we know; a missing transactionID stays an error here (the caller answers HTTP 400): a CertRep without
  // one answers nothing.
  // The same holds for an attribute that is there but unreadable (a messageType that is no number, a senderNonce of
  // a bad length or type, two values): its error waits until the sender is known, and the answer then has neither.
  const transactionId = readTransactionId(si.attributes);
  let attrs: ScepAttributes;
  let unreadable: unknown;
  try {
    attrs = readScepAttributesOf(si.attributes, transactionId, { senderNonceOptional: true, messageTypeOptional: true });
  } catch (e) {
    if (!(e instanceof ScepError)) throw e;
    unreadable = e;
    attrs = { messageType: 0, transactionId, senderNonce: new Uint8Array() };
  }
  const hasType = si.attributes.has(oids.id_messageType);
  const hasNonce = si.attributes.has(oids.id_senderNonce);
  const partial: PartialRequest = { transactionId };
  if (unreadable === undefined && hasType) partial.messageType = attrs.messageType;
  if (unreadable === undefined && hasNonce) partial.senderNonce = attrs.senderNonce;
  const typeName = messageTypeName(attrs.messageType);

  try {
    const algorithms = signerAlgorithms(si);
    const { digest, signature } = algorithms;
    partial.digestAlgorithm = digest;
    checkDigest(policy, digest, "SignerInfo");
    checkScheme(policy, signature.scheme, "SignerInfo");
    if (partial.messageType !== undefined && (!typeName || attrs.messageType === MessageType.CertRep)) throw new MessageTypeError(`messageType ${attrs.messageType} is not a request`);
    const contentType = sd.contentType;
    if (contentType !== oids.id_data) throw new MessageMalformedError(`eContentType must be id-data, got ${contentType}`);
    if (!sd.content) throw new MessageMalformedError("PKIMessage without pkcsPKIEnvelope");
    if (unreadableCertificate !== undefined) {
      throw new MessageMalformedError(`a certificate in the message does not parse: ${errorMessage(unreadableCertificate)}`, { cause: unreadableCertificate });
    }
    const signer = findSigner(si.sid, sd.certificates);
    if (!signer) throw new MessageMalformedError("the signer certificate is not in the message");
    if (signature.scheme !== "ecdsa") checkRsaSize(policy, publicKeyOf(signer), "signer certificate");
    const envelopeDigest = verifySignerInfo(si, signer, sd.content, algorithms);
    partial.signatureVerified = true;
    // The sender is known now: refuse what its attributes lack before any private-key operation runs.
    if (unreadable !== undefined) throw unreadable;
    if (!hasType || !hasNonce) {
      const missing = [...(hasType ? [] : ["messageType attribute (RFC 8894 §3.2.1.2)"]), ...(hasNonce ? [] : ["senderNonce attribute (RFC 8894 §3.2.1.5)"])];
      throw new MessageMalformedError(`missing ${missing.join(" and ")}`);
    }
    if (!typeName) throw new MessageTypeError(`messageType ${attrs.messageType} is not a request`);

    const env = parseEnvelopedData(sd.content);
    checkCipher(policy, env.cipher);
    // Refuse a disallowed key transport before any private-key operation runs.
    const allowed = env.recipients.filter((r) => policy.keyTransports.includes(r.transport));
    if (allowed.length === 0 && env.recipients[0]) checkKeyTransport(policy, env.recipients[0].transport);
    // A type whose content the caller does not read is not decrypted (see `skipContentOf`).
    const skip = options.skipContentOf?.includes(attrs.messageType as MessageType) === true;
    let opened: OpenedEnvelope | ReturnType<typeof findRecipient> = findRecipient(allowed.length === env.recipients.length ? env : { ...env, recipients: allowed }, decrypters);
    if (!skip) {
      if (options.keyTransportGuard && !options.keyTransportGuard(opened.recipient.encryptedKey, envelopeDigest, digest)) {
        throw new DecryptError("could not decrypt the envelope", { cause: new Error("this key transport was unwrapped before for another ciphertext") });
      }
      opened = await openRecipient(env, opened.recipient, opened.decrypter);
    }

    const out: PkiRequest = {
      messageType: attrs.messageType as MessageType,
      messageTypeName: typeName,
      transactionId: attrs.transactionId,
      senderNonce: attrs.senderNonce,
      signerCertificate: signer,
      certificates: sd.certificates,
      digestAlgorithm: digest,
      signatureAlgorithm: signature,
      contentCipher: env.cipher,
      keyTransport: opened.recipient.transport,
      recipient: opened.decrypter,
    };
    if (opened.recipient.oaepHash) out.oaepHash = opened.recipient.oaepHash;
    if (attrs.signingTime) out.signingTime = attrs.signingTime;
    if (!skip) readInner(out, (opened as OpenedEnvelope).content, policy);
    return out;
  } catch (e) {
    tag(e, partial);
  }
}

function readInner(out: PkiRequest, content: Uint8Array, policy: ResolvedPolicy): void {
  switch (out.messageType) {
    case MessageType.PKCSReq:
    case MessageType.RenewalReq: {
      // No CBC padding oracle (RFC 5652 §6.3; Vaudenay): whoever captured a device's PKCSReq can send its key
      // transport again (the CA unwraps the device's content key) with ciphertext of its own choosing, under a
      // signature of its own. Content that is no CSR, or a CSR whose signature does not verify, is therefore refused
      // with the very error a bad padding gets (its own error as the cause, for the operator): a different answer
      // would tell that the padding read, one byte of the device's CSR (its challengePassword too) per answer. Only a
      // CSR that verifies, which altered ciphertext cannot give, is held to the policy with errors of its own.
      let csr: CertificationRequest;
      try {
        csr = new CertificationRequest(content);
        if (!csr.verify()) throw new CsrInvalidError("the PKCS#10 signature does not verify", { failInfo: "badMessageCheck" });
      } catch (cause) {
        throw new DecryptError("could not decrypt the envelope", { cause });
      }
      checkDigest(policy, csr.signatureAlgorithm.digest, "PKCS#10");
      checkScheme(policy, csr.signatureAlgorithm.scheme, "PKCS#10");
      if (csr.signatureAlgorithm.scheme !== "ecdsa") checkRsaSize(policy, requestPublicKey(csr), "PKCS#10 public key");
      out.csr = csr;
      return;
    }
    case MessageType.CertPoll: {
      const [issuer, subject] = readPair(content, "IssuerAndSubject");
      out.issuerAndSubject = { issuer: der.raw(der.expectTag(issuer, der.Tag.SEQUENCE, "issuer")).slice(), subject: der.raw(der.expectTag(subject, der.Tag.SEQUENCE, "subject")).slice() };
      return;
    }
    case MessageType.GetCert:
    case MessageType.GetCRL: {
      const [issuer, serial] = readPair(content, "IssuerAndSerialNumber");
      out.issuerAndSerialNumber = {
        issuer: der.raw(der.expectTag(issuer, der.Tag.SEQUENCE, "issuer")).slice(),
        serialNumber: der.content(der.expectTag(serial, der.Tag.INTEGER, "serialNumber")).slice(),
      };
      return;
    }
  }
}

function readPair(content: Uint8Array, what: string): [der.Tlv | undefined, der.Tlv | undefined] {
  try {
    const c = der.expect(der.parse(content), der.Tag.SEQUENCE, what);
    if (c.length !== 2) throw new MessageMalformedError(`${what} must have two fields`);
    return [c[0], c[1]];
  } catch (cause) {
    if (cause instanceof MessageMalformedError) throw cause;
    throw new Asn1Error(`malformed ${what}`, { cause });
  }
}
