/**
 * Client side: pin the CA a client talks to. GetCACert travels unauthenticated
 * (RFC 8894 §2.2 leaves checking the CA certificate to the client, "e.g. by
 * comparing its fingerprint with one obtained out of band"), so over plain
 * HTTP anyone on the path could hand the client their own RA. A pin is a set
 * of SHA-256 fingerprints and/or trusted CA certificates; the GetCACert set is
 * accepted only when one of its CA certificates is pinned (or is issued by a
 * trusted one) and the certificate requests are encrypted to chains to it.
 *
 * @module
 */
import * as nc from "../lib/node-crypto.js";
import { toHex } from "../lib/bytes.js";
import { equalBytes } from "../lib/der.js";
import { CaPinMismatchError, InvalidArgumentError } from "../errors.js";
import { Certificate } from "../x509/certificate.js";
import { isCaInSet, selectRecipient } from "../message/certificate-roles.js";

/** What to pin: SHA-256 fingerprints and/or trusted CA certificates (at least one of either). @group Client */
export interface CaPinOptions {
  /**
   * SHA-256 fingerprints of the DER certificate (what `openssl x509
   * -fingerprint -sha256` prints), as `sha256:<hex>` or plain hex, with or
   * without colons, either case. Pin the root or the issuing CA: any CA
   * certificate of the GetCACert set may match.
   */
  caFingerprints?: readonly string[] | undefined;
  /**
   * Trusted CA certificates (DER, PEM or {@link Certificate}): a CA certificate
   * of the set matches when it is one of them or is issued by one of them
   * (signature checked), so a root that the CA does not serve can be pinned.
   */
  trustedCaCertificates?: readonly (Certificate | Uint8Array | string)[] | undefined;
}

/** The SHA-256 fingerprint of a certificate as `sha256:<64 lower-case hex>`. @group Client */
export function caFingerprint(cert: Certificate): string {
  return `sha256:${toHex(nc.digest("sha256", cert.der)).toLowerCase()}`;
}

/**
 * Normalises a fingerprint to `sha256:<64 lower-case hex>`; accepts
 * `sha256:`/`SHA256:`/`sha-256:` prefixes, the spellings tools print (`SHA-256 AB:CD:…` as the example servers'
 * banner and `scep getcacert` show it, `sha256 Fingerprint=AB:CD:…` from `openssl x509 -fingerprint -sha256`),
 * colons and spaces between bytes.
 *
 * @throws InvalidArgumentError `ERR_INVALID_ARGUMENT` for anything that is not 32 bytes of hex.
 * @group Client
 */
export function normalizeFingerprint(value: string): string {
  const body = value.trim().replace(/^sha-?256(?::|\s+fingerprint=|\s+)/i, "").replace(/[:\s]/g, "").toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(body)) throw new InvalidArgumentError(`not a SHA-256 fingerprint (sha256:<64 hex digits>): "${value}"`);
  return `sha256:${body}`;
}

/** A compiled pin (fingerprints normalised, certificates parsed). @group Client */
export interface CaPin {
  /** The pinned fingerprints, normalised. */
  readonly fingerprints: readonly string[];
  /** The trusted CA certificates. */
  readonly trusted: readonly Certificate[];
}

/**
 * Checks and normalises pin options; undefined when nothing is pinned.
 *
 * @throws InvalidArgumentError `ERR_INVALID_ARGUMENT` for a malformed fingerprint or certificate.
 * @group Client
 */
export function compileCaPin(options: CaPinOptions): CaPin | undefined {
  const fingerprints = (options.caFingerprints ?? []).map(normalizeFingerprint);
  let trusted: Certificate[];
  try {
    trusted = (options.trustedCaCertificates ?? []).map((c) => Certificate.from(c));
  } catch (cause) {
    throw new InvalidArgumentError("trustedCaCertificates holds something that is not a certificate", { cause });
  }
  if (fingerprints.length === 0 && trusted.length === 0) return undefined;
  return { fingerprints, trusted };
}

/**
 * Checks a GetCACert set against a pin and returns the certificates of the set
 * that chain to it (the pinned or trusted CA certificates and everything of
 * the set they issue, signature checked, transitively). The set passes when
 * at least one of its CA certificates is pinned or issued by a trusted
 * certificate, and the certificate {@link selectRecipient} picks is among
 * those that chain to it.
 *
 * @throws CaPinMismatchError `ERR_CA_PIN_MISMATCH`, with `expected` and
 * `actual` fingerprints in its message and properties.
 *
 * @example
 * ```ts
 * const pin = compileCaPin({ caFingerprints: ["sha256:5abeea1243d2c195461ddb65692f561bd45edb66d7c4e0e02deef0ad047e8362"] })!;
 * const trusted = checkCaPin(await new ScepClient({ url: "http://127.0.0.1:8080/scep" }).getCaCert(), pin);
 * ```
 * @group Client
 */
export function checkCaPin(certificates: readonly Certificate[], pin: CaPin): Certificate[] {
  const pinned = new Set(pin.fingerprints);
  const isTrusted = (c: Certificate): boolean => pin.trusted.some((t) => equalBytes(t.der, c.der) || c.isIssuedBy(t));
  const anchors = certificates.filter((c) => isCaInSet(c, certificates) && (pinned.has(caFingerprint(c)) || isTrusted(c)));
  const actual = certificates.map(caFingerprint);
  const expected = [...pin.fingerprints, ...pin.trusted.map(caFingerprint)];
  const describe = (c: Certificate): string => `${caFingerprint(c)} (${c.subject}, ${isCaInSet(c, certificates) ? "CA" : "RA"})`;
  if (anchors.length === 0) {
    const raPinned = certificates.filter((c) => !isCaInSet(c, certificates) && pinned.has(caFingerprint(c)));
    const hint = raPinned.length > 0 ? `; ${raPinned.map((c) => c.subject).join(", ")} is an RA certificate: pin a CA certificate (the root or the issuing CA)` : "";
    throw mismatch(`GetCACert: no CA certificate matches the pinned CA ${expected.join(", ")}; the CA sent ${certificates.map(describe).join(", ")}${hint}`, expected, actual);
  }
  const chained = [...anchors];
  for (let grew = true; grew; ) {
    grew = false;
    for (const c of certificates) {
      if (chained.includes(c)) continue;
      if (chained.some((t) => isCaInSet(t, certificates) && c.isIssuedBy(t))) {
        chained.push(c);
        grew = true;
      }
    }
  }
  const recipient = selectRecipient(certificates);
  if (!chained.includes(recipient)) {
    throw mismatch(`GetCACert: the certificate requests would be encrypted to, ${describe(recipient)}, does not chain to the pinned CA ${expected.join(", ")}`, expected, actual);
  }
  return chained;
}

function mismatch(message: string, expected: string[], actual: string[]): CaPinMismatchError {
  const e = new CaPinMismatchError(message);
  e.expected = expected;
  e.actual = actual;
  return e;
}
