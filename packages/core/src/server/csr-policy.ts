/**
 * What a profile accepts in a CSR: key types and sizes, SAN types and
 * patterns, Windows SIDs (refused unless allowed), and the longest validity
 * the issuer may grant. Always refused: a subject or subjectAltName that
 * `endEntityExtensions` and `buildCertificate` would refuse to copy into a
 * certificate (one OpenSSL or Go could not parse, RFC 5280 §4.1.2.4,
 * §4.2.1.6), so the client gets FAILURE badRequest before any issue hook
 * runs, never the hook's `ERR_INVALID_ARGUMENT` as an HTTP 500; and a subject
 * with more than one commonName: the checks here, a challenge validator
 * (`@scep/intune` binds the token's device_name to it) and a webhook read the
 * first CN, as OpenSSL does, while Go's crypto/x509 reads the last, so a
 * relying party could take the certificate for a device nothing checked.
 * Also always refused: an RSA key no CA may certify (CA/Browser Forum BR
 * §6.1.6: an exponent below 3 or even, a modulus with a factor below 752),
 * whose self-signature may prove nothing (exponent 1 "signs" any message).
 *
 * @module
 */
import type { CertificationRequest } from "../x509/certification-request.js";
import { SID_URI_PREFIX, isSidOtherName, isSidUri, isWellFormedSidUri, requestedSids } from "../x509/windows-sid.js";
import { id_at_commonName, id_ce_subjectAltName, id_ms_ntds_ca_security_ext, id_ms_ntds_objectsid } from "../oids.js";
import { nameAttributeCount, nameProblem } from "../x509/name.js";
import { findExtension, generalNamesProblem } from "../x509/extensions.js";
import { publicKeyProblem } from "../x509/certificate-builder.js";

/** SAN types a CSR may request. @group Server */
export type SanType = "dns" | "email" | "ip" | "uri" | "upn";

/** CSR acceptance rules. @group Server */
export interface CsrPolicy {
  /** Allowed public key types (default rsa and ec). */
  keyTypes?: readonly ("rsa" | "ec")[];
  /** Smallest RSA modulus in bits (default 2048). */
  minRsaBits?: number;
  /** Allowed EC curves, Node names (default prime256v1, secp384r1, secp521r1). */
  curves?: readonly string[];
  /** Allowed SAN types (default all). */
  sanTypes?: readonly SanType[];
  /**
   * Per type, patterns every requested SAN of that type must match (any one of them; `RegExp.test` on the SAN as text:
   * anchor a pattern with `^…$` to match it whole). Flags are honoured, and each SAN is tested from its start: a `g` or
   * `y` pattern is tested through a copy, so no `lastIndex` carries over between SANs or requests.
   */
  sanPatterns?: Partial<Record<SanType, readonly RegExp[]>>;
  /** Require a subject CN (default false). */
  requireCommonName?: boolean;
  /** Longest validity the issuer may grant, in days (passed to the issue hook). Default 365. */
  maxValidityDays?: number;
  /**
   * Accept requests that carry a Windows SID (strong certificate mapping, KB5014754): Intune's URI SAN
   * `tag:microsoft.com,2022-09-14:sid:<SID>`, a SAN otherName 1.3.6.1.4.1.311.25.2.1, or the SID extension
   * 1.3.6.1.4.1.311.25.2. Default false: such a request is refused (`csr_policy`), since a certificate carrying a
   * SID logs in as that Windows account and an enrollee must not pick it (SID spoofing). Allow it only where the
   * challenge validator vouches for the SID (Intune's validation API compares the CSR with the profile it issued).
   * When allowed, a SID URI must be well formed (`S-1-…`) and is judged by this option alone (not by `sanTypes` or
   * `sanPatterns`); the issue hook gets `allowSid: true` to pass to `endEntityExtensions`, which otherwise never
   * copies a SID.
   */
  allowSid?: boolean;
}

/**
 * Returns a reason when the CSR breaks the policy, or carries a subject or subjectAltName no certificate can
 * (see the module comment), else undefined. @group Server
 */
