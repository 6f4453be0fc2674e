/**
 * The percent-encoding of a SCEP query value (`message`) as the SDK's clients send it: the core client to a CA and
 * the proxy to its upstream.
 *
 * @module
 */

/** RFC 3986 §2.3 unreserved characters: never escaped. */
const UNRESERVED = /^[A-Za-z0-9\-._~]$/;

/**
 * A query value percent-encoded for a SCEP request (RFC 8894 §4.1, RFC 3986 §2.1): every UTF-8 byte except the
 * unreserved characters (RFC 3986 §2.3: `A-Z a-z 0-9 - . _ ~`) becomes `%XX` (upper-case hex). So a space is `%20`,
 * never the form encoding's `+` (servers that read the raw query, ours included since iOS and macOS leave base64's
 * `+` unescaped, keep a `+` as a plus), and a base64 PKIOperation message's `+`, `/`, `=` are `%2B`, `%2F`, `%3D`.
 *
 * @param value - Any string; a lone surrogate (no UTF-8) is sent as U+FFFD, as `URLSearchParams` does.
 * @returns ASCII text of unreserved characters and `%XX` escapes. Never throws.
 *
 * @example
 * ```ts
 * import { encodeQueryValue } from "@scep/core";
 *
 * encodeQueryValue("My CA"); // "My%20CA"
 * encodeQueryValue("MIIB+a/b="); // "MIIB%2Ba%2Fb%3D"
 * ```
 * @group Client
 */
export function encodeQueryValue(value: string): string {
  let out = "";
  for (const ch of value) {
    if (UNRESERVED.test(ch)) {
      out += ch;
      continue;
    }
    for (const byte of new TextEncoder().encode(ch)) out += `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}
