/**
 * No padding oracle in RSAES-PKCS1-v1_5 key transport (Bleichenbacher), and
 * single DES done right on OpenSSL 3's default provider.
 *
 * A ciphertext with a bad PKCS#1 padding, one that carries a content key of
 * the wrong length, and one with a good padding around the wrong content key
 * must be indistinguishable to the sender: same error class, code, failInfo,
 * message and cause. `LocalKey.decrypt` implements implicit rejection: it
 * never throws for a bad padding and returns pseudo-random bytes of the
 * requested length, the same ones for the same ciphertext.
 */
import { constants, createHmac, publicEncrypt, randomBytes } from "node:crypto";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { CIPHERS, DecryptError, LocalKey, decodePkiMessage, type ContentCipher, type ScepError } from "../src/index.js";
import * as nc from "../src/lib/node-crypto.js";
import { fromHex, toHex } from "../src/lib/bytes.js";
import { withScratch } from "./support/openssl.js";
import { craftedPkcsReq, signedPkcsReq } from "./support/oracle-messages.js";
import { NOW, createTestPki, type TestPki } from "./support/pki.js";

let pki: TestPki;
let ca: LocalKey;
const K = 256; // RSA-2048 modulus bytes
beforeAll(async () => {
  pki = await createTestPki();
  ca = pki.ca;
});

/** Raw RSA (no padding) of a 256-byte block to the CA's public key. */
function rawRsa(em: Uint8Array): Uint8Array {
  expect(em).toHaveLength(K);
  return publicEncrypt({ key: nc.publicKeyFromSpki(ca.certificate.spki), padding: constants.RSA_NO_PADDING }, em);
}

/** A PKCS#1 v1.5 type-2 block with a chosen layout. */
function block(options: { type?: number; psLength?: number; separator?: boolean; message: Uint8Array }): Uint8Array {
  const em = new Uint8Array(K);
  em[0] = 0x00;
  em[1] = options.type ?? 0x02;
  const psLength = options.psLength ?? K - 3 - options.message.length;
  for (let i = 0; i < psLength; i++) em[2 + i] = 1 + (randomBytes(1)[0]! % 255); // non-zero
  let o = 2 + psLength;
  if (options.separator ?? true) em[o++] = 0x00;
  em.set(options.message, o);
  o += options.message.length;
  for (; o < K; o++) em[o] = 1 + (randomBytes(1)[0]! % 255); // never reached for a well-formed layout
  return em;
}

function cbcPaddingFails(cipher: ContentCipher, key: Uint8Array, iv: Uint8Array, data: Uint8Array): boolean {
  try {
    nc.decryptContent(cipher, key, iv, data);
    return false;
  } catch {
    return true;
  }
}

/**
 * A signed PKCSReq whose envelope carries `encryptedKey` (made from the real
 * content key by `craft`). A random key opens CBC with a valid-looking
 * padding about once in 256 tries, and then the CSR parse fails instead
 * (ERR_CSR_INVALID), exactly as it would for a wrong key: no oracle, but a
 * flaky test. So each crafted ciphertext is redrawn until the key the CA
 * derives from it (deterministic per ciphertext, as asserted below) fails the
 * CBC padding.
 */
async function craftedRequest(cipher: ContentCipher, craft: (cek: Uint8Array) => Uint8Array, transactionId: string): Promise<Uint8Array> {
  const message = await craftedPkcsReq(ca, pki.requesters.rsa, craft, { cipher, transactionId, senderNonce: new Uint8Array(16).fill(9), now: NOW, attempts: 64 });
  if (!message) throw new Error("could not craft a ciphertext whose rejection key fails CBC padding");
  return message;
}

async function failure(bytes: Uint8Array): Promise<ScepError> {
  try {
    await decodePkiMessage(bytes, { decrypters: ca });
  } catch (e) {
    return e as ScepError;
  }
  throw new Error("expected decodePkiMessage to fail");
}

function shape(e: ScepError): unknown {
  return {
    isDecryptError: e instanceof DecryptError,
    name: e.name,
    code: e.code,
    failInfo: e.failInfo,
    message: e.message,
    cause: (e.cause as Error | undefined)?.message,
    signatureVerified: e.request?.signatureVerified,
  };
}

const BAD: Record<string, (cek: Uint8Array) => Uint8Array> = {
  "block type 1 instead of 2": (cek) => rawRsa(block({ type: 0x01, message: cek })),
  "no zero separator": (cek) => rawRsa(block({ separator: false, psLength: K - 2, message: new Uint8Array() })),
  "padding string shorter than 8 bytes": (cek) => rawRsa(block({ psLength: 4, message: fromHex(toHex(cek).padEnd(2 * (K - 7), "ab")) })),
  "leading byte not zero": (cek) => {
    const em = block({ message: cek });
    em[0] = 0x01; // still below an RSA-2048 modulus, whose top byte is ≥ 0x80
    return rawRsa(em);
  },
};

