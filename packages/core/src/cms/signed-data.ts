/**
 * CMS SignedData (RFC 5652 §5): read (BER accepted), verify, and write (DER).
 */
import * as der from "../lib/der.js";
import { LIMITS } from "../limits.js";
import * as oids from "../oids.js";
import * as nc from "../lib/node-crypto.js";
import { type DigestAlgorithm, type SignatureAlgorithm, DIGEST_OID, digestFromOid } from "../algorithms.js";
import { Asn1Error, DigestMismatchError, MessageMalformedError, SignatureInvalidError } from "../errors.js";
import { readSignatureAlgorithm, signatureAlgorithmIdentifier } from "../x509/algorithm-identifier.js";
import { type Certificate, peerCertificate, publicKeyOf } from "../x509/certificate.js";
import type { Signer } from "../keys/key.js";

/** How a SignerInfo names its certificate. @group Codec */
export type SignerIdentifier = { issuer: Uint8Array; serialNumber: Uint8Array } | { subjectKeyIdentifier: Uint8Array };

/**
 * One SignerInfo.
 *
 * ```asn
 * SignerInfo ::= SEQUENCE { version CMSVersion, sid SignerIdentifier,
 *   digestAlgorithm DigestAlgorithmIdentifier,
 *   signedAttrs [0] IMPLICIT SignedAttributes OPTIONAL,
 *   signatureAlgorithm SignatureAlgorithmIdentifier,
 *   signature SignatureValue, unsignedAttrs [1] IMPLICIT UnsignedAttributes OPTIONAL }
 * ```
 * @group Codec
 */
export interface ParsedSignerInfo {
  /** Which certificate signed. */
  sid: SignerIdentifier;
  /** The digest OID as sent. */
  digestOid: string;
  /** The signature AlgorithmIdentifier as sent (read lazily: its digest may hang on digestOid). */
  signatureAlgorithm: der.Tlv;
  /**
   * The signed attributes as sent (`[0] IMPLICIT`, a view of the message), or undefined. The signature covers them
   * re-tagged as `SET OF` (RFC 5652 §5.4), which {@link verifySignerInfo} does on a copy.
   */
  signedAttrs?: Uint8Array;
  /** Signed attributes by OID; each value is the list of AttributeValue elements. */
  attributes: Map<string, der.Tlv[]>;
  /** The signature value. */
  signature: Uint8Array;
}

/** A SignedData as read from the wire. @group Codec */
export interface ParsedSignedData {
  /** eContentType. */
  contentType: string;
  /** eContent octets (constructed BER strings joined), when present. */
  content?: Uint8Array;
  /** Certificates carried in the SignedData. */
  certificates: Certificate[];
  /** CRLs carried in the SignedData, raw DER. */
  crls: Uint8Array[];
  /** SignerInfos. */
  signerInfos: ParsedSignerInfo[];
}

/** Reads a ContentInfo and returns its content, checking the content type. @group Codec */
export function unwrapContentInfo(bytes: Uint8Array, expectedType: string, what: string): der.Tlv {
  const [typeT, contentT] = der.expect(der.parse(bytes), der.Tag.SEQUENCE, `${what} ContentInfo`);
  const type = der.readOid(typeT, `${what} contentType`);
  if (type !== expectedType) throw new MessageMalformedError(`${what}: expected content type ${expectedType}, got ${type}`);
  if (!contentT) throw new MessageMalformedError(`${what}: ContentInfo without content`);
  return der.explicit(contentT, 0, `${what} content`);
}

function readSid(t: der.Tlv | undefined): SignerIdentifier {
  if (t?.tag === der.Tag.SEQUENCE) {
    const [issuer, serial] = der.children(t);
    return { issuer: der.raw(der.expectTag(issuer, der.Tag.SEQUENCE, "sid issuer")), serialNumber: der.content(der.expectTag(serial, der.Tag.INTEGER, "sid serial")) };
  }
  if (t?.tag === 0x80) return { subjectKeyIdentifier: der.content(t) };
  throw new Asn1Error(t ? "SignerIdentifier: unknown choice" : "SignerIdentifier: missing");
}

