/**
 * GetCACaps (RFC 8894 §3.5): build and parse the capability list.
 *
 * @module
 */

/** Capabilities RFC 8894 §3.5.2 defines (others are kept as strings). @group Codec */
export type CaCapability =
  | "AES"
  | "DES3"
  | "GetNextCACert"
  | "POSTPKIOperation"
  | "Renewal"
  | "SHA-1"
  | "SHA-256"
  | "SHA-512"
  | "SCEPStandard"
  | "Update";

/** The content type of a GetCACaps reply. @group Codec */
export const CA_CAPS_CONTENT_TYPE = "text/plain";

/**
 * Formats capabilities one per line (LF), as RFC 8894 §3.5.2 shows.
 *
 * @example
 * ```ts
 * buildCaCaps(["AES", "POSTPKIOperation", "SHA-256", "SCEPStandard"]);
 * ```
 * @group Codec
 */
export function buildCaCaps(caps: readonly string[]): string {
  return [...new Set(caps)].join("\n");
}

/** Parsed capabilities: case-insensitive lookups, unknown ones kept. @group Codec */
export interface CaCaps {
  /** Every capability as sent, in order, each once (separators and blank lines dropped). */
  readonly list: readonly string[];
  /** Whether a capability is present (case-insensitive). */
  has(cap: CaCapability | string): boolean;
}

/**
 * Whether a GetCACaps body is markup (an HTML or XML page: a gateway's login or error page, a URL that is no SCEP
 * endpoint), never capabilities: its first character, after a byte-order mark and white space, is `<`. RFC 8894
 * §3.5.2 caps are keywords, one per line, and none starts with `<`. Judged by the body, not the Content-Type, which
 * old CAs set to anything (real caps come as text/html too). Internal: exported through `@scep/core/internal` for
 * the client, @scep/proxy and the CLI.
 *
 * @param text the body as text (or its first kilobyte: only the start is looked at)
 * @internal
 */
export function capsTextIsMarkup(text: string): boolean {
  return /^[\ufeff\s]*</.test(text);
}

/**
 * Parses a GetCACaps body (RFC 8894 §3.5.2: one capability per line, LF or CRLF). Blank lines are ignored, and so
 * are the separators some servers put between capabilities instead: spaces, tabs, commas, semicolons and NULs (no
 * capability name holds one), so `"AES, POSTPKIOperation"` reads as two capabilities, not one unknown one.
 *
 * @param text the response body as text (UTF-8; a BOM is dropped)
 * @returns the capabilities in the order sent, each once
 * @group Codec
 */
export function parseCaCaps(text: string): CaCaps {
  const list = [...new Set(text.split(/[\s,;\0\uFEFF]+/).filter((l) => l.length > 0))];
  const lower = new Set(list.map((l) => l.toLowerCase()));
  return { list, has: (cap) => lower.has(cap.toLowerCase()) };
}