export function checkCsrPolicy(csr: CertificationRequest, policy: CsrPolicy = {}): string | undefined {
  const key = csr.publicKeyInfo;
  const types = policy.keyTypes ?? ["rsa", "ec"];
  if (!types.includes(key.type as "rsa" | "ec")) return `key type ${key.type} is not allowed`;
  if (key.type === "rsa" && (key.bits ?? 0) < (policy.minRsaBits ?? 2048)) return `RSA-${key.bits ?? 0} is below the minimum of ${policy.minRsaBits ?? 2048} bits`;
  if (key.type === "ec" && !(policy.curves ?? ["prime256v1", "secp384r1", "secp521r1"]).includes(key.curve ?? "")) return `curve ${key.curve ?? "?"} is not allowed`;
  // The certificate builder's own checks, made before the issue hook (which may copy the subject and subjectAltName).
  const subjectProblem = nameProblem(csr.subjectDer);
  // Short enough that a client printing 120 characters of failInfoText (our CLI) shows the attribute and its bound.
  if (subjectProblem) return `the subject cannot be certified: ${subjectProblem}`;
  const commonNames = nameAttributeCount(csr.subjectDer, id_at_commonName);
  if (commonNames > 1) return `the subject holds ${commonNames} commonNames (CN): readers differ on which one names the device`;
  const keyProblem = publicKeyProblem(csr.spki);
  if (keyProblem) return keyProblem;
  const san = findExtension(csr.extensions, id_ce_subjectAltName);
  const sanProblem = san && generalNamesProblem(san.value);
  if (sanProblem) return `the subjectAltName is not one a certificate can carry (RFC 5280 §4.2.1.6): ${sanProblem}`;
  if (policy.requireCommonName && !csr.commonName) return "the subject has no CN";
  const sans = csr.subjectAltNames;
  const sids = requestedSids(csr.extensions, sans);
  if (!policy.allowSid) {
    if (sids.extension) return `the request asks for a Windows SID extension (${id_ms_ntds_ca_security_ext}); this profile does not allow SIDs (csrPolicy.allowSid)`;
    if (sids.uris.length > 0) return `SAN uri:${sids.uris[0]} carries a Windows SID; this profile does not allow SIDs (csrPolicy.allowSid)`;
    if (sids.otherNames > 0) return `a SAN otherName (${id_ms_ntds_objectsid}) carries a Windows SID; this profile does not allow SIDs (csrPolicy.allowSid)`;
  } else {
    const bad = sids.uris.find((u) => !isWellFormedSidUri(u));
    if (bad !== undefined) return `SAN uri:${bad} is not a well-formed SID tag (${SID_URI_PREFIX}S-1-…)`;
  }
  const allowedTypes = policy.sanTypes ?? ["dns", "email", "ip", "uri", "upn"];
  for (const type of ["dns", "email", "ip", "uri", "upn"] as const) {
    // SID URIs were judged above (allowSid), not as URLs.
    const values = type === "uri" ? sans.uri.filter((u) => !isSidUri(u)) : sans[type];
    if (values.length === 0) continue;
    if (!allowedTypes.includes(type)) return `SAN type ${type} is not allowed`;
    const patterns = policy.sanPatterns?.[type];
    if (patterns) for (const v of values) if (!patterns.some((p) => testFromStart(p, v))) return `SAN ${type}:${v} is not allowed`;
  }
  if (sans.other.some((o) => !isSidOtherName(o)) && policy.sanTypes) return "SAN of an unsupported type";
  return undefined;
}

/**
 * `pattern.test(value)` from the start of `value`, whatever `pattern` matched before: a RegExp with the g or y flag
 * keeps its `lastIndex` between calls, so the second SAN tested against it (in one request or the next) was matched
 * from where the first match ended and refused. Such a pattern is tested through a copy (same source and flags,
 * `lastIndex` 0); the caller's RegExp is not written to (it may be frozen).
 */
function testFromStart(pattern: RegExp, value: string): boolean {
  return (pattern.global || pattern.sticky ? new RegExp(pattern) : pattern).test(value);
}
