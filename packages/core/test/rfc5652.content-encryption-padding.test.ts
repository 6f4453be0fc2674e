/**
 * RFC 5652 §6.3: the content of an EnvelopedData is CBC-encrypted with the
 * PKCS#7 padding (1 to blockSize bytes, each holding the padding length).
 *
 * The codec decrypts with OpenSSL's padding off and checks the padding itself
 * (one buffer, no joined copy), and encrypts into two pieces a DER writer puts
 * side by side. These tests hold both to what OpenSSL's own padding does: the
 * same plaintext for every good padding, a {@link DecryptError} for exactly the
 * inputs OpenSSL refuses, over every content cipher SCEP uses.
 */
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CIPHERS, DecryptError, type ContentCipher } from "../src/index.js";
import * as nc from "../src/lib/node-crypto.js";

const OPENSSL_NAME: Record<ContentCipher, string> = {
  des: "des-ede3-cbc",
  des3: "des-ede3-cbc",
  aes128: "aes-128-cbc",
  aes192: "aes-192-cbc",
  aes256: "aes-256-cbc",
};
const CIPHER_NAMES = Object.keys(CIPHERS) as ContentCipher[];

/** The key OpenSSL gets: single DES is DES-EDE3 with three equal keys. */
function opensslKey(cipher: ContentCipher, key: Uint8Array): Uint8Array {
  return cipher === "des" ? Buffer.concat([key, key, key]) : key;
}

/** OpenSSL's own answer: the plaintext, or "refused" when its padding check (or block length check) fails. */
function opensslDecrypt(cipher: ContentCipher, key: Uint8Array, iv: Uint8Array, data: Uint8Array): Uint8Array | "refused" {
  try {
    const d = createDecipheriv(OPENSSL_NAME[cipher], opensslKey(cipher, key), iv);
    return Buffer.concat([d.update(data), d.final()]);
  } catch {
    return "refused";
  }
}

function ours(cipher: ContentCipher, key: Uint8Array, iv: Uint8Array, data: Uint8Array): Uint8Array | "refused" {
  try {
    return nc.decryptContent(cipher, key, iv, data);
  } catch (e) {
    expect(e).toBeInstanceOf(DecryptError);
    expect((e as DecryptError).code).toBe("ERR_DECRYPT_FAILED");
    return "refused";
  }
}

describe("RFC 5652 §6.3 content-encryption padding", () => {
  it.each(CIPHER_NAMES)("%s: encryptContentParts joined is OpenSSL's CBC + PKCS#7 output, and decryptContent reads it back", (cipher) => {
    const { keyLength, ivLength } = CIPHERS[cipher];
    for (let length = 0; length <= 3 * ivLength + 1; length++) {
      const key = randomBytes(keyLength);
      const iv = randomBytes(ivLength);
      const data = randomBytes(length);
      const parts = nc.encryptContentParts(cipher, key, iv, data);
      const joined = Buffer.concat(parts);
      const c = createCipheriv(OPENSSL_NAME[cipher], opensslKey(cipher, key), iv);
      expect(toHexOf(joined)).toBe(toHexOf(Buffer.concat([c.update(data), c.final()])));
      expect(toHexOf(nc.encryptContent(cipher, key, iv, data))).toBe(toHexOf(joined));
      expect(joined.length % ivLength).toBe(0);
      expect(toHexOf(nc.decryptContent(cipher, key, iv, joined))).toBe(toHexOf(data));
    }
  });

  it.each(CIPHER_NAMES)("%s: every last-byte padding value, good and bad, is accepted or refused as OpenSSL does", (cipher) => {
    const { keyLength, ivLength } = CIPHERS[cipher];
    const key = randomBytes(keyLength);
    const iv = randomBytes(ivLength);
    // Plaintext blocks whose last block ends in every possible padding byte, with the bytes before it either all
    // equal to that byte (good when 1..blockSize) or one of them off by one (bad).
    for (let pad = 0; pad < 256; pad++) {
      for (const flaw of [-1, 0, 1, ivLength - 1]) {
        const plain = Buffer.alloc(2 * ivLength, 0x41);
        for (let i = 1; i <= Math.min(pad, ivLength); i++) plain[plain.length - i] = pad;
        plain[plain.length - 1] = pad;
        if (flaw >= 0 && flaw < Math.min(pad, ivLength) - 1) plain[plain.length - 2 - flaw] = (pad + 1) & 0xff;
        const c = createCipheriv(OPENSSL_NAME[cipher], opensslKey(cipher, key), iv);
        c.setAutoPadding(false);
        const data = Buffer.concat([c.update(plain), c.final()]);
        const want = opensslDecrypt(cipher, key, iv, data);
        const got = ours(cipher, key, iv, data);
        expect(got === "refused" ? got : toHexOf(got), `pad ${pad}, flaw ${flaw}`).toBe(want === "refused" ? want : toHexOf(want));
      }
    }
  });

  it("empty, short and ragged ciphertexts are refused with ERR_DECRYPT_FAILED, as OpenSSL refuses them", () => {
    for (const cipher of CIPHER_NAMES) {
      const { keyLength, ivLength } = CIPHERS[cipher];
      const key = randomBytes(keyLength);
      const iv = randomBytes(ivLength);
      for (const length of [0, 1, ivLength - 1, ivLength + 1, 2 * ivLength + 3]) {
        const data = randomBytes(length);
        expect(opensslDecrypt(cipher, key, iv, data)).toBe("refused");
        expect(ours(cipher, key, iv, data)).toBe("refused");
      }
    }
  });

  it("random ciphertexts under random keys: the same decision and plaintext as OpenSSL (property)", () => {
    fc.assert(
      fc.property(fc.constantFrom(...CIPHER_NAMES), fc.integer({ min: 1, max: 6 }), fc.nat(), (cipher, blocks, seed) => {
        const { keyLength, ivLength } = CIPHERS[cipher];
        const key = randomBytes(keyLength);
        const iv = randomBytes(ivLength);
        const data = randomBytes(blocks * ivLength);
        data[0]! ^= seed & 0xff;
        const want = opensslDecrypt(cipher, key, iv, data);
        const got = ours(cipher, key, iv, data);
        expect(got === "refused" ? got : toHexOf(got)).toBe(want === "refused" ? want : toHexOf(want));
      }),
      { numRuns: 2000 },
    );
  });
});

function toHexOf(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("hex");
}
