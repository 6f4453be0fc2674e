/**
 * A profile's GetCACaps list (RFC 8894 §3.5.2) and the algorithm policy it must agree with. A client picks its digest
 * and content cipher from the list; when the pick is refused, every enrollment from it ends in FAILURE badAlg. So the
 * default list leaves out what the policy refuses, and a configured list is checked, each finding a
 * `ProfileInfo.warnings` entry (the configuration is still accepted: an operator may mean it):
 *
 * - a capability whose algorithm the policy refuses (`AES` is AES128-CBC, §3.5.2; `SCEPStandard` implies `AES` and
 *   `SHA-256`): a client that picks it is refused;
 * - a list naming no SHA digest, or no content cipher: a client that reads it that way falls back to MD5, or to single
 *   DES (sscep does; this SDK's ScepClient takes SHA-1 and 3DES), which the policy refuses unless `allowMd5`, or
 *   `ciphers` holds `"des"`;
 * - one of §3.5.2's keywords in other letter case (`sha-256`): this server reads it, but a client that compares it
 *   exactly (sscep uses strcmp) does not see it.
 *
 * @module
 */
import type { ContentCipher, DigestAlgorithm } from "../algorithms.js";
import type { ResolvedPolicy } from "../policy.js";

/** RFC 8894 §3.5.2's keywords, as written there (the IANA "SCEP CA Capabilities" registry). */
const RFC_KEYWORDS = ["AES", "DES3", "GetNextCACert", "POSTPKIOperation", "Renewal", "SHA-1", "SHA-256", "SHA-512", "SCEPStandard"];

/** The digest each capability lets a client pick (SHA-224 and SHA-384 are read by sscep and strongSwan). */
const DIGESTS = new Map<string, DigestAlgorithm>([
  ["sha-1", "sha1"],
  ["sha-224", "sha224"],
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
 * The capabilities a profile advertises when it configures none: AES, DES3, POSTPKIOperation, Renewal, SHA-1, SHA-256,
 * SHA-384, SHA-512, SCEPStandard, and GetNextCACert when `nextCa`; each algorithm capability left out when `policy`
 * refuses its algorithm (SCEPStandard when it refuses AES-128 or SHA-256). SHA-384 matters: strongSwan 5.9 tests
 * capabilities by index, so it only uses AES when SHA-384 is advertised.
 */
export function defaultCaCaps(policy: ResolvedPolicy, nextCa: boolean): string[] {
  const digest = (d: DigestAlgorithm): boolean => policy.digests.includes(d);
  const cipher = (c: ContentCipher): boolean => policy.ciphers.includes(c);
  return [
    ...(cipher("aes128") ? ["AES"] : []),
    ...(cipher("des3") ? ["DES3"] : []),
    "POSTPKIOperation",
    "Renewal",
    ...(digest("sha1") ? ["SHA-1"] : []),
    ...(digest("sha256") ? ["SHA-256"] : []),
    ...(digest("sha384") ? ["SHA-384"] : []),
    ...(digest("sha512") ? ["SHA-512"] : []),
    ...(cipher("aes128") && digest("sha256") ? ["SCEPStandard"] : []),
    ...(nextCa ? ["GetNextCACert"] : []),
  ];
}

/**
 * The warnings for profile `name` whose GetCACaps list is `caps` under `policy` (see the module comment). Empty when
 * every algorithm the list offers is accepted, no fallback is needed, and every RFC 8894 keyword is written as §3.5.2
 * writes it. Never throws.
 */
export function caCapsWarnings(name: string, caps: readonly string[], policy: ResolvedPolicy): string[] {
  const out: string[] = [];
  const lower = caps.map((c) => c.toLowerCase());
  for (const cap of caps) {
    const keyword = RFC_KEYWORDS.find((k) => k.toLowerCase() === cap.toLowerCase());
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
    out.push(`profile ${name}: GetCACaps names no SHA digest nor SCEPStandard: a client that then signs with MD5 (sscep) is refused by the algorithm policy (allowMd5)`);
  }
  if (!lower.some((c) => CIPHERS.has(c)) && !policy.ciphers.includes("des")) {
    out.push(`profile ${name}: GetCACaps names no AES, DES3 nor SCEPStandard: a client that then encrypts with single DES (sscep) is refused by the algorithm policy`);
  }
  return out;
}
