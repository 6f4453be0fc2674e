// Reads the entries of a CRL this CA published (ca.crl.json's DER), so that a revocation store that lost them (a
// flushed Redis, a data directory switched from Redis to files) gets them back: RFC 5280 §3.3 / §5.3.1, a
// certificate once on a published CRL stays on every later one until it expires (only a delta CRL's removeFromCRL
// takes an entry off, and this CA issues no delta CRLs). A CRL is trusted for that only once its signature verifies
// with the CA's key and its issuer is the CA's subject (RFC 5280 §6.3.3); an entry that does not read is skipped on
// its own, the others still count. Read with @peculiar/asn1-x509's schema classes, each entry parsed separately; the
// signature algorithm by @scep/core's parseSignatureAlgorithm.
import "reflect-metadata";
import { verify, type KeyObject } from "node:crypto";
import * as asn1js from "asn1js";
import { AsnConvert, AsnParser, AsnProp, AsnPropTypes, AsnType, AsnTypeTypes, BitString } from "@peculiar/asn1-schema";
import { AlgorithmIdentifier, CRLReason, Extension, Name, RevokedCertificate as AsnRevokedCertificate, Time, id_ce_cRLNumber, id_ce_cRLReasons } from "@peculiar/asn1-x509";
import {
  REVOCATION_REASONS,
  normalizeSerialNumber,
  parseSignatureAlgorithm,
  sameName,
  type DigestAlgorithm,
  type RevocationReason,
  type RevokedCertificate,
  type SignatureAlgorithm,
} from "@scep/core";

const REASON_NAMES = new Map<number, RevocationReason>(Object.entries(REVOCATION_REASONS).map(([name, code]) => [code, name as RevocationReason]));

/** The digests this CA signs CRLs with, PKCS #1 v1.5 or ECDSA (crl.ts: RFC 4055 §5, RFC 5758 §3.2). */
const CRL_DIGESTS: ReadonlySet<DigestAlgorithm> = new Set(["sha256", "sha384", "sha512"]);

/**
 * Declares `target` a SEQUENCE schema class with `fields` in order, as `@AsnType` / `@AsnProp` decorators would. Plain
 * calls, not decorator syntax: tsx compiles each file with the tsconfig of the program it runs only when the file is
 * in that tsconfig's `include`, so an example server loading this file would compile decorators the TC39 way, which
 * @peculiar/asn1-schema's are not (the server fails at start).
 */
function asnSequence<T extends object>(target: new () => T, fields: { [K in keyof T]?: Parameters<typeof AsnProp>[0] }): void {
  AsnType({ type: AsnTypeTypes.Sequence })(target);
  for (const [key, options] of Object.entries(fields)) AsnProp(options as Parameters<typeof AsnProp>[0])(target.prototype as object, key);
}

/**
 * TBSCertList (RFC 5280 §5.1) as @peculiar/asn1-x509's `TBSCertList`, except that each revokedCertificates entry is kept
 * as its DER and read on its own (as @peculiar's `RevokedCertificate`): there, one entry that does not read (a serial
 * that is not an INTEGER, a revocationDate that is not a Time) fails the whole list. The signature and issuer fields
 * keep their bytes too (`signatureRaw`, `issuerRaw`), to be compared as the CA wrote them.
 *
 * ```asn
 * TBSCertList ::= SEQUENCE { version Version OPTIONAL, signature AlgorithmIdentifier, issuer Name, thisUpdate Time,
 *   nextUpdate Time OPTIONAL,
 *   revokedCertificates SEQUENCE OF SEQUENCE {
 *     userCertificate CertificateSerialNumber, revocationDate Time, crlEntryExtensions Extensions OPTIONAL } OPTIONAL,
 *   crlExtensions [0] EXPLICIT Extensions OPTIONAL }
 * ```
 */
