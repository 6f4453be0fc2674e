// Builds and signs X.509 v2 CRLs (RFC 5280 §5) from @peculiar/asn1-x509's
// schemas, signed through the CA's Signer (so a key in an HSM would work the
// same way); and the CRL distribution point extension (RFC 5280 §4.2.1.13)
// issued certificates may carry. No file system, no clock: times are inputs.
import "reflect-metadata";
import { AsnConvert, OctetString } from "@peculiar/asn1-schema";
import {
  AlgorithmIdentifier,
  AuthorityKeyIdentifier,
  CRLDistributionPoints,
  CRLReason,
  Certificate as AsnCertificate,
  CertificateList,
  DistributionPoint,
  DistributionPointName,
  Extension,
  GeneralName,
  KeyIdentifier,
  RevokedCertificate as AsnRevokedCertificate,
  SubjectKeyIdentifier,
  TBSCertList,
  Time,
  Version,
  id_ce_authorityKeyIdentifier,
  id_ce_cRLDistributionPoints,
  id_ce_cRLNumber,
  id_ce_cRLReasons,
  id_ce_subjectKeyIdentifier,
} from "@peculiar/asn1-x509";
import { createHash } from "node:crypto";
import { MAX_CRL_NUMBER, REVOCATION_REASONS, serialNumberOctets, type RevokedCertificate, type SignatureAlgorithm, type Signer } from "@scep/core";
import { EmbeddedCaError } from "./errors.js";

/** What signing a CRL needs to know about the CA. */
export interface CrlIssuer {
  /** The CA certificate, DER (issuer name and key identifier come from it). */
  readonly certificateDer: Uint8Array;
  /** Signs the TBSCertList. */
  readonly signer: Signer;
  readonly signatureAlgorithm: SignatureAlgorithm;
}

/** Inputs of {@link signCrl}. */
export interface CrlContents {
  /** The revoked certificates, in the order they go on the list. */
  revoked: readonly RevokedCertificate[];
  /** cRLNumber (RFC 5280 §5.2.3): larger than every earlier CRL's of this CA. */
  crlNumber: bigint;
  thisUpdate: Date;
  nextUpdate: Date;
}

// Signature AlgorithmIdentifiers (RFC 4055 §5 / RFC 5758 §3.2): RSA with NULL parameters, ECDSA without.
const RSA_PKCS1: Record<string, string> = { sha256: "1.2.840.113549.1.1.11", sha384: "1.2.840.113549.1.1.12", sha512: "1.2.840.113549.1.1.13" };
const ECDSA: Record<string, string> = { sha256: "1.2.840.10045.4.3.2", sha384: "1.2.840.10045.4.3.3", sha512: "1.2.840.10045.4.3.4" };

function algorithmIdentifier(alg: SignatureAlgorithm): AlgorithmIdentifier {
  const rsa = alg.scheme === "rsa-pkcs1" ? RSA_PKCS1[alg.digest] : undefined;
  if (rsa) return new AlgorithmIdentifier({ algorithm: rsa, parameters: null });
  const ec = alg.scheme === "ecdsa" ? ECDSA[alg.digest] : undefined;
  if (ec) return new AlgorithmIdentifier({ algorithm: ec });
  throw new EmbeddedCaError("INVALID_OPTIONS", `cannot sign a CRL with ${alg.scheme}/${alg.digest}`);
}

function extension(extnID: string, value: unknown, critical = false): Extension {
  return new Extension({ extnID, critical, extnValue: new OctetString(AsnConvert.serialize(value)) });
}

/** The CA's key identifier: its subjectKeyIdentifier, else the SHA-1 of its public key (RFC 5280 §4.2.1.2 method 1). */
function keyIdentifier(ca: AsnCertificate): ArrayBuffer {
  const ski = ca.tbsCertificate.extensions?.find((e) => e.extnID === id_ce_subjectKeyIdentifier);
  if (ski) return AsnConvert.parse(ski.extnValue.buffer, SubjectKeyIdentifier).buffer;
  const digest = createHash("sha1").update(new Uint8Array(ca.tbsCertificate.subjectPublicKeyInfo.subjectPublicKey)).digest();
  return digest.buffer.slice(digest.byteOffset, digest.byteOffset + digest.byteLength);
}

/** A store's serial (normalizeSerialNumber's spelling: `008001`, or `-7fff` for a negative one) → the INTEGER's DER content octets. */
function serialOctets(serial: string): ArrayBuffer {
  const bytes = serialNumberOctets(serial);
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}

/**
 * The cRLNumber extension's value (RFC 5280 §5.2.3), DER: the number as an INTEGER of minimal two's-complement
 * content octets (X.690 §8.3.2; a `00` in front of a first octet of 0x80 or more, so it stays positive). From the
 * bigint itself, so every number up to 2^159 - 1 (20 content octets, 22 bytes of DER) is exact.
 *
 * ```asn
 * CRLNumber ::= INTEGER (0..MAX)
 * ```
 */
function crlNumberValue(crlNumber: bigint): ArrayBuffer {
  const content = serialNumberOctets(crlNumber.toString(16)); // minimal content octets of a non-negative INTEGER
  const der = new Uint8Array(2 + content.length); // at most 20 octets: a short-form length
  der[0] = 0x02;
  der[1] = content.length;
  der.set(content, 2);
  return der.buffer;
}

