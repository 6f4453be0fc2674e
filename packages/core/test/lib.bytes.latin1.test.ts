/**
 * latin1 of lib/bytes.ts, toBase64 and toBase64Url of encoding.ts (the one Latin-1 decoder: DER strings, PEM given as bytes, base64
 * of GET messages; the one base64url encoder: challenges, JWK members, re-send bindings) agree with Node's Buffer for
 * every byte value, across the 4096-byte chunks it decodes in.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { latin1 } from "../src/lib/bytes.js";
import { toBase64, toBase64Url } from "../src/encoding.js";

describe("latin1 / toBase64 (RFC 4648 §4) / toBase64Url (§5) equal Buffer's for any bytes", () => {
  it("every length up to 3 chunks, every byte value", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 3 * 4096 + 7 }), (b) => {
        expect(latin1(b)).toBe(Buffer.from(b).toString("latin1"));
        expect(toBase64(b)).toBe(Buffer.from(b).toString("base64"));
        expect(toBase64Url(b)).toBe(Buffer.from(b).toString("base64url"));
      }),
      { numRuns: 60 },
    );
  });

  it("at the chunk edges: 4095, 4096, 4097 and 8192 bytes of 0x00-0xff", () => {
    for (const n of [0, 1, 4095, 4096, 4097, 8192]) {
      const b = Uint8Array.from({ length: n }, (_, i) => (i * 151) & 0xff);
      expect(latin1(b)).toBe(Buffer.from(b).toString("latin1"));
    }
  });
});

describe("toBase64Url (RFC 4648 §5)", () => {
  it("drops the padding of lengths 1 and 2 mod 3 and spells 62 and 63 as - and _", () => {
    expect(toBase64Url(new Uint8Array([]))).toBe("");
    expect(toBase64Url(new Uint8Array([0xfb]))).toBe("-w");
    expect(toBase64Url(new Uint8Array([0xfb, 0xff]))).toBe("-_8");
    expect(toBase64Url(new Uint8Array([0xfb, 0xff, 0xbf]))).toBe("-_-_");
  });
});
