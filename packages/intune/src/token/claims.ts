/**
 * The claims of a signed-token challenge (certctl-compatible), read with
 * exact key case and exact JSON types.
 *
 * @module
 */

/**
 * Claims of a signed-token challenge. Times are integer seconds since the epoch.
 *
 * @group Signed tokens
 */
export interface SignedTokenClaims {
  /** Issuer: the connector installation that minted the token. */
  iss?: string;
  /** Subject: the device. */
  sub?: string;
  /** Audience: the SCEP endpoint the token is for (a single string). */
  aud?: string;
  /** Issued at, seconds. */
  iat?: number;
  /** Expiry, seconds (exclusive). */
  exp?: number;
  /** Not before, seconds (RFC 7519 §4.1.5; optional, not in certctl's claim set): earlier than this (less the skew) is `not_yet_valid`. */
  nbf?: number;
  /** One-time value; the replay cache key. */
  nonce?: string;
  /** Must equal the CSR's subject commonName. */
  device_name?: string;
  /** dNSName SANs the CSR must carry (as a set). */
  san_dns?: string[];
  /** rfc822Name SANs the CSR must carry (as a set). */
  san_rfc822?: string[];
  /** UPN otherName SANs (1.3.6.1.4.1.311.20.2.3) the CSR must carry (as a set). */
  san_upn?: string[];
  /** Token format version: absent, "" or "v1". */
  version?: string;
}

const STRINGS = ["iss", "sub", "aud", "nonce", "device_name", "version"] as const;
const INTEGERS = ["iat", "exp", "nbf"] as const;
const LISTS = ["san_dns", "san_rfc822", "san_upn"] as const;
/** One fatal UTF-8 decoder for every payload (decode() keeps no state between calls). */
const UTF8 = new TextDecoder("utf-8", { fatal: true });
/**
 * Claims strict mode requires.
 *
 * @group Signed tokens
 */
export const STRICT_CLAIMS = ["iss", "sub", "aud", "iat", "exp", "nonce"] as const;

/**
 * Parses the payload; a text naming the first problem when it is not valid claims JSON.
 *
 * @group Signed tokens
 */
export function readClaims(payload: Uint8Array): SignedTokenClaims | { error: string } {
  let value: unknown;
  try {
    value = JSON.parse(UTF8.decode(payload));
  } catch {
    return { error: "the token payload is not JSON" };
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) return { error: "the token payload is not a JSON object" };
  const o = value as Record<string, unknown>;
  const out: SignedTokenClaims = {};
  for (const k of STRINGS) {
    if (!Object.hasOwn(o, k)) continue;
    if (typeof o[k] !== "string") return { error: `claim ${k} must be a string` };
    out[k] = o[k] as string;
  }
  for (const k of INTEGERS) {
    if (!Object.hasOwn(o, k)) continue;
    if (typeof o[k] !== "number" || !Number.isSafeInteger(o[k])) return { error: `claim ${k} must be an integer number of seconds` };
    out[k] = o[k] as number;
  }
  for (const k of LISTS) {
    if (!Object.hasOwn(o, k)) continue;
    const v = o[k];
    if (!Array.isArray(v) || !v.every((x) => typeof x === "string")) return { error: `claim ${k} must be an array of strings` };
    out[k] = v as string[];
  }
  return out;
}
