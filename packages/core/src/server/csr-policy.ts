/**
 * What a profile accepts in a CSR: key types and sizes, SAN types and
 * patterns, and the longest validity the issuer may grant.
 *
 * @module
 */
import type { CertificationRequest } from "../x509/certification-request.js";

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
  /** Per type, patterns every requested SAN of that type must match. */
  sanPatterns?: Partial<Record<SanType, readonly RegExp[]>>;
  /** Require a subject CN (default false). */
  requireCommonName?: boolean;
  /** Longest validity the issuer may grant, in days (passed to the issue hook). Default 365. */
  maxValidityDays?: number;
}

/** Returns a reason when the CSR breaks the policy, else undefined. @group Server */
export function checkCsrPolicy(csr: CertificationRequest, policy: CsrPolicy = {}): string | undefined {
  const key = csr.publicKeyInfo;
  const types = policy.keyTypes ?? ["rsa", "ec"];
  if (!types.includes(key.type as "rsa" | "ec")) return `key type ${key.type} is not allowed`;
  if (key.type === "rsa" && (key.bits ?? 0) < (policy.minRsaBits ?? 2048)) return `RSA-${key.bits ?? 0} is below the minimum of ${policy.minRsaBits ?? 2048} bits`;
  if (key.type === "ec" && !(policy.curves ?? ["prime256v1", "secp384r1", "secp521r1"]).includes(key.curve ?? "")) return `curve ${key.curve ?? "?"} is not allowed`;
  if (policy.requireCommonName && !csr.commonName) return "the subject has no CN";
  const sans = csr.subjectAltNames;
  const allowedTypes = policy.sanTypes ?? ["dns", "email", "ip", "uri", "upn"];
  for (const type of ["dns", "email", "ip", "uri", "upn"] as const) {
    const values = sans[type];
    if (values.length === 0) continue;
    if (!allowedTypes.includes(type)) return `SAN type ${type} is not allowed`;
    const patterns = policy.sanPatterns?.[type];
    if (patterns) for (const v of values) if (!patterns.some((p) => p.test(v))) return `SAN ${type}:${v} is not allowed`;
  }
  if (sans.other.length > 0 && policy.sanTypes) return "SAN of an unsupported type";
  return undefined;
}
