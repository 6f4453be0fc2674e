/**
 * RFC 8894 §3.2.1.5: senderNonce values are fresh random bytes. They come from
 * a pool of CSPRNG output drawn 64 nonces at a time; every nonce is its own
 * copy, none repeats across a refill, and no caller shares another's bytes.
 */
import { describe, expect, it } from "vitest";
import { randomNonce } from "../src/lib/node-crypto.js";

describe("RFC 8894 §3.2.1.5 senderNonce source", () => {
  it("gives distinct 16-byte nonces across several pool refills, each a separate Buffer", () => {
    const seen = new Set<string>();
    const nonces: Uint8Array[] = [];
    for (let i = 0; i < 300; i++) {
      const n = randomNonce(16);
      expect(n.length).toBe(16);
      expect(Buffer.isBuffer(n)).toBe(true);
      seen.add(Buffer.from(n).toString("hex"));
      nonces.push(n);
    }
    expect(seen.size).toBe(300);
    // Own memory: writing one nonce changes no other and no later one.
    const before = Buffer.from(nonces[1]!).toString("hex");
    nonces[0]!.fill(0);
    expect(Buffer.from(nonces[1]!).toString("hex")).toBe(before);
    expect(nonces[0]!.buffer).not.toBe(nonces[1]!.buffer);
    expect(Buffer.from(randomNonce(16)).toString("hex")).not.toBe("00".repeat(16));
  });

  it("serves other lengths exactly, and lengths above 64 straight from the CSPRNG", () => {
    expect(randomNonce(8).length).toBe(8);
    expect(randomNonce(64).length).toBe(64);
    expect(randomNonce(100).length).toBe(100);
  });
});
