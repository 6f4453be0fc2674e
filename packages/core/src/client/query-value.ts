/**
 * The percent-encoding of a SCEP query value (`message`) as the SDK's clients send it: the core client to a CA and
 * the proxy to its upstream.
 *
 * @module
 */

/** A UTF-16 surrogate without its pair: no UTF-8 spelling, so it goes out as U+FFFD (encodeURIComponent would throw). */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
/** The characters encodeURIComponent leaves bare besides RFC 3986 §2.3's unreserved ones (sub-delims, §2.2). */
const LEFT_BARE = /[!'()*]/g;

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
  return encodeURIComponent(value.replace(LONE_SURROGATE, "\uFFFD")).replace(LEFT_BARE, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}
