// Whether a CRL read from ca.crl.json is this CA's, before any process serves it, copies it to ca.crl or restores
// entries from it: RFC 5280 §6.3.3, its issuer is the CA's subject and its signature verifies with the CA's key; and
// what ca.crl.json says about it (number, times, count: what the CA caches and numbers by) is what the signed CRL
// says, so an old CRL of this CA cannot be passed off as a newer one (RFC 5280 §5.2.3) by editing the JSON.
import type { KeyObject } from "node:crypto";
import { crlUntrustedReason, readCrlParts, type CrlParts } from "./crl-entries.js";
import type { SignedCrl } from "./open-file-ca.js";

/** The CA certificate's subject Name (DER) and public key, which a published CRL must name and verify with. */
export interface CrlTrustAnchor {
  subjectDer: Uint8Array;
  publicKey: KeyObject;
}

/**
 * Checks the CRL `signed` (as ca.crl.json states it) against the CA: issuer and signature (RFC 5280 §6.3.3, see
 * crlUntrustedReason), then the CRL's own cRLNumber, thisUpdate, nextUpdate and entry count against what the JSON
 * states. Never throws.
 * @returns `{ parts }` (its entries, read once) when it is the CA's CRL as stated; `{ untrusted }`, one line saying why, when not,
 * with `signedCrlNumber`, the cRLNumber inside the CRL, when its issuer and signature are the CA's (only what the JSON
 * states is not): a number this CA did sign, unlike one the JSON states or a CRL that does not verify says
 */
export function checkPublishedCrl(signed: SignedCrl, ca: CrlTrustAnchor): { parts: CrlParts } | { untrusted: string; signedCrlNumber?: bigint } {
  let parts: CrlParts;
  try {
    parts = readCrlParts(signed.der);
  } catch (error) {
    return { untrusted: `it does not parse as a CRL (${(error as Error).message})` };
  }
  const reason = crlUntrustedReason(parts, ca);
  if (reason !== undefined) return { untrusted: reason };
  // What the signed TBSCertList states (RFC 5280 §5.1.2.4–5, §5.2.3), read by readCrlParts: not by @peculiar's
  // TBSCertList, which refuses a whole CRL for one entry that does not read (such an entry is skipped alone).
  const own = parts.crlNumber === undefined ? {} : { signedCrlNumber: parts.crlNumber };
  if (parts.crlNumber !== signed.crlNumber) return { untrusted: `ca.crl.json says CRL number ${signed.crlNumber}, the CRL it holds is number ${parts.crlNumber ?? "(none)"}`, ...own };
  if (parts.thisUpdate.getTime() !== signed.thisUpdate.getTime() || parts.nextUpdate?.getTime() !== signed.nextUpdate.getTime()) {
    return { untrusted: "ca.crl.json's thisUpdate or nextUpdate is not the CRL's", ...own };
  }
  if (parts.count !== signed.revokedCount) return { untrusted: `ca.crl.json says ${signed.revokedCount} entries, the CRL lists ${parts.count}`, ...own };
  return { parts };
}

/**
 * The cRLNumber inside `der` (a CRL, DER: the `ca.crl` copy) when its issuer and signature are the CA's (RFC 5280
 * §6.3.3), else undefined (it does not parse, is another issuer's, does not verify, or has no number). Never throws.
 * A number this CA did sign: a floor for its next CRL number (RFC 5280 §5.2.3) when `ca.crl.json` gives none.
 */
export function signedCrlNumberOf(der: Uint8Array, ca: CrlTrustAnchor): bigint | undefined {
  let parts: CrlParts;
  try {
    parts = readCrlParts(der);
  } catch {
    return undefined;
  }
  return crlUntrustedReason(parts, ca) === undefined ? parts.crlNumber : undefined;
}
