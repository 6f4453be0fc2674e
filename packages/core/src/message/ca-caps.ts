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
