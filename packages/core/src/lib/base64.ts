/**
 * Base64 (RFC 4648 §4) and base64url (§5) of bytes, and the decoding of base64 text already checked to be in the
 * standard alphabet without padding: Node's Buffer where there is one (native), a portable path elsewhere (browsers,
 * Deno without the Node globals). The public encoders in `encoding.ts` choose; tests compare both paths.
 */
import { latin1 } from "./bytes.js";

// The same detection as latin1 in bytes.ts (no `node:` import, so the rest stays on web APIs).
const NodeBuffer = (globalThis as { Buffer?: typeof Buffer }).Buffer;

/** A Buffer over `b`'s own bytes (no copy; a subarray keeps its offset). */
const view = (B: typeof Buffer, b: Uint8Array): Buffer => B.from(b.buffer, b.byteOffset, b.length);

/** Standard base64 with padding, portable. */
export function base64Portable(b: Uint8Array): string {
  return btoa(latin1(b));
}

/** Base64url without padding, portable. */
export function base64UrlPortable(b: Uint8Array): string {
  const padded = base64Portable(b);
  return padded.slice(0, padded.length - ((3 - (b.length % 3)) % 3)).replace(/\+/g, "-").replace(/\//g, "_");
}

/** Bytes of `s`: `A-Z a-z 0-9 + /` only, no padding, `s.length % 4 !== 1` (the caller checked). Portable. */
export function fromBase64Portable(s: string): Uint8Array {
  const bin = atob(s + "=".repeat((4 - (s.length % 4)) % 4));
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/**
 * Standard base64 with padding (native where Node's Buffer is; measured, Node 20, native vs portable: ~0.2 vs ~0.4 µs at
 * 64 bytes, ~1 vs ~3 µs at 8 KiB).
 */
export const base64: (b: Uint8Array) => string = NodeBuffer ? (b) => view(NodeBuffer, b).toString("base64") : base64Portable;

/**
 * Base64url without padding (native where Node's Buffer is; measured, Node 20, native vs portable: ~0.3 vs ~1 µs for
 * a 32-byte digest, ~1 vs ~50 µs at 8 KiB, the two regex replaces being most of the portable cost).
 */
export const base64Url: (b: Uint8Array) => string = NodeBuffer ? (b) => view(NodeBuffer, b).toString("base64url") : base64UrlPortable;

/**
 * {@link fromBase64Portable}, native where Node's Buffer is and `s` has 512 characters or more: written straight into
 * the result, no binary string. Below that the Buffer view costs more than atob and the copy loop (measured, Node 20,
 * portable vs native: ~0.3 vs ~1 µs at 64 bytes, ~6 vs ~0.7 µs at 1 KiB, ~50 vs ~3 µs at 8 KiB, a GET PKIOperation's size).
 */
export function fromBase64(s: string): Uint8Array {
  if (s.length < 512 || !NodeBuffer) return fromBase64Portable(s);
  const out = new Uint8Array(Math.floor((s.length * 3) / 4));
  view(NodeBuffer, out).write(s, "base64");
  return out;
}
