/**
 * The resource limits the codec and the server enforce on hostile input,
 * each checked before the expensive work it guards (RSA decryption, signature
 * verification, a challenge validator's HTTP call), so an unauthenticated
 * client cannot make the server spend much on a request it will refuse.
 * docs/security.md lists them with the test that holds each.
 *
 * @module
 */

/**
 * Limits on hostile input (read-only). The POST body limit is the server's `maxBodyBytes` (default 64 KiB,
 * HTTP 413); a GET `message` of more than 4/3 of it (plus 1 KiB), or whose DER is over it, gets HTTP 414 URI Too
 * Long (RFC 9110 §15.5.15).
 *
 * @example
 * ```ts
 * import { LIMITS } from "@scep/core";
 * console.log(`challenges up to ${LIMITS.challengeBytes} bytes`);
 * ```
 * @group Codec
 */
export const LIMITS = {
  /** Deepest nesting of BER indefinite-length elements (`ERR_ASN1` "ASN.1 nesting too deep"); definite lengths are read lazily, never by recursion. */
  asn1Depth: 48,
  /** Most elements inside one constructed ASN.1 element (`ERR_ASN1`). */
  asn1Elements: 4096,
  /** Most certificates, and most CRLs, in one SignedData, and most whole certificate blocks in a PEM GetCACert reply (`ERR_MESSAGE_MALFORMED`, before any is parsed or a signature checked). */
  signedDataCertificates: 32,
  /** Most attributes in one PKCS#10 request (`ERR_CSR_INVALID`). */
  csrAttributes: 16,
  /** Most requested extensions in one PKCS#10 request (`ERR_CSR_INVALID`, before its signature is checked). */
  csrExtensions: 64,
  /** Most subjectAltName entries in one PKCS#10 request (`ERR_CSR_INVALID`, before its signature is checked). */
  csrSubjectAltNames: 256,
  /** Longest challengePassword, UTF-8 bytes: a longer one is FAILURE badRequest `challenge_too_long` before any validator sees it. */
  challengeBytes: 16 * 1024,
} as const;
