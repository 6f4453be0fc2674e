/**
 * The outer shape X.509's SIGNED macro gives a Certificate (RFC 5280 §4.1) and a CertificateList (§5.1): one DER
 * element, a SEQUENCE of a SEQUENCE (the signed part), a SEQUENCE (the algorithm) and a BIT STRING (the signature).
 * Told without parsing the rest, to say what some bytes are meant to be before (or instead of) reading them.
 *
 * @module
 */
import * as der from "../lib/der.js";

/** Whether `bytes` is one DER element shaped as SEQUENCE { SEQUENCE, SEQUENCE, BIT STRING }. Never throws. */
export function signedShaped(bytes: Uint8Array): boolean {
  try {
    const root = der.parse(bytes);
    const f = der.children(root);
    return root.tag === der.Tag.SEQUENCE && f.length === 3 && f[0]!.tag === der.Tag.SEQUENCE && f[1]!.tag === der.Tag.SEQUENCE && f[2]!.tag === der.Tag.BIT_STRING;
  } catch {
    return false;
  }
}
