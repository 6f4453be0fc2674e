/**
 * lib/base64.ts: the native encoders and decoder (Node's Buffer, what `toBase64`, `toBase64Url` and
 * `fromBase64Lenient` use under Node) give what the portable ones (browsers) give, for any bytes, including a
 * subarray that starts inside its buffer (a view must read its own bytes, not the buffer's first ones), and the
 * decoder writes nothing past its result.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { base64, base64Portable, base64Url, base64UrlPortable, fromBase64, fromBase64Portable } from "../src/lib/base64.js";
import { fromBase64Lenient, toBase64, toBase64Url } from "../src/encoding.js";

/** `bytes` as a subarray starting `offset` bytes into a larger buffer whose other bytes are 0xee. */
function at(bytes: Uint8Array, offset: number): Uint8Array {
  const whole = new Uint8Array(offset + bytes.length + 5).fill(0xee);
  whole.set(bytes, offset);
  return whole.subarray(offset, offset + bytes.length);
}

const unpadded = (s: string): string => s.replace(/=+$/, "");

describe("native base64 (Buffer) equals the portable path (RFC 4648 §4, §5)", () => {
  it("runs the native path here (Node), so the comparison compares two implementations", () => {
    expect(typeof (globalThis as { Buffer?: unknown }).Buffer).toBe("function");
    expect(base64).not.toBe(base64Portable);
    expect(base64Url).not.toBe(base64UrlPortable);
  });

  it("every length 0..300, at byte offsets 0..7: toBase64 / toBase64Url equal the portable encoders", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 300 }), fc.integer({ min: 0, max: 7 }), (raw, offset) => {
        const b = at(raw, offset);
        expect(b.byteOffset).toBe(offset);
        expect(toBase64(b)).toBe(base64Portable(raw));
        expect(toBase64Url(b)).toBe(base64UrlPortable(raw));
      }),
      { numRuns: 400 },
    );
    for (let n = 0; n <= 300; n++) {
      const raw = Uint8Array.from({ length: n }, (_, i) => (i * 151 + n) & 0xff);
      expect([n, toBase64(at(raw, 3))]).toEqual([n, base64Portable(raw)]);
      expect([n, toBase64Url(at(raw, 1))]).toEqual([n, base64UrlPortable(raw)]);
    }
  });

  it("decoding, below and above the 512-character switch to Buffer: equal to the portable decoder, a plain Uint8Array of exactly the bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 1200 }), (raw) => {
        const s = unpadded(base64Portable(raw));
        const native = fromBase64(s);
        expect(native).toEqual(fromBase64Portable(s));
        expect(native).toEqual(raw);
        expect(native.constructor).toBe(Uint8Array);
        expect(native.buffer.byteLength).toBe(raw.length);
      }),
      { numRuns: 300 },
    );
    for (const n of [381, 382, 383, 384, 385, 386]) {
      // 508..516 characters: both sides of the switch, with 0, 1 and 2 bytes in the last group.
      const raw = Uint8Array.from({ length: n }, (_, i) => (i * 37) & 0xff);
      expect(fromBase64Lenient(base64Portable(raw))).toEqual(raw);
      expect(fromBase64Lenient(base64UrlPortable(raw))).toEqual(raw);
    }
  });
});