function readSignerInfo(t: der.Tlv): ParsedSignerInfo {
  const f = der.expect(t, der.Tag.SEQUENCE, "SignerInfo");
  let i = 1; // version
  const sid = readSid(f[i++]!);
  const digestOid = der.readOid(der.children(der.expectTag(f[i++], der.Tag.SEQUENCE, "digestAlgorithm"))[0], "digestAlgorithm");
  let signedAttrs: Uint8Array | undefined;
  const attributes = new Map<string, der.Tlv[]>();
  if (f[i]?.tag === 0xa0) {
    const attrsT = f[i++]!;
    signedAttrs = der.raw(attrsT);
    for (const a of der.children(attrsT)) {
      const [typeT, valuesT] = der.expect(a, der.Tag.SEQUENCE, "Attribute");
      const type = der.readOid(typeT, "attribute type");
      if (attributes.has(type)) throw new MessageMalformedError(`signed attribute ${type} appears twice`);
      attributes.set(type, der.expect(valuesT!, der.Tag.SET, "AttributeValues"));
    }
  }
  const signatureAlgorithm = der.expectTag(f[i++], der.Tag.SEQUENCE, "signatureAlgorithm");
  const signature = der.octets(der.expectTag(f[i++], der.Tag.OCTET_STRING, "signature"));
  return { sid, digestOid, signatureAlgorithm, signedAttrs, attributes, signature };
}

/**
 * The fields of a SignedData, found but not decoded: {@link locateSignedData}'s answer. @internal
 */
export interface SignedDataFields {
  /** eContentType. */
  contentType: string;
  /** The eContent OCTET STRING (primitive or constructed), when present; its octets not read. */
  eContent?: der.Tlv;
  /** The elements of `certificates [0]`, none parsed (a CertificateChoices other than a SEQUENCE included). */
  certificates: der.Tlv[];
  /** The elements of `crls [1]`, none parsed. */
  crls: der.Tlv[];
  /** The SignerInfo elements, none read. */
  signerInfos: der.Tlv[];
}

/**
 * Walks a ContentInfo holding SignedData to its fields with every structural check {@link parseSignedData} makes on
 * the way (the content type, the element tags, at most `LIMITS.signedDataCertificates` certificates and CRLs), but
 * decodes nothing inside them: no certificate is parsed, no eContent joined, no SignerInfo read. A reader that needs
 * one field (`peekMessageType`: the SignerInfo's messageType) then pays for that field alone.
 *
 * ```asn
 * SignedData ::= SEQUENCE { version CMSVersion,
 *   digestAlgorithms DigestAlgorithmIdentifiers,
 *   encapContentInfo EncapsulatedContentInfo,
 *   certificates [0] IMPLICIT CertificateSet OPTIONAL,
 *   crls [1] IMPLICIT RevocationInfoChoices OPTIONAL,
 *   signerInfos SignerInfos }
 * EncapsulatedContentInfo ::= SEQUENCE { eContentType ContentType,
 *   eContent [0] EXPLICIT OCTET STRING OPTIONAL }
 * ```
 *
 * @throws Asn1Error `ERR_ASN1`, MessageMalformedError `ERR_MESSAGE_MALFORMED` (no SignedData, too many certificates or CRLs).
 * @internal
 */
export function locateSignedData(bytes: Uint8Array): SignedDataFields {
  const sd = der.expect(unwrapContentInfo(bytes, oids.id_signedData, "SignedData"), der.Tag.SEQUENCE, "SignedData");
  let i = 2; // version, digestAlgorithms
  const encap = der.expect(sd[i++]!, der.Tag.SEQUENCE, "EncapsulatedContentInfo");
  const contentType = der.readOid(encap[0], "eContentType");
  const eContent = encap[1] ? der.expectTag(der.explicit(encap[1], 0, "eContent"), der.Tag.OCTET_STRING, "eContent") : undefined;
  let certificates: der.Tlv[] = [];
  let crls: der.Tlv[] = [];
  if (sd[i]?.tag === 0xa0) {
    certificates = der.children(sd[i++]!);
    // Counted before any is parsed, and before the signature is checked.
    if (certificates.length > LIMITS.signedDataCertificates) throw new MessageMalformedError(`a SignedData with more than ${LIMITS.signedDataCertificates} certificates`);
  }
  if (sd[i]?.tag === 0xa1) {
    crls = der.children(sd[i++]!);
    if (crls.length > LIMITS.signedDataCertificates) throw new MessageMalformedError(`a SignedData with more than ${LIMITS.signedDataCertificates} CRLs`);
  }
  const signerInfos = der.expect(sd[i]!, der.Tag.SET, "SignerInfos");
  return eContent ? { contentType, eContent, certificates, crls, signerInfos } : { contentType, certificates, crls, signerInfos };
}

