/**
 * Reading `operation` and `message` from the raw query string, tolerating every
 * encoding real clients use (INTEROP quirk 1): iOS turns `+` into a space,
 * macOS escapes only `=`, sscep/strongSwan/Cisco break base64 into lines
 * (`%0A`) and leave `/` raw, old micromdm clients sent URL-safe base64.
 */
import { fromBase64Lenient } from "../lib/bytes.js";

/** The raw value of a query parameter (first occurrence), percent-decoded but with `+` kept. @group Server */
export function rawQueryParam(url: string, name: string): string | undefined {
  const q = url.indexOf("?");
  if (q < 0) return undefined;
  const hash = url.indexOf("#", q);
  const query = url.slice(q + 1, hash < 0 ? undefined : hash);
  for (const part of query.split("&")) {
    const eq = part.indexOf("=");
    const key = eq < 0 ? part : part.slice(0, eq);
    if (safeDecode(key).toLowerCase() !== name.toLowerCase()) continue;
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
