/**
 * Reading `operation` and `message` from the raw query string, tolerating every
 * encoding real clients use (INTEROP quirk 1): iOS turns `+` into a space,
 * macOS escapes only `=`, sscep/strongSwan/Cisco break base64 into lines
 * (`%0A`) and leave `/` raw, old micromdm clients sent URL-safe base64.
 */
import { fromBase64Lenient } from "../encoding.js";

/**
 * The value of a SCEP query parameter (`operation`, `message`) as the client
 * meant it (RFC 8894 §4.1, INTEROP quirk 1): the first occurrence, the name
 * matched case-insensitively, percent-decoded, with a literal `+` kept (form
 * decoding would turn the `+` of a base64 `message` into a space). A stray
 * `%` or escapes that are not UTF-8 are decoded byte by byte instead of
 * throwing. Never throws.
 *
 * @param url - A whole URL (`request.url`) or only its query with the leading `?` (`new URL(…).search`); a
 *   fragment is ignored.
 * @param name - The parameter's name.
 * @returns The decoded value; `""` for a bare `name` or `name=`; `undefined` when absent.
 *
 * @example
 * ```ts
 * import { rawQueryParam } from "@scep/core";
 *
 * rawQueryParam("http://ca.example/scep?operation=PKIOperation&message=MIIB+a%2Fb%3D", "message"); // "MIIB+a/b="
 * rawQueryParam("?OPERATION=GetCACaps", "operation"); // "GetCACaps"
 * ```
 * @group Server
 */
export function rawQueryParam(url: string, name: string): string | undefined {
  const q = url.indexOf("?");
  if (q < 0) return undefined;
  const hash = url.indexOf("#", q);
  const query = url.slice(q + 1, hash < 0 ? undefined : hash);
  if (query === "") return undefined;
  const wanted = name.toLowerCase();
  for (const part of query.split("&")) {
    const eq = part.indexOf("=");
    const key = eq < 0 ? part : part.slice(0, eq);
    if (safeDecode(key).toLowerCase() !== wanted) continue;
    return eq < 0 ? "" : safeDecode(part.slice(eq + 1));
  }
  return undefined;
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    // A stray % (not an escape): decode what can be decoded.
    return s.replace(/%([0-9a-fA-F]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
  }
}

/** Decodes a GET PKIOperation `message` value to DER, or undefined. @group Server */
export function decodeMessageParam(value: string): Uint8Array | undefined {
  return fromBase64Lenient(value);
}