/**
 * Signs a CRL (RFC 5280 §5.1), DER:
 *
 * ```asn
 * CertificateList ::= SEQUENCE { tbsCertList TBSCertList, signatureAlgorithm AlgorithmIdentifier, signatureValue BIT STRING }
 * TBSCertList ::= SEQUENCE {
 *   version Version OPTIONAL, -- v2
 *   signature AlgorithmIdentifier, issuer Name, thisUpdate Time, nextUpdate Time OPTIONAL,
 *   revokedCertificates SEQUENCE OF SEQUENCE {
 *     userCertificate CertificateSerialNumber, revocationDate Time, crlEntryExtensions Extensions OPTIONAL } OPTIONAL,
 *   crlExtensions [0] EXPLICIT Extensions OPTIONAL }
 * ```
 *
 * Version 2; issuer is the CA certificate's subject, byte for byte; times
 * are UTCTime up to 2049 and GeneralizedTime after (§5.1.2.4); the CRL
 * extensions are authorityKeyIdentifier (§5.2.1) and cRLNumber (§5.2.3),
 * both non-critical; an entry carries reasonCode (§5.3.1) unless the reason
 * is `unspecified` (which §5.3.1 asks to leave out). An empty list omits
 * `revokedCertificates`, as §5.1.2.6 requires.
 *
 * The CRL number may be anything from 1 to 2^159 - 1 (`MAX_CRL_NUMBER`, RFC 5280 §5.2.3's 20 octets): every number
 * a RevocationStore hands out.
 *
 * @throws EmbeddedCaError `INVALID_OPTIONS` for a signature algorithm other than RSA PKCS#1 or ECDSA with SHA-2, or a
 * CRL number that is not a bigint from 1 to 2^159 - 1.
 */
export async function signCrl(issuer: CrlIssuer, contents: CrlContents): Promise<Uint8Array<ArrayBuffer>> {
  if (typeof contents.crlNumber !== "bigint" || contents.crlNumber < 1n || contents.crlNumber > MAX_CRL_NUMBER) {
    throw new EmbeddedCaError("INVALID_OPTIONS", `the CRL number must be a bigint from 1 to 2^159 - 1 (RFC 5280 §5.2.3: 20 octets), got ${String(contents.crlNumber)}`);
  }
  const ca = AsnConvert.parse(issuer.certificateDer, AsnCertificate);
  const signature = algorithmIdentifier(issuer.signatureAlgorithm);
  const tbs = new TBSCertList({
    version: Version.v2,
    signature,
    issuer: ca.tbsCertificate.subject,
    thisUpdate: new Time(contents.thisUpdate),
    nextUpdate: new Time(contents.nextUpdate),
    ...(contents.revoked.length > 0
      ? {
          revokedCertificates: contents.revoked.map(
            (r) =>
              new AsnRevokedCertificate({
                userCertificate: serialOctets(r.serialNumber),
                revocationDate: new Time(r.revokedAt),
                ...(r.reason === "unspecified" ? {} : { crlEntryExtensions: [extension(id_ce_cRLReasons, new CRLReason(REVOCATION_REASONS[r.reason]))] }),
              }),
          ),
        }
      : {}),
    crlExtensions: [
      extension(id_ce_authorityKeyIdentifier, new AuthorityKeyIdentifier({ keyIdentifier: new KeyIdentifier(keyIdentifier(ca)) })),
      new Extension({ extnID: id_ce_cRLNumber, critical: false, extnValue: new OctetString(crlNumberValue(contents.crlNumber)) }),
    ],
  });
  const tbsDer = new Uint8Array(AsnConvert.serialize(tbs));
  const signatureValue = await issuer.signer.sign(tbsDer, issuer.signatureAlgorithm);
  const list = new CertificateList({
    tbsCertList: tbs,
    signatureAlgorithm: signature,
    signature: signatureValue.buffer.slice(signatureValue.byteOffset, signatureValue.byteOffset + signatureValue.byteLength) as ArrayBuffer,
  });
  return new Uint8Array(AsnConvert.serialize(list));
}

/**
 * The cRLDistributionPoints extension value (RFC 5280 §4.2.1.13): one
 * distribution point whose fullName is `url`, DER.
 *
 * ```asn
 * CRLDistributionPoints ::= SEQUENCE SIZE (1..MAX) OF DistributionPoint
 * DistributionPoint ::= SEQUENCE { distributionPoint [0] DistributionPointName OPTIONAL, … }
 * DistributionPointName ::= CHOICE { fullName [0] GeneralNames, … }
 * ```
 */
export function crlDistributionPointsValue(url: string): Uint8Array {
  const points = new CRLDistributionPoints([
    new DistributionPoint({ distributionPoint: new DistributionPointName({ fullName: [new GeneralName({ uniformResourceIdentifier: url })] }) }),
  ]);
  return new Uint8Array(AsnConvert.serialize(points));
}

/** OID of the cRLDistributionPoints extension. */
export const CRL_DISTRIBUTION_POINTS_OID = id_ce_cRLDistributionPoints;
