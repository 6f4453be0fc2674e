// Reads the entries of a CRL this CA published (ca.crl.json's DER), so that a revocation store that lost them (a
// flushed Redis, a data directory switched from Redis to files) gets them back: RFC 5280 §3.3 / §5.3.1, a
// certificate once on a published CRL stays on every later one until it expires (only a delta CRL's removeFromCRL
// takes an entry off, and this CA issues no delta CRLs). A CRL is trusted for that only once its signature verifies
// with the CA's key and its issuer is the CA's subject (RFC 5280 §6.3.3); an entry that does not read is skipped on
// its own, the others still count.
import "reflect-metadata";
import { verify, type KeyObject } from "node:crypto";
import { AsnConvert } from "@peculiar/asn1-schema";
import { AlgorithmIdentifier, CRLReason, RevokedCertificate as AsnRevokedCertificate, id_ce_cRLReasons } from "@peculiar/asn1-x509";
import { REVOCATION_REASONS, normalizeSerialNumber, sameName, type RevocationReason, type RevokedCertificate } from "@scep/core";

const REASON_NAMES = new Map<number, RevocationReason>(Object.entries(REVOCATION_REASONS).map(([name, code]) => [code, name as RevocationReason]));

/** The digest of each signature algorithm this CA signs CRLs with (crl.ts: RFC 4055 §5, RFC 5758 §3.2). */
const SIGNATURE_DIGESTS = new Map<string, string>([
  ["1.2.840.113549.1.1.11", "sha256"], // sha256WithRSAEncryption
  ["1.2.840.113549.1.1.12", "sha384"], // sha384WithRSAEncryption
  ["1.2.840.113549.1.1.13", "sha512"], // sha512WithRSAEncryption
  ["1.2.840.10045.4.3.2", "sha256"], // ecdsa-with-SHA256
  ["1.2.840.10045.4.3.3", "sha384"], // ecdsa-with-SHA384
  ["1.2.840.10045.4.3.4", "sha512"], // ecdsa-with-SHA512
]);

/** A DER TLV inside a buffer: tag byte, where its contents start and where it ends. */
interface Tlv {
  tag: number;
  start: number;
  contentStart: number;
  end: number;
}

/** The TLV at `at` (definite lengths only: this CA writes DER), which must end by `limit`. @throws Error when it does not. */
function tlvAt(der: Uint8Array, at: number, limit: number): Tlv {
  if (at + 2 > limit) throw new Error(`truncated TLV at ${at}`);
  const tag = der[at]!;
  if ((tag & 0x1f) === 0x1f) throw new Error(`multi-byte tag at ${at}`);
  let length = der[at + 1]!;
  let contentStart = at + 2;
  if (length & 0x80) {
    const octets = length & 0x7f;
    if (octets === 0 || octets > 4 || contentStart + octets > limit) throw new Error(`bad length at ${at}`);
    length = 0;
    for (let i = 0; i < octets; i += 1) length = length * 256 + der[contentStart + i]!;
    contentStart += octets;
  }
  const end = contentStart + length;
  if (end > limit) throw new Error(`TLV at ${at} runs past its container`);
  return { tag, start: at, contentStart, end };
}

/** The TLVs inside a constructed TLV, in order. @throws Error when one does not fit. */
function childrenOf(der: Uint8Array, parent: Tlv): Tlv[] {
  const out: Tlv[] = [];
  for (let at = parent.contentStart; at < parent.end; ) {
    const child = tlvAt(der, at, parent.end);
    out.push(child);
    at = child.end;
  }
  return out;
}

/** One revokedCertificates entry's DER as an entry; undefined when it does not read. */
function readEntry(der: Uint8Array): RevokedCertificate | undefined {
  try {
    const entry = AsnConvert.parse(der, AsnRevokedCertificate);
    const reasonExtension = entry.crlEntryExtensions?.find((e) => e.extnID === id_ce_cRLReasons);
    const code = reasonExtension ? AsnConvert.parse(reasonExtension.extnValue.buffer, CRLReason).reason : REVOCATION_REASONS.unspecified;
    const revokedAt = entry.revocationDate.getTime();
    if (Number.isNaN(revokedAt.getTime())) return undefined;
    return { serialNumber: normalizeSerialNumber(new Uint8Array(entry.userCertificate)), reason: REASON_NAMES.get(code) ?? "unspecified", revokedAt };
  } catch {
    return undefined;
  }
}

/** A CRL's parts: what is signed, by which algorithm, who issued it, and its entries. */
export interface CrlParts {
  /** tbsCertList, DER: the signed bytes. */
  tbsDer: Uint8Array;
  /** The outer signatureAlgorithm's OID. */
  signatureAlgorithm: string;
  /** Whether tbsCertList's signature field is the outer signatureAlgorithm, byte for byte (RFC 5280 §5.1.1.2). */
  algorithmsAgree: boolean;
  /** signatureValue's bits. */
  signature: Uint8Array;
  /** issuer Name, DER. */
  issuerDer: Uint8Array;
  /** The entries that read, in the CRL's order. */
  entries: RevokedCertificate[];
  /** How many entries did not read (a serial, revocationDate or reasonCode that does not decode). */
  skipped: number;
}

