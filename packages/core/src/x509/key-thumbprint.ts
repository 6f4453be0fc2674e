/**
 * RFC 7638 JWK thumbprints of public keys given as SubjectPublicKeyInfo DER (RFC 5280 §4.1.2.7).
 */
import * as nc from "../lib/node-crypto.js";

/**
 * The RFC 7638 JWK SHA-256 thumbprint of the public key in a SubjectPublicKeyInfo DER (RFC 5280 §4.1.2.7): the
 * same as `CertificationRequest.publicKeyThumbprint` for that key, whichever way its DER spells it (RSA parameters
 * NULL or absent, an EC point compressed or not).
 *
 * @param spki - SubjectPublicKeyInfo, DER (a certificate's `spki`, a request's key); RSA, EC on a named curve
 *   or OKP (Ed25519, Ed448, X25519, X448) keys.
 * @returns 43 characters of base64url without padding (the 32-byte SHA-256 of the key's required JWK members, RFC
 *   7638 §3); undefined when the bytes are not a key, or the key has no JWK form (RSA-PSS, EC with explicit
 *   parameters). Never throws.
 *
 * @example
 * ```ts
 * import { readFileSync } from "node:fs";
 * import { Certificate, CertificationRequest, publicKeyThumbprint } from "@scep/core";
 *
 * const certificate = Certificate.from(readFileSync("device.pem", "utf8"));
 * const csr = CertificationRequest.from(readFileSync("device.csr", "utf8"));
 * console.log(publicKeyThumbprint(certificate.spki) === csr.publicKeyThumbprint); // the request is for the certificate's key
 * ```
 * @group X.509
 */
export function publicKeyThumbprint(spki: Uint8Array): string | undefined {
  try {
    return nc.jwkThumbprint(nc.publicKeyFromSpki(spki, false));
  } catch {
    return undefined;
  }
}
