/**
 * RFC 5652 §6.3: each envelope this side writes has a fresh random content-encryption
 * key and IV. They come from a pool of CSPRNG output drawn 2 KiB at a time; every key
 * is its own copy, none repeats across refills, and no byte stays in the pool once
 * it has been handed out.
 */
import { describe, expect, it } from "vitest";
import { randomSecret } from "../src/lib/node-crypto.js";

describe("RFC 5652 §6.3 content-encryption key source", () => {
  it("gives distinct 40-byte key+IV draws across several pool refills, each in its own memory", () => {
    const seen = new Set<string>();
    const keys: Uint8Array[] = [];
    for (let i = 0; i < 200; i++) {
      const k = randomSecret(40); // AES-256 key and IV: 200 draws refill a 2 KiB pool four times
      expect(k.length).toBe(40);
      seen.add(Buffer.from(k).toString("hex"));
      keys.push(k);
    }
    expect(seen.size).toBe(200);
    const before = Buffer.from(keys[1]!).toString("hex");
    keys[0]!.fill(0);
    expect(Buffer.from(keys[1]!).toString("hex")).toBe(before);
    expect(keys[0]!.buffer).not.toBe(keys[1]!.buffer);
    expect(keys[1]!.buffer.byteLength).toBe(40); // not a view of the pool
  });

  it("serves other lengths exactly, and lengths above 256 straight from the CSPRNG", () => {
    expect(randomSecret(24).length).toBe(24);
    expect(randomSecret(256).length).toBe(256);
    expect(randomSecret(300).length).toBe(300);
    expect(Buffer.from(randomSecret(16)).toString("hex")).not.toBe("00".repeat(16));
  });
});