/**
 * Splits a DER CRL into its parts, reading each revokedCertificates entry on its own: serial in
 * `normalizeSerialNumber`'s spelling, the entry's revocationDate, and its reasonCode (`unspecified` when the entry has
 * none, as RFC 5280 §5.3.1 asks for that reason; a code outside RFC 5280's list reads as `unspecified`). An entry that
 * does not read is counted in `skipped`, not returned.
 *
 * ```asn
 * CertificateList ::= SEQUENCE { tbsCertList TBSCertList, signatureAlgorithm AlgorithmIdentifier, signatureValue BIT STRING }
 * TBSCertList ::= SEQUENCE { version Version OPTIONAL, signature AlgorithmIdentifier, issuer Name, thisUpdate Time,
 *   nextUpdate Time OPTIONAL,
 *   revokedCertificates SEQUENCE OF SEQUENCE {
 *     userCertificate CertificateSerialNumber, revocationDate Time, crlEntryExtensions Extensions OPTIONAL } OPTIONAL,
 *   crlExtensions [0] EXPLICIT Extensions OPTIONAL }
 * CRLReason ::= ENUMERATED { unspecified (0), keyCompromise (1), … aACompromise (10) }
 * ```
 *
 * @throws Error when the DER is not a CRL outside its entries (callers read CRLs this CA signed).
 */
export function readCrlParts(der: Uint8Array): CrlParts {
  const outer = tlvAt(der, 0, der.length);
  if (outer.tag !== 0x30 || outer.end !== der.length) throw new Error("not a SEQUENCE");
  const [tbs, algorithm, signature, ...rest] = childrenOf(der, outer);
  if (!tbs || !algorithm || !signature || rest.length > 0 || tbs.tag !== 0x30 || algorithm.tag !== 0x30 || signature.tag !== 0x03) {
    throw new Error("not a CertificateList");
  }
  if (der[signature.contentStart] !== 0) throw new Error("signatureValue has unused bits");
  const fields = childrenOf(der, tbs);
  let i = fields[0]?.tag === 0x02 ? 1 : 0; // version
  const tbsAlgorithm = fields[i++];
  const issuer = fields[i++];
  const thisUpdate = fields[i++];
  if (tbsAlgorithm?.tag !== 0x30 || issuer?.tag !== 0x30 || (thisUpdate?.tag !== 0x17 && thisUpdate?.tag !== 0x18)) throw new Error("not a TBSCertList");
  if (fields[i]?.tag === 0x17 || fields[i]?.tag === 0x18) i += 1; // nextUpdate
  const revoked = fields[i]?.tag === 0x30 ? fields[i] : undefined;
  const entries: RevokedCertificate[] = [];
  let skipped = 0;
  if (revoked) {
    for (const child of childrenOf(der, revoked)) {
      const entry = child.tag === 0x30 ? readEntry(der.subarray(child.start, child.end)) : undefined;
      if (entry) entries.push(entry);
      else skipped += 1;
    }
  }
  const slice = (t: Tlv): Uint8Array => der.subarray(t.start, t.end);
  return {
    tbsDer: slice(tbs),
    signatureAlgorithm: AsnConvert.parse(slice(algorithm), AlgorithmIdentifier).algorithm,
    algorithmsAgree: Buffer.from(slice(tbsAlgorithm)).equals(slice(algorithm)),
    signature: der.subarray(signature.contentStart + 1, signature.end),
    issuerDer: slice(issuer),
    entries,
    skipped,
  };
}

/**
 * Why a CRL's parts cannot be trusted as the CA's (RFC 5280 §6.3.3: the issuer is the CA's subject and the signature
 * verifies with its key, by a signature algorithm this CA signs CRLs with), or undefined when they can.
 * @param ca - the CA certificate's subject Name (DER) and public key.
 */
export function crlUntrustedReason(parts: CrlParts, ca: { subjectDer: Uint8Array; publicKey: KeyObject }): string | undefined {
  let issuerMatches: boolean;
  try {
    issuerMatches = sameName(parts.issuerDer, ca.subjectDer);
  } catch {
    issuerMatches = false;
  }
  if (!issuerMatches) return "its issuer is not the CA's subject";
  const digest = SIGNATURE_DIGESTS.get(parts.signatureAlgorithm);
  if (!digest) return `its signature algorithm ${parts.signatureAlgorithm} is not one this CA signs with`;
  if (!parts.algorithmsAgree) return "its two signature algorithm fields differ";
  let valid: boolean;
  try {
    valid = verify(digest, parts.tbsDer, ca.publicKey, parts.signature);
  } catch {
    valid = false;
  }
  return valid ? undefined : "its signature does not verify with the CA's key";
}

/**
 * The revoked certificates a DER CRL lists, in its order (see {@link readCrlParts}).
 * @throws Error when the DER is not a CRL, or an entry does not read.
 */
export function readCrlEntries(der: Uint8Array): RevokedCertificate[] {
  const parts = readCrlParts(der);
  if (parts.skipped > 0) throw new Error(`${parts.skipped} CRL entries do not read`);
  return parts.entries;
}