class TbsCertListOfEntries {
  version?: number;
  signature = new AlgorithmIdentifier();
  signatureRaw?: Uint8Array;
  issuer = new Name();
  issuerRaw?: Uint8Array;
  thisUpdate = new Time();
  nextUpdate?: Time;
  /** Each entry's DER (null for an entry that is an ASN.1 NULL). */
  revokedCertificates?: (ArrayBuffer | null)[];
  crlExtensions?: Extension[];
}
asnSequence(TbsCertListOfEntries, {
  version: { type: AsnPropTypes.Integer, optional: true },
  signature: { type: AlgorithmIdentifier, raw: true },
  issuer: { type: Name, raw: true },
  thisUpdate: { type: Time },
  nextUpdate: { type: Time, optional: true },
  revokedCertificates: { type: AsnPropTypes.Any, repeated: "sequence", optional: true },
  crlExtensions: { type: Extension, optional: true, context: 0, repeated: "sequence" },
});

/**
 * CertificateList (RFC 5280 §5.1) over {@link TbsCertListOfEntries}, with the bytes of the signed part and of the
 * signatureAlgorithm field.
 *
 * ```asn
 * CertificateList ::= SEQUENCE { tbsCertList TBSCertList, signatureAlgorithm AlgorithmIdentifier, signatureValue BIT STRING }
 * ```
 */
class CertificateListOfEntries {
  tbsCertList = new TbsCertListOfEntries();
  tbsCertListRaw?: Uint8Array;
  signatureAlgorithm = new AlgorithmIdentifier();
  signatureAlgorithmRaw?: Uint8Array;
  signatureValue = new BitString();
}
asnSequence(CertificateListOfEntries, {
  tbsCertList: { type: TbsCertListOfEntries, raw: true },
  signatureAlgorithm: { type: AlgorithmIdentifier, raw: true },
  signatureValue: { type: BitString },
});

/** One revokedCertificates entry's DER as an entry; undefined when it does not read. */
function readEntry(der: ArrayBuffer): RevokedCertificate | undefined {
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
  /** The outer signatureAlgorithm field, DER. */
  signatureAlgorithmDer: Uint8Array;
  /** Whether tbsCertList's signature field is the outer signatureAlgorithm, byte for byte (RFC 5280 §5.1.1.2). */
  algorithmsAgree: boolean;
  /** signatureValue's bits. */
  signature: Uint8Array;
  /** issuer Name, DER. */
  issuerDer: Uint8Array;
  /** thisUpdate and nextUpdate (RFC 5280 §5.1.2.4, §5.1.2.5). */
  thisUpdate: Date;
  nextUpdate: Date | undefined;
  /** The cRLNumber extension's value (RFC 5280 §5.2.3), undefined when the CRL has none. */
  crlNumber: bigint | undefined;
  /** How many revokedCertificates entries the CRL has, read or not (counted without reading them). */
  count: number;
  /** The entries that read, in the CRL's order (read on first use: a check of the CRL alone never pays for them). */
  readonly entries: RevokedCertificate[];
  /** How many entries did not read (a serial, revocationDate or reasonCode that does not decode); read with `entries`. */
  readonly skipped: number;
}

/**
 * A cRLNumber extension's value, as a bigint (up to 20 octets, RFC 5280 §5.2.3).
 *
 * ```asn
 * CRLNumber ::= INTEGER (0..MAX)
 * ```
 * @throws Error when it is not one INTEGER.
 */
function readCrlNumber(extnValue: ArrayBuffer): bigint {
  const read = asn1js.fromBER(extnValue);
  if (read.offset !== extnValue.byteLength || !(read.result instanceof asn1js.Integer)) throw new Error("its cRLNumber is not an INTEGER");
  return read.result.toBigInt();
}

const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && a.every((x, i) => x === b[i]);

