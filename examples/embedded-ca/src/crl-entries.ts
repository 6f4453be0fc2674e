// Reads the entries of a CRL this CA published (ca.crl.json's DER), so that a revocation store that lost them (a
// flushed Redis, a data directory switched from Redis to files) gets them back: RFC 5280 §3.3 / §5.3.1, a
// certificate once on a published CRL stays on every later one until it expires (only a delta CRL's removeFromCRL
// takes an entry off, and this CA issues no delta CRLs).
import "reflect-metadata";
import { AsnConvert } from "@peculiar/asn1-schema";
import { CRLReason, CertificateList, id_ce_cRLReasons } from "@peculiar/asn1-x509";
import { REVOCATION_REASONS, normalizeSerialNumber, type RevocationReason, type RevokedCertificate } from "@scep/core";

const REASON_NAMES = new Map<number, RevocationReason>(Object.entries(REVOCATION_REASONS).map(([name, code]) => [code, name as RevocationReason]));

/**
 * The revoked certificates a DER CRL lists, in its order: serial in `normalizeSerialNumber`'s spelling, the entry's
 * revocationDate, and its reasonCode (`unspecified` when the entry has none, as RFC 5280 §5.3.1 asks for that reason).
 *
 * ```asn
 * revokedCertificates SEQUENCE OF SEQUENCE {
 *   userCertificate CertificateSerialNumber, revocationDate Time, crlEntryExtensions Extensions OPTIONAL } OPTIONAL
 * CRLReason ::= ENUMERATED { unspecified (0), keyCompromise (1), … aACompromise (10) }
 * ```
 *
 * @throws Error when the DER is not a CRL (callers read CRLs this CA signed; a reason code outside RFC 5280's list
 * reads as `unspecified`).
 */
export function readCrlEntries(der: Uint8Array): RevokedCertificate[] {
  const list = AsnConvert.parse(der, CertificateList);
  return (list.tbsCertList.revokedCertificates ?? []).map((entry) => {
    const reasonExtension = entry.crlEntryExtensions?.find((e) => e.extnID === id_ce_cRLReasons);
    const code = reasonExtension ? AsnConvert.parse(reasonExtension.extnValue.buffer, CRLReason).reason : REVOCATION_REASONS.unspecified;
    return {
      serialNumber: normalizeSerialNumber(new Uint8Array(entry.userCertificate)),
      reason: REASON_NAMES.get(code) ?? "unspecified",
      revokedAt: entry.revocationDate.getTime(),
    };
  });
}
