// Whether a CRL read from ca.crl.json is this CA's, before any process serves it, copies it to ca.crl or restores
// entries from it: RFC 5280 §6.3.3, its issuer is the CA's subject and its signature verifies with the CA's key; and
// what ca.crl.json says about it (number, times, count: what the CA caches and numbers by) is what the signed CRL
// says, so an old CRL of this CA cannot be passed off as a newer one (RFC 5280 §5.2.3) by editing the JSON.
import "reflect-metadata";
import type { KeyObject } from "node:crypto";
import { AsnConvert } from "@peculiar/asn1-schema";
import { CRLNumber, TBSCertList, id_ce_cRLNumber } from "@peculiar/asn1-x509";
import { crlUntrustedReason, readCrlParts, type CrlParts } from "./crl-entries.js";
import type { SignedCrl } from "./open-file-ca.js";

/** The CA certificate's subject Name (DER) and public key, which a published CRL must name and verify with. */
export interface CrlTrustAnchor {
  subjectDer: Uint8Array;
  publicKey: KeyObject;
}

/**
 * What the signed TBSCertList states (RFC 5280 §5.1.2.4–5, §5.2.3):
 *
 * ```asn
 * TBSCertList ::= SEQUENCE { version Version OPTIONAL, signature AlgorithmIdentifier, issuer Name,
 *   thisUpdate Time, nextUpdate Time OPTIONAL, revokedCertificates SEQUENCE OF … OPTIONAL,
 *   crlExtensions [0] EXPLICIT Extensions OPTIONAL }
 * CRLNumber ::= INTEGER (0..MAX)
 * ```
 */
function statedBy(tbsDer: Uint8Array): { crlNumber: bigint | undefined; thisUpdate: number; nextUpdate: number | undefined; count: number } {
  const tbs = AsnConvert.parse(tbsDer, TBSCertList);
  const extension = tbs.crlExtensions?.find((e) => e.extnID === id_ce_cRLNumber);
  return {
    crlNumber: extension ? BigInt(AsnConvert.parse(extension.extnValue.buffer, CRLNumber).value) : undefined,
    thisUpdate: tbs.thisUpdate.getTime().getTime(),
    nextUpdate: tbs.nextUpdate?.getTime().getTime(),
    count: tbs.revokedCertificates?.length ?? 0,
  };
}

/**
 * Checks the CRL `signed` (as ca.crl.json states it) against the CA: issuer and signature (RFC 5280 §6.3.3, see
 * crlUntrustedReason), then the CRL's own cRLNumber, thisUpdate, nextUpdate and entry count against what the JSON
 * states. Never throws.
 * @returns `{ parts }` (its entries, read once) when it is the CA's CRL as stated; `{ untrusted }`, one line saying why, when not
 */
export function checkPublishedCrl(signed: SignedCrl, ca: CrlTrustAnchor): { parts: CrlParts } | { untrusted: string } {
  let parts: CrlParts;
  try {
    parts = readCrlParts(signed.der);
  } catch (error) {
    return { untrusted: `it does not parse as a CRL (${(error as Error).message})` };
  }
  const reason = crlUntrustedReason(parts, ca);
  if (reason !== undefined) return { untrusted: reason };
  let stated: ReturnType<typeof statedBy>;
  try {
    stated = statedBy(parts.tbsDer);
  } catch (error) {
    return { untrusted: `it does not parse as a CRL (${(error as Error).message})` };
  }
  if (stated.crlNumber !== signed.crlNumber) return { untrusted: `ca.crl.json says CRL number ${signed.crlNumber}, the CRL it holds is number ${stated.crlNumber ?? "(none)"}` };
  if (stated.thisUpdate !== signed.thisUpdate.getTime() || stated.nextUpdate !== signed.nextUpdate.getTime()) {
    return { untrusted: "ca.crl.json's thisUpdate or nextUpdate is not the CRL's" };
  }
  if (stated.count !== signed.revokedCount) return { untrusted: `ca.crl.json says ${signed.revokedCount} entries, the CRL lists ${stated.count}` };
  return { parts };
}
