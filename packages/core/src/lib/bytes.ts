/** Byte helpers that need no Node API. */

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

/**
 * A copy of the bytes in memory of its own, a plain Uint8Array. `b.slice()` is not one when `b` is a Node Buffer:
 * Buffer.prototype.slice returns a view of the same memory.
 */
export function copyBytes(b: Uint8Array): Uint8Array<ArrayBuffer> {
  return new Uint8Array(b);
}

/** Lower-case hex. */
export function toHex(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < b.length; i++) s += HEX[b[i]!];
  return s;
}

/** Bytes of a hex string (throws on odd length or non-hex). */
export function fromHex(s: string): Uint8Array {
  if (s.length % 2 || /[^0-9a-f]/i.test(s)) throw new TypeError("invalid hex");
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return out;
}

// Node's Buffer where there is one: its latin1 decoding is native, ~0.3 µs for 256 bytes against ~1.9 µs through
// String.fromCharCode (measured, Node 20); below ~48 bytes the view it needs costs more than it saves.
const NodeBuffer = (globalThis as { Buffer?: typeof Buffer }).Buffer;

/** Latin-1 decoding (bytes → code points 0–255). */
export function latin1(b: Uint8Array): string {
  if (b.length >= 48 && NodeBuffer) return NodeBuffer.from(b.buffer, b.byteOffset, b.length).toString("latin1");
  // One string, not one per character; in chunks, as an argument list has a bounded length.
  if (b.length <= 4096) return String.fromCharCode.apply(null, b as unknown as number[]);
  let s = "";
  for (let i = 0; i < b.length; i += 4096) s += String.fromCharCode.apply(null, b.subarray(i, i + 4096) as unknown as number[]);
  return s;
}

/** Concatenates byte arrays. */
export function concat(parts: readonly Uint8Array[]): Uint8Array<ArrayBuffer> {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
