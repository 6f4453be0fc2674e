// What makes an upstream's 2xx answer one no SCEP client can use, checked before the proxy passes it on: the proxy
// forwards a CA's bytes unchanged, but an answer with nothing in it is the CA's (or a gateway's) failure, not a reply
// the device should try to parse (RFC 8894 §3.3.2, §4.2).

/** `1.2.840.113549.1.7.2` (id-signedData, RFC 5652 §5.1): the DER content bytes of the OID. */
const ID_SIGNED_DATA = [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02];

interface Tlv {
  tag: number;
  /** Offset of the content. */
  start: number;
  /** Offset just past the content. */
  end: number;
}

/** One DER TLV at `offset` (low tag numbers, definite lengths of up to 4 bytes), or undefined when it is not one. */
function tlv(bytes: Uint8Array, offset: number, limit: number): Tlv | undefined {
  if (offset + 2 > limit) return undefined;
  const tag = bytes[offset]!;
  if ((tag & 0x1f) === 0x1f) return undefined; // high tag number: not in a ContentInfo
  let length = bytes[offset + 1]!;
  let start = offset + 2;
  if (length & 0x80) {
    const n = length & 0x7f;
    if (n === 0 || n > 4 || start + n > limit) return undefined; // indefinite (BER) or too long: cannot tell
    length = 0;
    for (let i = 0; i < n; i++) length = length * 256 + bytes[start + i]!;
    start += n;
  }
  const end = start + length;
  return end <= limit ? { tag, start, end } : undefined;
}

/**
 * Whether a GetCACert body is a PKCS#7 SignedData that holds no certificate (RFC 8894 §4.2.1.2: the degenerate
 * certificates-only SignedData of `application/x-x509-ca-ra-cert` carries the CA and RA certificates; one without
 * any gives the device nothing to encrypt to or verify with).
 *
 * ```asn
 * ContentInfo ::= SEQUENCE { contentType ContentType, content [0] EXPLICIT ANY DEFINED BY contentType }
 * SignedData ::= SEQUENCE {
 *   version CMSVersion, digestAlgorithms DigestAlgorithmIdentifiers, encapContentInfo EncapsulatedContentInfo,
 *   certificates [0] IMPLICIT CertificateSet OPTIONAL, crls [1] IMPLICIT RevocationInfoChoices OPTIONAL,
 *   signerInfos SignerInfos }
 * ```
 *
 * True only for a body read as exactly that (certificates absent, or an empty SET); false for anything else,
 * a single certificate, a SignedData with certificates, and bytes it cannot read (BER indefinite lengths included):
 * those are passed on unchanged.
 */
export function isSignedDataWithoutCertificates(bytes: Uint8Array): boolean {
  const outer = tlv(bytes, 0, bytes.length);
  if (!outer || outer.tag !== 0x30) return false;
  const oid = tlv(bytes, outer.start, outer.end);
  if (!oid || oid.tag !== 0x06 || oid.end - oid.start !== ID_SIGNED_DATA.length) return false;
  if (!ID_SIGNED_DATA.every((b, i) => bytes[oid.start + i] === b)) return false;
  const explicit = tlv(bytes, oid.end, outer.end);
  if (!explicit || explicit.tag !== 0xa0) return false;
  const signedData = tlv(bytes, explicit.start, explicit.end);
  if (!signedData || signedData.tag !== 0x30) return false;
  // version INTEGER, digestAlgorithms SET, encapContentInfo SEQUENCE, then certificates [0] when present.
  let at = signedData.start;
  for (const expected of [0x02, 0x31, 0x30]) {
    const field = tlv(bytes, at, signedData.end);
    if (!field || field.tag !== expected) return false;
    at = field.end;
  }
  const next = tlv(bytes, at, signedData.end);
  if (!next) return false;
  if (next.tag !== 0xa0) return true; // no certificates field: crls [1] or signerInfos SET follow
  return next.end === next.start; // an empty certificate set
}

/**
 * Why a 2xx answer of the upstream to `operation` is unusable, or undefined when it may be passed on: an empty body
 * to a PKIOperation (no CertRep) or a GetCACert (no certificate), or a GetCACert that is a PKCS#7 without
 * certificates ({@link isSignedDataWithoutCertificates}). GetCACaps may be empty (a CA without capabilities, RFC
 * 8894 §3.5.2).
 */
export function unusableAnswer(operation: string | undefined, body: Uint8Array): string | undefined {
  if (operation !== "PKIOperation" && operation !== "GetCACert") return undefined;
  if (body.byteLength === 0) return `upstream answered ${operation} with an empty body`;
  if (operation === "GetCACert" && isSignedDataWithoutCertificates(body)) return "upstream answered GetCACert with a PKCS#7 that holds no certificate";
  return undefined;
}
