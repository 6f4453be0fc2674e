/**
 * Warnings about a GetCACaps list (RFC 8894 §3.5.2) that steers clients to an algorithm the profile's algorithm
 * policy refuses, shown in `ProfileInfo.warnings`. A client picks its digest and content cipher from the list; when
 * the pick is refused, every enrollment from it ends in FAILURE badAlg, and nothing at start said so:
 *
 * - a capability whose algorithm the policy refuses (`AES` is AES128-CBC, §3.5.2; `SCEPStandard` implies `AES` and
 *   `SHA-256`): a client that picks it is refused;
 * - a list naming no digest, or no content cipher: clients fall back to MD5, or to single DES (MikroTik RouterOS,
 *   Cisco IOS, sscep), which the policy refuses unless `allowMd5`, or `ciphers` holds `"des"`;
 * - a keyword written in other letter case than §3.5.2 writes it (`sha-256`): this server reads it, but a client
 *   that compares the keyword exactly does not see it.
 *
 * @module
 */
import type { ContentCipher, DigestAlgorithm } from "../algorithms.js";
import type { ResolvedPolicy } from "../policy.js";

/** RFC 8894 §3.5.2's keywords (and `SHA-384`, which strongSwan reads), as written there. */
const KEYWORDS = ["AES", "DES3", "GetNextCACert", "POSTPKIOperation", "Renewal", "SHA-1", "SHA-256", "SHA-384", "SHA-512", "SCEPStandard", "Update"];

/** The digest each capability lets a client pick. */
const DIGESTS = new Map<string, DigestAlgorithm>([
  ["sha-1", "sha1"],
  ["sha-256", "sha256"],
  ["sha-384", "sha384"],
  ["sha-512", "sha512"],
  ["scepstandard", "sha256"],
]);

/** The content cipher each capability lets a client pick. */
const CIPHERS = new Map<string, ContentCipher>([
  ["aes", "aes128"],
  ["des3", "des3"],
  ["scepstandard", "aes128"],
]);

/**
 * The warnings for profile `name` whose GetCACaps list is `caps` (as configured) under `policy`. Empty when every
 * algorithm the list offers is accepted, the fallbacks are not needed, and every keyword is spelled as RFC 8894
 * §3.5.2 writes it. Never throws.
 */
export function caCapsWarnings(name: string, caps: readonly string[], policy: ResolvedPolicy): string[] {
  const out: string[] = [];
  const lower = caps.map((c) => c.toLowerCase());
  for (const cap of caps) {
    const keyword = KEYWORDS.find((k) => k.toLowerCase() === cap.toLowerCase());
    if (keyword && keyword !== cap) {
      out.push(`profile ${name}: GetCACaps lists "${cap}", which RFC 8894 §3.5.2 writes "${keyword}": a client that compares the keyword exactly does not see it`);
    }
  }
  for (const cap of caps) {
    const digest = DIGESTS.get(cap.toLowerCase());
    if (digest && !policy.digests.includes(digest)) {
      out.push(`profile ${name}: GetCACaps offers ${cap} (${digest}), which the algorithm policy refuses: a client that picks it gets FAILURE badAlg`);
    }
    const cipher = CIPHERS.get(cap.toLowerCase());
    if (cipher && !policy.ciphers.includes(cipher)) {
      out.push(`profile ${name}: GetCACaps offers ${cap} (${cipher}), which the algorithm policy refuses: a client that picks it gets FAILURE badAlg`);
    }
  }
  if (!lower.some((c) => DIGESTS.has(c)) && !policy.allowMd5) {
    out.push(`profile ${name}: GetCACaps offers no digest (SHA-1, SHA-256, SHA-512, SCEPStandard): clients then sign with MD5, which the algorithm policy refuses (allowMd5)`);
  }
  if (!lower.some((c) => CIPHERS.has(c)) && !policy.ciphers.includes("des")) {
    out.push(`profile ${name}: GetCACaps offers no content cipher (AES, DES3, SCEPStandard): clients then encrypt with single DES, which the algorithm policy refuses`);
  }
  return out;
}
