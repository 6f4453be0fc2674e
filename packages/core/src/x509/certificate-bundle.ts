/**
 * A bundle of certificates from one file: which one is the certificate of a key, and which stand above it in issuer
 * order (RFC 5280 §6.1), whatever their order in the file. The one implementation behind a profile's
 * `caCertificate` bundle and the example CA's certificate file (`LocalKey.from` needs only the certificate of its key,
 * and finds it without checking signatures).
 *
 * @module
 */
import { Certificate } from "./certificate.js";
import { InvalidArgumentError } from "../errors.js";
import { samePublicKey } from "../lib/node-crypto.js";

/** What {@link sortCertificateBundle} found in a bundle. @group X.509 */
export interface SortedCertificateBundle {
  /**
   * The certificate of the key: the first of the bundle whose SubjectPublicKeyInfo holds one of the `publicKeys`;
   * when none does (or none was given), the bundle's first certificate.
   */
  certificate: Certificate;
  /** Whether `certificate` holds one of the `publicKeys` (false: none of the bundle does, or none was given). */
  ofKey: boolean;
  /**
   * `certificate`, then the certificates of the bundle above it: each one's issuer is the next one's subject and the
   * next one's key verifies its signature ({@link Certificate.isIssuedBy}). It stops at a self-issued certificate or
   * when no certificate left issued the last one.
   */
  path: Certificate[];
  /** The certificates of the bundle on no such path (neither `certificate` nor above it), in their order. */
  rest: Certificate[];
}

/**
 * Sorts a bundle of certificates (a PEM file holding a CA and the certificates above it, in any order): finds the
 * certificate of a key among them and orders the others from its issuer up to the root, building the path by name
 * and signature as RFC 5280 §6.1 does, not by the order of the file.
 *
 * @param certificates - the bundle, in file order (at least one certificate).
 * @param publicKeys - SubjectPublicKeyInfo DER of the keys to look for (a private key's public half, a signer's or
 *   decrypter's `certificate.spki`), compared as public keys: an RSA key with NULL or absent parameters is one key.
 * @returns the certificate of a key (or the first), its issuer path, and the certificates left over; see
 *   {@link SortedCertificateBundle}. Whether leftovers or a missing key are an error is the caller's decision.
 * @throws InvalidArgumentError (`ERR_INVALID_ARGUMENT`) when `certificates` is empty.
 * @example
 * ```ts
 * import { readFileSync } from "node:fs";
 * import { Certificate, sortCertificateBundle } from "@scep/core";
 *
 * const bundle = Certificate.fromPem(readFileSync("chain.pem", "utf8")); // root first, issuing CA last: any order
 * const raCertificate = Certificate.from(readFileSync("ra.pem", "utf8"));
 * const { certificate, ofKey, path, rest } = sortCertificateBundle(bundle, [raCertificate.spki]);
 * if (rest.length > 0) throw new Error(`${rest[0]!.subject} is not above ${certificate.subject}`);
 * console.log(ofKey, path.map((c) => c.subject)); // e.g. false, ["CN=Issuing CA", "CN=Root CA"]
 * ```
 * @group X.509
 */
export function sortCertificateBundle(certificates: readonly Certificate[], publicKeys: readonly Uint8Array[] = []): SortedCertificateBundle {
  if (certificates.length === 0) throw new InvalidArgumentError("a certificate bundle holds at least one certificate");
  const index = certificates.findIndex((c) => publicKeys.some((k) => samePublicKey(k, c.spki)));
  const at = Math.max(0, index);
  const certificate = certificates[at]!;
  const rest = certificates.filter((_, i) => i !== at);
  const path = [certificate];
  let current = certificate;
  while (rest.length > 0 && !current.isSelfIssued) {
    const child = current;
    const next = rest.findIndex((c) => child.isIssuedBy(c));
    if (next < 0) break;
    current = rest.splice(next, 1)[0]!;
    path.push(current);
  }
  return { certificate, ofKey: index >= 0, path, rest };
}
