/**
 * RFC 8894 §3.2.1.5 senderNonce values and RFC 5652 §6.3 content-encryption keys and IVs are fresh random bytes.
 * Both come from one pool of CSPRNG output drawn 2 KiB at a time: every draw is its own copy, none repeats across
 * refills, every byte of the pool is handed out once and zeroed as it is taken, so no two callers (a public nonce and
 * a secret key included) share a byte.
 */
import { describe, expect, it } from "vitest";
import { RandomPool, randomFill, randomNonce } from "../src/lib/node-crypto.js";

const hexOf = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("hex");

/** A content-encryption key and IV as the CertRep draws them: into memory of the caller's (randomFill). */
function keyAndIv(n: number): Uint8Array {
  const out = new Uint8Array(new ArrayBuffer(n));
  randomFill(out);
  return out;
}

describe.each([
  { name: "RFC 8894 §3.2.1.5 senderNonce (randomNonce)", draw: randomNonce, size: 16, count: 300, buffer: true },
  { name: "RFC 5652 §6.3 content-encryption key and IV (randomFill)", draw: keyAndIv, size: 40, count: 200, buffer: false },
])("$name source", ({ draw, size, count, buffer }) => {
  it(`gives ${count} distinct ${size}-byte draws across several pool refills, each in memory of its own`, () => {
    const seen = new Set<string>();
    const draws: Uint8Array[] = [];
    for (let i = 0; i < count; i++) {
      const d = draw(size);
      expect(d.length).toBe(size);
      expect(Buffer.isBuffer(d)).toBe(buffer);
      seen.add(hexOf(d));
      draws.push(d);
    }
    expect(seen.size).toBe(count);
    // Own memory: writing one draw changes no other and no later one.
    const before = hexOf(draws[1]!);
    draws[0]!.fill(0);
    expect(hexOf(draws[1]!)).toBe(before);
    expect(draws[0]!.buffer).not.toBe(draws[1]!.buffer);
    expect(draws[1]!.buffer.byteLength).toBe(size); // not a view of the pool
    expect(hexOf(draw(16))).not.toBe("00".repeat(16));
  });

  it("serves other lengths exactly, and lengths above 256 straight from the CSPRNG", () => {
    for (const n of [8, 24, 64, 100, 256, 300]) expect(draw(n).length).toBe(n);
  });
});

describe("one pool for nonces and keys", () => {
  it("hands no byte run to two callers: interleaved nonces and keys share no 8-byte block across refills", () => {
    const blocks = new Set<string>();
    for (let i = 0; i < 150; i++) {
      for (const d of [randomNonce(16), keyAndIv(40)]) {
        for (let o = 0; o + 8 <= d.length; o += 8) blocks.add(hexOf(d.subarray(o, o + 8)));
      }
    }
    expect(blocks.size).toBe(150 * (2 + 5));
  });
});

describe("RandomPool", () => {
  it("hands out every byte of a refill once, in order, and zeroes it in the pool as it is taken", () => {
    const memory = new Uint8Array(64);
    const pool = new RandomPool(memory, 16);
    const first = pool.draw(16); // the first draw fills the pool
    expect(hexOf(memory.subarray(0, 16))).toBe("00".repeat(16));
    const rest = Uint8Array.from(memory.subarray(16));
    expect(hexOf(rest)).not.toBe("00".repeat(48));
    expect(hexOf(first)).not.toBe("00".repeat(16));
    const next = [pool.draw(16), pool.draw(16), pool.draw(16)];
    expect(next.map(hexOf)).toEqual([hexOf(rest.subarray(0, 16)), hexOf(rest.subarray(16, 32)), hexOf(rest.subarray(32, 48))]);
    expect(hexOf(memory)).toBe("00".repeat(64)); // all handed out, nothing left behind
  });

  it("refills when a draw does not fit what is left, and leaves the pool alone for a draw above its limit", () => {
    const memory = new Uint8Array(32);
    const pool = new RandomPool(memory, 16);
    pool.draw(12);
    pool.draw(12); // 8 left
    const left = hexOf(memory.subarray(24));
    expect(hexOf(memory.subarray(0, 24))).toBe("00".repeat(24));
    const big = pool.draw(17); // above maxDraw: straight from the CSPRNG
    expect(big.length).toBe(17);
    expect(hexOf(memory.subarray(24))).toBe(left);
    const d = pool.draw(12); // does not fit the 8 left: a fresh refill, taken from its start
    expect(d.length).toBe(12);
    expect(hexOf(memory.subarray(0, 12))).toBe("00".repeat(12));
    expect(hexOf(memory.subarray(24))).not.toBe(left); // the 8 bytes left over were overwritten, never handed out
    expect(hexOf(memory.subarray(12, 32))).not.toBe("00".repeat(20));
  });
});