/**
 * Splits a CRL (DER) into its parts with the schema classes above, reading each revokedCertificates entry on its own:
 * serial in `normalizeSerialNumber`'s spelling, the entry's revocationDate, and its reasonCode (`unspecified` when the
 * entry has none, as RFC 5280 §5.3.1 asks for that reason; a code outside RFC 5280's list reads as `unspecified`). An
 * entry that does not read is counted in `skipped`, not returned.
 *
 * ```asn
 * CRLReason ::= ENUMERATED { unspecified (0), keyCompromise (1), … aACompromise (10) }
 * ```
 *
 * @throws Error when the DER is not a CRL outside its entries (callers read CRLs this CA signed).
 */
export function readCrlParts(der: Uint8Array): CrlParts {
  // asn1js stops at 10 000 nodes and 16 MiB by default: a CRL of ~1 250 entries with a reasonCode passes that. Bound
  // by the input instead (a node takes at least 2 bytes; an embedded one re-reads bytes of its OCTET STRING once).
  const outline = asn1js.fromBER(der, { maxNodes: der.length + 1, maxContentLength: der.length + 1 });
  if (outline.offset === -1) throw new Error(outline.result.error || "not BER");
  if (outline.offset !== der.length) throw new Error(`${der.length - outline.offset} bytes after the CertificateList`);
  // The schema reads the fields it knows and passes over any after them; a CertificateList has exactly three.
  if (!(outline.result instanceof asn1js.Sequence) || outline.result.valueBlock.value.length !== 3) throw new Error("not a CertificateList");
  const list = AsnParser.fromASN(outline.result, CertificateListOfEntries);
  const tbs = list.tbsCertList;
  if (!list.tbsCertListRaw || !list.signatureAlgorithmRaw || !tbs.signatureRaw || !tbs.issuerRaw) throw new Error("not a CertificateList");
  if (list.signatureValue.unusedBits !== 0) throw new Error("signatureValue has unused bits");
  const listed = tbs.revokedCertificates ?? [];
  let read: { entries: RevokedCertificate[]; skipped: number } | undefined;
  const readEntries = (): { entries: RevokedCertificate[]; skipped: number } => {
    if (read) return read;
    const entries: RevokedCertificate[] = [];
    let skipped = 0;
    for (const entryDer of listed) {
      const entry = entryDer ? readEntry(entryDer) : undefined;
      if (entry) entries.push(entry);
      else skipped += 1;
    }
    return (read = { entries, skipped });
  };
  const crlNumber = tbs.crlExtensions?.find((e) => e.extnID === id_ce_cRLNumber);
  return {
    tbsDer: list.tbsCertListRaw,
    signatureAlgorithm: list.signatureAlgorithm.algorithm,
    signatureAlgorithmDer: list.signatureAlgorithmRaw,
    algorithmsAgree: sameBytes(tbs.signatureRaw, list.signatureAlgorithmRaw),
    signature: new Uint8Array(list.signatureValue.value),
    issuerDer: tbs.issuerRaw,
    thisUpdate: tbs.thisUpdate.getTime(),
    nextUpdate: tbs.nextUpdate?.getTime(),
    crlNumber: crlNumber ? readCrlNumber(crlNumber.extnValue.buffer) : undefined,
    count: listed.length,
    get entries() {
      return readEntries().entries;
    },
    get skipped() {
      return readEntries().skipped;
    },
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
  if (!parts.algorithmsAgree) return "its signatureAlgorithm is not its tbsCertList's signature field (RFC 5280 §5.1.1.2)";
  let algorithm: SignatureAlgorithm | undefined;
  try {
    algorithm = parseSignatureAlgorithm(parts.signatureAlgorithmDer);
  } catch {
    algorithm = undefined; // ERR_ASN1 or ERR_UNSUPPORTED_ALGORITHM: not one this CA signs with either way
  }
  if (!algorithm || algorithm.scheme === "rsa-pss" || !CRL_DIGESTS.has(algorithm.digest)) {
    return `its signature algorithm ${parts.signatureAlgorithm} is not one this CA signs with`;
  }
  let valid: boolean;
  try {
    valid = verify(algorithm.digest, parts.tbsDer, ca.publicKey, parts.signature);
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