/**
 * Reads a ContentInfo holding SignedData ({@link locateSignedData}'s walk, then every field decoded): the eContent's
 * octets joined (BER), each certificate that is a SEQUENCE parsed, the CRLs copied, every SignerInfo read.
 *
 * Each certificate is read with {@link peerCertificate} (an extension twice is refused). One that does not parse
 * throws its `Asn1Error` (`ERR_ASN1`), unless `unreadableCertificate` is given: it
 * is then called with that error and the certificate is left out, so a caller that can still read the signed
 * attributes (a server answering FAILURE, RFC 8894 §3.3.2.2) decides what to do.
 * @group Codec
 */
export function parseSignedData(bytes: Uint8Array, unreadableCertificate?: (error: unknown) => void): ParsedSignedData {
  const fields = locateSignedData(bytes);
  const { contentType } = fields;
  const content = fields.eContent ? der.octets(fields.eContent) : undefined;
  const certificates: Certificate[] = [];
  for (const c of fields.certificates) {
    if (c.tag !== der.Tag.SEQUENCE) continue;
    try {
      certificates.push(peerCertificate(der.raw(c).slice()));
    } catch (e) {
      if (!unreadableCertificate) throw e;
      unreadableCertificate(e);
    }
  }
  const crls = fields.crls.map((c) => der.raw(c).slice());
  const signerInfos = fields.signerInfos.map(readSignerInfo);
  return content ? { contentType, content, certificates, crls, signerInfos } : { contentType, certificates, crls, signerInfos };
}

/**
 * The certificate among `candidates` that a SignerIdentifier (or a RecipientIdentifier, RFC 5652 §5.3, §6.2.1)
 * names: by issuer and serial number, or by subjectKeyIdentifier. A key identifier matches a certificate's SKI
 * extension; a certificate without the extension (a SCEP client's self-signed one, as a rule) is matched by the
 * SHA-1 of its subjectPublicKey (RFC 5280 §4.2.1.2 method 1, what .NET computes for it). The identifier is also read
 * when a client put the extension's whole extnValue in the [0] (an OCTET STRING holding the key identifier,
 * Keyfactor/ejbca-ce#924) instead of the key identifier octets. A serial number is matched byte for byte first, else
 * by value ({@link sameSerialNumber}: .NET wrote a negative serial as its unsigned reading); the issuer Name byte for
 * byte. The identifier is a hint, not a proof: the caller verifies the signature (or opens the envelope) with the key of
 * the certificate found. Undefined when none matches.
 * @group Codec
 */
export function findSigner(sid: SignerIdentifier, candidates: readonly Certificate[]): Certificate | undefined {
  return findNamed(sid, candidates, false) ?? findNamed(sid, candidates, true);
}

/**
 * {@link findSigner}'s match of one kind: with `byValue`, an IssuerAndSerialNumber whose serial is the certificate's by
 * value only (the byte-for-byte pass came first and found none).
 * @internal
 */
export function findNamed(sid: SignerIdentifier, candidates: readonly Certificate[], byValue: boolean): Certificate | undefined {
  if (byValue) {
    if (!("issuer" in sid)) return undefined;
    return candidates.find((c) => der.equalBytes(c.issuerDer, sid.issuer) && sameSerialNumber(c.serialNumber, sid.serialNumber));
  }
  if ("subjectKeyIdentifier" in sid) {
    const ids = keyIdentifierSpellings(sid.subjectKeyIdentifier);
    return candidates.find((c) => {
      const ski = c.subjectKeyIdentifier ?? keyIdentifierOfKey(c);
      return ski !== undefined && ids.some((id) => der.equalBytes(ski, id));
    });
  }
  return candidates.find((c) => der.equalBytes(c.serialNumber, sid.serialNumber) && der.equalBytes(c.issuerDer, sid.issuer));
}

/** INTEGER content octets without the leading bytes two's complement does not need (X.690 §8.3.2): its value, minimally. */
function minimalInteger(octets: Uint8Array): Uint8Array {
  let i = 0;
  while (i < octets.length - 1 && ((octets[i] === 0x00 && octets[i + 1]! < 0x80) || (octets[i] === 0xff && octets[i + 1]! >= 0x80))) i++;
  return octets.subarray(i);
}

