/**
 * Text encodings of DER as SCEP peers send and read them: base64 (RFC 4648 §4, and §5's base64url) and PEM armour
 * (RFC 7468). Bytes in are DER (or any bytes, for base64); text out is ASCII. None of these throws on bad input:
 * a decoder returns undefined or an empty list. And which text fits a PrintableString (X.680 §41.4).
 *
 * @module
 */
import { base64, base64Url, fromBase64 } from "./lib/base64.js";
import { latin1 } from "./lib/bytes.js";
import * as der from "./lib/der.js";

/**
 * Standard base64 with padding (RFC 4648 §4), e.g. a GET PKIOperation's `message` before URL encoding.
 * @param b - Any bytes. @returns `A-Z a-z 0-9 + /` and `=` padding. Never throws.
 * @group Codec
 */
export function toBase64(b: Uint8Array): string {
  return base64(b);
}

/**
 * Base64url without padding (RFC 4648 §5): the one encoder of the SDK for JWK members, JWS segments, one-time
 * challenges and the digests that key a ledger or a re-send binding.
 *
 * @param b - Any bytes.
 * @returns `A-Z a-z 0-9 - _` only, `ceil(4 * b.length / 3)` characters. Never throws.
 *
 * @example
 * ```ts
 * import { toBase64Url } from "@scep/core";
 *
 * toBase64Url(new Uint8Array([0xfb, 0xff])); // "-_8"
 * ```
 * @group Codec
 */
export function toBase64Url(b: Uint8Array): string {
  return base64Url(b);
}

/**
 * Decodes base64 leniently, as SCEP clients send it: standard or URL-safe
 * alphabet, with or without padding, with whitespace and line breaks, and with
 * `+` turned into a space by form decoding (iOS). Returns undefined when the
 * text is not base64.
 * @group Codec
 */
export function fromBase64Lenient(text: string): Uint8Array | undefined {
  let s = text.replace(/[\r\n\t]/g, "").replace(/ /g, "+").replace(/-/g, "+").replace(/_/g, "/");
  // Trailing padding, trimmed by hand: /=+$/ backtracks quadratically on a long run of "=" not at the end.
  let end = s.length;
  while (end > 0 && s.charCodeAt(end - 1) === 0x3d) end--;
  s = s.slice(0, end);
  if (!/^[A-Za-z0-9+/]*$/.test(s) || s.length % 4 === 1) return undefined;
  return fromBase64(s);
}

/**
 * PEM armour (RFC 7468 §2): `-----BEGIN <label>-----`, the base64 of `der` in lines of 64 characters, `-----END
 * <label>-----`, each line ending in `\n`.
 * @param label - e.g. `CERTIFICATE`, `CERTIFICATE REQUEST`, `X509 CRL`. @param der - DER bytes. @returns The text. Never throws.
 * @group Codec
 */
export function toPem(label: string, der: Uint8Array): string {
  const b64 = toBase64(der).replace(/(.{64})/g, "$1\n").replace(/\n$/, "");
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`;
}

/**
 * `bytes` as text when they hold PEM rather than DER (a certificate or CSR read
 * with `readFileSync(path)` and no encoding): DER always starts with a
 * SEQUENCE (0x30), PEM text with its armour or explanatory text. Undefined for DER.
 * @group Codec
 */
export function pemTextOf(bytes: Uint8Array): string | undefined {
  return bytes.length > 0 && bytes[0] !== 0x30 ? latin1(bytes) : undefined;
}

/**
 * Every PEM block of the given label (or any label) in `text`, as DER.
 *
 * One pass over the armour lines: a block is a BEGIN line followed directly by
 * its END line (RFC 7468: the base64 between them holds no "-----"). A lazy
 * regex with a back-reference would rescan to the end for every unterminated
 * BEGIN, quadratic on hostile text (a GetCACert reply is server-controlled).
 * @group Codec
 */
export function fromPem(text: string, label?: string): Uint8Array[] {
  const out: Uint8Array[] = [];
  const re = /-----(BEGIN|END) ([A-Z0-9 ]+)-----/g;
  let open: { label: string; from: number } | undefined;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    if (m[1] === "BEGIN") {
      open = { label: m[2]!, from: re.lastIndex };
      continue;
    }
    if (open && m[2] === open.label && (!label || label === open.label)) {
      const der = fromBase64Lenient(text.slice(open.from, m.index).replace(/\s+/g, ""));
      if (der) out.push(der);
    }
    open = undefined;
  }
  return out;
}

/**
 * Whether every character of `text` is in PrintableString's set (X.680 §41.4, the `PrintableString` restricted
 * character string type): `A-Z a-z 0-9`, space and `' ( ) + , - . / : = ?`, nothing else (no `_ ! @ # * &`, no
 * non-ASCII). The empty string fits. RFC 5280 Appendix A types some name attributes PrintableString (countryName,
 * serialNumber); a PKCS#10 challengePassword (RFC 2985 §5.4.1, RFC 8894 §2.3) is a DirectoryString, and Windows' SCEP
 * client always encodes it as a PrintableString: a challenge that does not fit fails the enrollment on the device
 * ("The string contains a non-printable character", `CRYPT_E_INVALID_PRINTABLE_STRING`; fleetdm/fleet#47492). The
 * same check the codec applies to the attributes RFC 5280 types PrintableString.
 *
 * @param text - Any string (UTF-16 code units, as JavaScript holds it).
 * @returns True when it fits a PrintableString. Never throws.
 *
 * @example
 * ```ts
 * import { isPrintableString } from "@scep/core";
 *
 * isPrintableString("8CE317021F690069"); // true
 * isPrintableString("a_b!c"); // false: `_` and `!` are not PrintableString
 * ```
 * @group Codec
 */
export function isPrintableString(text: string): boolean {
  return der.isPrintableString(text);
}