describe("RSAES-PKCS1-v1_5: bad padding, wrong key length and wrong key look the same", () => {
  it.each(["aes256", "aes128", "des3", "des"] as const)("%s: every failure is one DecryptError (ERR_DECRYPT_FAILED, badMessageCheck)", async (cipher) => {
    const keyLength = CIPHERS[cipher].keyLength;
    const variants: Record<string, (cek: Uint8Array) => Uint8Array> = {
      ...BAD,
      // A well-formed padding around a key of the wrong length.
      "content key of the wrong length": (cek) => publicEncrypt({ key: nc.publicKeyFromSpki(ca.certificate.spki), padding: constants.RSA_PKCS1_PADDING }, new Uint8Array([...cek, ...cek]).subarray(0, keyLength === 8 ? 16 : 8)),
      "content key one byte longer": (cek) => publicEncrypt({ key: nc.publicKeyFromSpki(ca.certificate.spki), padding: constants.RSA_PKCS1_PADDING }, new Uint8Array([...cek, 0x42])),
      // A well-formed padding around the wrong key of the right length.
      "correct padding, wrong content key": () => publicEncrypt({ key: nc.publicKeyFromSpki(ca.certificate.spki), padding: constants.RSA_PKCS1_PADDING }, nc.randomBytes(keyLength)),
      // Not even the modulus length (public knowledge, still no distinct error).
      "ciphertext one byte short": (cek) => rawRsa(block({ message: cek })).subarray(1),
    };
    const shapes: Array<[string, unknown]> = [];
    for (const [name, craft] of Object.entries(variants)) {
      const e = await failure(await craftedRequest(cipher, craft, `IR-${cipher}`));
      expect(e.request?.transactionId).toBe(`IR-${cipher}`);
      shapes.push([name, shape(e)]);
    }
    const expected = {
      isDecryptError: true,
      name: "DecryptError",
      code: "ERR_DECRYPT_FAILED",
      failInfo: "badMessageCheck",
      message: "could not decrypt the envelope",
      cause: shapes[0]![1] && (shapes[0]![1] as { cause: string }).cause,
      signatureVerified: true,
    };
    expect(typeof expected.cause).toBe("string");
    for (const [name, s] of shapes) expect([name, s]).toEqual([name, expected]);
  });

  it("the control: the same construction with the right key decodes", async () => {
    const msg = await craftedRequestValid();
    const req = await decodePkiMessage(msg, { decrypters: ca });
    expect(toHex(req.csr!.der)).toBe(toHex(pki.requesters.rsa.csr));
  });

  async function craftedRequestValid(): Promise<Uint8Array> {
    const cek = nc.randomBytes(32);
    const iv = nc.randomBytes(16);
    return signedPkcsReq(ca, pki.requesters.rsa, {
      cipher: "aes256",
      iv,
      encrypted: nc.encryptContent("aes256", cek, iv, pki.requesters.rsa.csr),
      encryptedKey: rawRsa(block({ message: cek })),
      transactionId: "IR-ok",
      senderNonce: new Uint8Array(16),
      now: NOW,
    });
  }
});

describe("LocalKey.decrypt (RSAES-PKCS1-v1_5) implements implicit rejection", () => {
  const params = (keyLength: number) => ({ transport: "rsaes-pkcs1-v1_5" as const, keyLength });

  it("a valid ciphertext yields the content key", async () => {
    const cek = nc.randomBytes(24);
    const ct = publicEncrypt({ key: nc.publicKeyFromSpki(ca.certificate.spki), padding: constants.RSA_PKCS1_PADDING }, cek);
    expect(toHex(await ca.decrypt(ct, params(24)))).toBe(toHex(cek));
  });

  it("never throws for any 256-byte block below the modulus; same bytes of the requested length for the same ciphertext", async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: K - 1, maxLength: K - 1 }), fc.constantFrom(8, 16, 24, 32), async (tail, keyLength) => {
        const ct = rawRsa(new Uint8Array([0, ...tail]));
        const a = await ca.decrypt(ct, params(keyLength));
        const b = await ca.decrypt(ct.slice(), params(keyLength));
        expect(a).toHaveLength(keyLength);
        expect(toHex(b)).toBe(toHex(a));
      }),
      { numRuns: 200 },
    );
  });

  it("never throws for ciphertexts of any length, or not below the modulus", async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 0, maxLength: 2 * K }), async (ct) => {
        const a = await ca.decrypt(ct, params(32));
        expect(a).toHaveLength(32);
        expect(toHex(await ca.decrypt(ct, params(32)))).toBe(toHex(a));
      }),
      { numRuns: 200 },
    );
    const huge = new Uint8Array(K).fill(0xff); // ≥ the modulus
    expect(await ca.decrypt(huge, params(16))).toHaveLength(16);
  });

  it("the rejection key is HMAC-SHA256(secret, counter ‖ ciphertext), RFC 2104, byte for byte what createHmac gives", () => {
    const reference = (secret: Uint8Array, ct: Uint8Array, length: number): string => {
      let hex = "";
      for (let counter = 0; hex.length < 2 * length; counter++) hex += createHmac("sha256", secret).update(new Uint8Array([counter])).update(ct).digest("hex");
      return hex.slice(0, 2 * length);
    };
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 64 }), fc.uint8Array({ minLength: 0, maxLength: 600 }), fc.integer({ min: 1, max: 100 }), (secret, ct, length) => {
        expect(toHex(nc.syntheticKey(secret, ct, length))).toBe(reference(secret, ct, length));
        expect(toHex(nc.syntheticKey(secret, ct, length))).toBe(reference(secret, ct, length)); // the cached pads and the scratch are reused cleanly
      }),
      { numRuns: 300 },
    );
  });

  it("each bad padding maps to its own pseudo-random key (not a constant)", async () => {
    const keys = new Set<string>();
    for (let i = 0; i < 16; i++) keys.add(toHex(await ca.decrypt(rawRsa(block({ type: 0x01, message: new Uint8Array(32) })), params(32))));
    expect(keys.size).toBe(16);
  });

  it("RSAES-OAEP failures are a DecryptError too", async () => {
    const ct = rawRsa(block({ message: new Uint8Array(32) }));
    await expect(ca.decrypt(ct, { transport: "rsaes-oaep", keyLength: 32, oaepHash: "sha1" })).rejects.toMatchObject({ code: "ERR_DECRYPT_FAILED", failInfo: "badMessageCheck", message: "could not decrypt the envelope" });
  });
});