/** Octets read as an unsigned big-endian number, without their leading zero bytes. */
function unsignedMagnitude(octets: Uint8Array): Uint8Array {
  let i = 0;
  while (i < octets.length - 1 && octets[i] === 0x00) i++;
  return octets.subarray(i);
}

/**
 * Whether two CertificateSerialNumber contents (RFC 5280 §4.1.2.2, INTEGER content octets) name one serial: the same
 * number (a non-minimal or sign-extended encoding of it included), or the same octets read as an unsigned number (a
 * negative serial `FD 31 …` written `00 FD 31 …`, as .NET's SignedCms and EnvelopedCms did: dotnet/corefx#29691).
 */
function sameSerialNumber(a: Uint8Array, b: Uint8Array): boolean {
  return der.equalBytes(minimalInteger(a), minimalInteger(b)) || der.equalBytes(unsignedMagnitude(a), unsignedMagnitude(b));
}

/** The key identifier octets as sent, and the value inside them when they are one whole DER OCTET STRING. */
function keyIdentifierSpellings(octets: Uint8Array): Uint8Array[] {
  if (octets[0] !== der.Tag.OCTET_STRING) return [octets];
  try {
    const inner = der.parse(octets);
    return inner.tag === der.Tag.OCTET_STRING && inner.end === octets.length ? [octets, der.content(inner)] : [octets];
  } catch {
    return [octets];
  }
}

/** RFC 5280 §4.2.1.2 method (1): the SHA-1 of the subjectPublicKey BIT STRING's value; undefined when it does not read. */
function keyIdentifierOfKey(c: Certificate): Uint8Array | undefined {
  try {
    const [, bits] = der.children(der.parse(c.spki));
    if (bits?.tag !== der.Tag.BIT_STRING) return undefined;
    return nc.digest("sha1", der.content(bits).subarray(1));
  } catch {
    return undefined;
  }
}

/** The digest and signature algorithms of a SignerInfo, by name. @group Codec */
export function signerAlgorithms(si: ParsedSignerInfo): { digest: DigestAlgorithm; signature: SignatureAlgorithm } {
  const digest = digestFromOid(si.digestOid);
  return { digest, signature: readSignatureAlgorithm(si.signatureAlgorithm, digest) };
}

/**
 * Verifies a SignerInfo: the messageDigest attribute against `content`, then
 * the signature over the signed attributes with `signer`'s public key
 * (`algorithms`: {@link signerAlgorithms} of `si`, when the caller has them already).
 * Returns the messageDigest attribute's value, now known to be the digest of `content` (bytes, under
 * `algorithms.digest`). Throws `MessageMalformedError` (ERR_MESSAGE_MALFORMED), `DigestMismatchError`
 * (ERR_DIGEST_MISMATCH) or `SignatureInvalidError` (ERR_SIGNATURE_INVALID). RFC 5652 §5.4, §11.2.
 * @group Codec
 */
export function verifySignerInfo(
  si: ParsedSignerInfo,
  signer: Certificate,
  content: Uint8Array,
  algorithms: { digest: DigestAlgorithm; signature: SignatureAlgorithm } = signerAlgorithms(si),
): Uint8Array {
  const { digest, signature } = algorithms;
  if (!si.signedAttrs) throw new MessageMalformedError("SignerInfo without signed attributes");
  const md = si.attributes.get(oids.id_messageDigest);
  if (!md || md.length !== 1) throw new MessageMalformedError("SignerInfo without a messageDigest attribute");
  const expected = der.octets(der.expectTag(md[0], der.Tag.OCTET_STRING, "messageDigest"));
  if (!der.equalBytes(expected, nc.digest(digest, content))) throw new DigestMismatchError("messageDigest does not match the content");
  const key = publicKeyOf(signer);
  // The signature covers the attributes' SET OF encoding (RFC 5652 §5.4): checked on a re-tagged copy, never in place.
  if (!der.withRetagged(si.signedAttrs, der.Tag.SET, (covered) => nc.verify(key, signature, covered, si.signature))) {
    throw new SignatureInvalidError("the SignedData signature does not verify");
  }
  return expected;
}

/** Encodes one Attribute with a single value. @group Codec */
export function attribute(type: string, value: der.Der): der.Der {
  return der.seq(der.oid(type), der.tlv(der.Tag.SET, value));
}

