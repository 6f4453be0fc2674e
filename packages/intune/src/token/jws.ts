/**
 * Compact JWS (RFC 7515 §7.1) as the signed-token challenge uses it: parse
 * the three segments and verify RS256 or ES256 over the raw on-wire bytes.
 *
 * @module
 */
import type { AnchorKeys } from "./trust-anchors.js";
import { verifyEs256, verifyRs256 } from "../lib/node-crypto.js";

/** A parsed compact JWS whose signature has not been checked yet. */
export interface CompactJws {
  /** The protected header, parsed. */
  header: Record<string, unknown>;
  /** The decoded payload bytes (not yet parsed). */
  payload: Uint8Array;
  /** The decoded signature. */
  signature: Uint8Array;
  /** `segment0 + "." + segment1` exactly as received (ASCII), the bytes the signature covers. */
  signingInput: Uint8Array;
}

const B64URL = /^[A-Za-z0-9_-]*$/;

/** One fatal UTF-8 decoder for every header (decode() keeps no state between calls). */
const UTF8 = new TextDecoder("utf-8", { fatal: true });

/** base64url (RFC 4648 §5) with trailing `=` padding tolerated; undefined when not base64url. */
function decodeSegment(s: string): Uint8Array | undefined {
  let end = s.length;
  if (s.charCodeAt(end - 1) === 0x3d) end -= s.charCodeAt(end - 2) === 0x3d ? 2 : 1;
  const body = end === s.length ? s : s.slice(0, end);
  if (body.length === 0 || body.length % 4 === 1 || !B64URL.test(body)) return undefined;
  if (end !== s.length && s.length % 4 !== 0) return undefined; // padded, but with the wrong amount
  return Buffer.from(body, "base64url"); // a Uint8Array; read-only here, so no copy out of Node's pool
}

/**
 * Splits and decodes a compact JWS. Returns a text naming the problem instead
 * of throwing: three non-empty base64url segments, and a header that is a
 * JSON object without `crit` (no extension this verifier understands).
 */
export function parseCompactJws(token: string): CompactJws | { error: string } {
  const parts = token.split(".");
  if (parts.length !== 3) return { error: `a compact JWS has 3 segments, this has ${parts.length}` };
  const [h, p, s] = parts as [string, string, string];
  if (!h || !p || !s) return { error: "a JWS segment is empty" };
  const headerBytes = decodeSegment(h);
  const payload = decodeSegment(p);
  const signature = decodeSegment(s);
  if (!headerBytes || !payload || !signature) return { error: "a JWS segment is not base64url" };
  let header: unknown;
  try {
    header = JSON.parse(UTF8.decode(headerBytes));
  } catch {
    return { error: "the JWS header is not JSON" };
  }
  if (typeof header !== "object" || header === null || Array.isArray(header)) return { error: "the JWS header is not a JSON object" };
  if ("crit" in header) return { error: "the JWS header has a crit parameter" };
  // Both segments passed the base64url check (ASCII, "=" at most), so latin1 encodes them byte for byte.
  const signingInput = Buffer.from(token.slice(0, h.length + 1 + p.length), "latin1");
  return { header: header as Record<string, unknown>, payload, signature, signingInput };
}

/**
 * Verifies `jws` against a pool's keys: `RS256` (RSASSA-PKCS1-v1_5 SHA-256,
 * RFC 7518 §3.3) with every RSA key of 2048 bits or more, `ES256` (ECDSA
 * P-256 SHA-256, §3.4) with every P-256 key, the signature as raw 64-byte
 * r||s or DER. Any other `alg` (none, HS*, PS*, missing) is false.
 */
export function verifyCompactJws(jws: CompactJws, keys: AnchorKeys): boolean {
  const alg = jws.header["alg"];
  if (alg === "RS256") return keys.rsa.some((k) => verifyRs256(k, jws.signingInput, jws.signature));
  if (alg === "ES256") {
    const sig = jws.signature;
    return keys.ec.some(
      (k) => (sig.length === 64 && verifyEs256(k, jws.signingInput, sig, "ieee-p1363")) || (sig[0] === 0x30 && verifyEs256(k, jws.signingInput, sig, "der")),
    );
  }
  return false;
}