describe("DES-CBC on OpenSSL 3's default provider (as DES-EDE3 with K1 = K2 = K3)", () => {
  // FIPS 81, Appendix C, Table C2 (CBC mode): "Now is the time for all ".
  const KEY = fromHex("0123456789abcdef");
  const IV = fromHex("1234567890abcdef");
  const PLAIN = new TextEncoder().encode("Now is the time for all ");
  const CIPHER = "e5c7cdde872bf27c43e934008c389c0f683788499a7c05f6";

  it("matches the FIPS 81 CBC known-answer vector", () => {
    const out = nc.encryptContent("des", KEY, IV, PLAIN);
    expect(out).toHaveLength(32); // 24 bytes + one PKCS#7 padding block
    expect(toHex(out.subarray(0, 24))).toBe(CIPHER);
    expect(new TextDecoder().decode(nc.decryptContent("des", KEY, IV, out))).toBe("Now is the time for all ");
  });

  it("matches `openssl enc -des-cbc -provider legacy` both ways", async () => {
    await withScratch(async (s) => {
      const samples: Array<[Uint8Array, Uint8Array, Uint8Array]> = fc.sample(fc.tuple(fc.uint8Array({ minLength: 8, maxLength: 8 }), fc.uint8Array({ minLength: 8, maxLength: 8 }), fc.uint8Array({ minLength: 0, maxLength: 100 })), 12);
      samples.push([KEY, IV, PLAIN]);
      for (const [i, [key, iv, data]] of samples.entries()) {
        s.write(`p${i}.bin`, data);
        await s.run(["enc", "-des-cbc", "-provider", "legacy", "-provider", "default", "-K", toHex(key), "-iv", toHex(iv), "-in", `p${i}.bin`, "-out", `c${i}.bin`]);
        const theirs = s.read(`c${i}.bin`);
        expect(toHex(nc.encryptContent("des", key, iv, data))).toBe(toHex(theirs));
        expect(toHex(nc.decryptContent("des", key, iv, theirs))).toBe(toHex(data));
      }
      expect(toHex(s.read(`c${samples.length - 1}.bin`).subarray(0, 24))).toBe(CIPHER);
    });
  });

  it("DES-EDE3-CBC matches `openssl enc -des-ede3-cbc` too", async () => {
    await withScratch(async (s) => {
      const key = nc.randomBytes(24);
      const iv = nc.randomBytes(8);
      const data = nc.randomBytes(77);
      s.write("p.bin", data);
      await s.run(["enc", "-des-ede3-cbc", "-K", toHex(key), "-iv", toHex(iv), "-in", "p.bin", "-out", "c.bin"]);
      expect(toHex(nc.encryptContent("des3", key, iv, data))).toBe(toHex(s.read("c.bin")));
    });
  });

  it("a wrong DES key is a DecryptError, never a thrown OpenSSL error", () => {
    const out = nc.encryptContent("des", KEY, IV, PLAIN);
    // Find a wrong key whose CBC padding check fails (most do).
    let wrong = fromHex("fedcba9876543210");
    for (let i = 0; !cbcPaddingFails("des", wrong, IV, out); i++) wrong = fromHex((0x1000 + i).toString(16).padStart(16, "0"));
    expect(() => nc.decryptContent("des", wrong, IV, out)).toThrow(expect.objectContaining({ code: "ERR_DECRYPT_FAILED", failInfo: "badMessageCheck" }));
  });
});