/** Options of {@link buildSignedData}. @group Codec */
export interface BuildSignedDataOptions {
  /**
   * eContent (id-data): bytes, or an encoding under construction (hashed from a reused buffer, then written into the
   * SignedData); none if undefined.
   */
  content?: der.Der;
  /** Certificates to include, DER. */
  certificates?: readonly Uint8Array[];
  /** CRLs to include, DER. */
  crls?: readonly Uint8Array[];
  /** The signer; omit for a degenerate (certs-only) SignedData. */
  signer?: Signer;
  /** Digest algorithm. */
  digest?: DigestAlgorithm;
  /** Signature algorithm (default RSA PKCS#1 v1.5 with the `rsaEncryption` OID, or ECDSA for EC keys). */
  signatureAlgorithm?: SignatureAlgorithm;
  /** Signed attributes besides contentType and messageDigest, encoded. */
  attributes?: readonly der.Der[];
}

// No bytes: an absent field, or empty content to digest (the writer only reads it).
const EMPTY = new Uint8Array();

/** Writes a ContentInfo holding SignedData, DER. @group Codec */
export async function buildSignedData(options: BuildSignedDataOptions): Promise<Uint8Array> {
  const { content, signer } = options;
  if (!signer) return der.encode(degenerateSignedData(options));
  const digest = options.digest ?? "sha256";
  const sigAlg = options.signatureAlgorithm ?? { scheme: "rsa-pkcs1", digest, rsaOid: "rsaEncryption" };
  const digestAlg = der.algId(DIGEST_OID[digest], der.NULL);
  const attrs = [
    attribute(oids.id_contentType, der.oid(oids.id_data)),
    attribute(oids.id_messageDigest, der.octetString(der.withEncoding(content ?? EMPTY, (bytes) => nc.digest(digest, bytes)))),
    ...(options.attributes ?? []),
  ];
  const signedAttrs = der.setOfEncoded(attrs);
  const signature = await signer.sign(signedAttrs, sigAlg);
  const si = der.seq(
    der.int(1),
    signer.certificate.issuerAndSerialNumber(),
    digestAlg,
    der.tlv(0xa0, der.contentOf(signedAttrs)), // [0] IMPLICIT: the same content octets
    signatureAlgorithmIdentifier(sigAlg),
    der.octetString(signature),
  );
  const certificates = certificateSet(options.certificates);
  const sd = der.seq(der.int(1), der.tlv(der.Tag.SET, digestAlg), encapContentInfo(content), certificates, crlSet(options.crls), der.tlv(der.Tag.SET, si));
  return der.encode(der.seq(der.oid(oids.id_signedData), der.ctx(0, sd)));
}

/**
 * {@link buildSignedData} without a signer, synchronously and not yet written: the ContentInfo of a degenerate
 * SignedData (RFC 8894 §3.4: no SignerInfo) carrying `certificates` and `crls` (DER) and `content` as its eContent
 * when given; `der.encode` gives its DER.
 * @internal
 */
export function degenerateSignedData(options: Pick<BuildSignedDataOptions, "content" | "certificates" | "crls">): der.DerElement {
  const certificates = certificateSet(options.certificates);
  const sd = der.seq(der.int(1), der.tlv(der.Tag.SET), encapContentInfo(options.content), certificates, crlSet(options.crls), der.tlv(der.Tag.SET));
  return der.seq(der.oid(oids.id_signedData), der.ctx(0, sd));
}

/** `EncapsulatedContentInfo` of id-data, with `content` as its eContent when given. */
function encapContentInfo(content: der.Der | undefined): der.Der {
  return content ? der.seq(der.oid(oids.id_data), der.ctx(0, der.octetString(content))) : der.seq(der.oid(oids.id_data));
}

/** `certificates [0] IMPLICIT CertificateSet`, or nothing when there are none. */
function certificateSet(certificates: readonly Uint8Array[] | undefined): der.Der {
  return certificates && certificates.length > 0 ? der.ctx(0, ...certificates) : EMPTY;
}

/** `crls [1] IMPLICIT RevocationInfoChoices`, or nothing when there are none. */
function crlSet(crls: readonly Uint8Array[] | undefined): der.Der {
  return crls && crls.length > 0 ? der.ctx(1, ...crls) : EMPTY;
}
