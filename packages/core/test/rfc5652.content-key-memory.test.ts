/**
 * RFC 5652 §6.3: a SUCCESS CertRep's content-encryption key and IV are fresh random bytes, used by the content cipher
 * and the key transport and then let go. They are held in a reused buffer outside V8's heap (`withSecretBytes`: no new
 * backing store a message for the garbage collector to free) and zeroed once the key is wrapped, so no copy of a
 * reply's content key stays in the process. The digests a message computes (messageDigest, RFC 5652 §11.2) come back
 * from `crypto.hash` as a one-byte string and are copied into an array of their own: byte for byte what a Hash
 * object gives.
 */
import { createHash } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import { buildEnvelopedData, openEnvelope, parseEnvelopedData } from "../src/cms/enveloped-data.js";
import * as nc from "../src/lib/node-crypto.js";
import { CIPHERS, DIGEST_OID } from "../src/algorithms.js";
import { createTestPki, type TestPki } from "./support/pki.js";

const allZero = (b: Uint8Array): boolean => b.every((x) => x === 0);
const scratchIsClean = (): boolean => nc.withSecretBytes(nc.SECRET_SCRATCH_BYTES, (b) => allZero(b));

let pki: TestPki;
beforeAll(async () => {
  pki = await createTestPki();
});

describe("RFC 5652 §6.3 content-encryption key memory (withSecretBytes)", () => {
  it("hands out zeroed bytes and zeroes them after use, also when `use` throws", () => {
    const seen: Uint8Array[] = [];
    nc.withSecretBytes(40, (b) => {
      expect(allZero(b)).toBe(true);
      b.fill(0xa5);
      seen.push(b);
    });
    expect(allZero(seen[0]!)).toBe(true);
    expect(() =>
      nc.withSecretBytes(24, (b) => {
        b.fill(0x5a);
        seen.push(b);
        throw new Error("boom");
      }),
    ).toThrow("boom");
    expect(allZero(seen[1]!)).toBe(true);
    expect(scratchIsClean()).toBe(true);
  });

  it("gives a nested call bytes of its own (after the outer ones), and one past the buffer's room memory of its own", () => {
    nc.withSecretBytes(40, (outer) => {
      outer.fill(1);
      nc.withSecretBytes(24, (inner) => {
        expect(allZero(inner)).toBe(true);
        inner.fill(2);
        expect(outer.every((x) => x === 1)).toBe(true);
      });
      nc.withSecretBytes(nc.SECRET_SCRATCH_BYTES, (big) => {
        expect(big.length).toBe(nc.SECRET_SCRATCH_BYTES);
        expect(allZero(big)).toBe(true);
        big.fill(3);
        expect(outer.every((x) => x === 1)).toBe(true);
      });
      expect(outer.every((x) => x === 1)).toBe(true);
    });
    expect(scratchIsClean()).toBe(true);
  });

  it.each(Object.keys(CIPHERS) as (keyof typeof CIPHERS)[])(
    "an envelope under %s opens to its content and leaves no byte of its key or IV behind",
    async (cipher) => {
      const content = new Uint8Array(777).map((_, i) => i & 0xff);
      const der = buildEnvelopedData({ content, recipient: pki.ca.certificate, cipher });
      expect(scratchIsClean()).toBe(true);
      const env = parseEnvelopedData(der);
      expect(env.cipher).toBe(cipher);
      expect(env.iv.length).toBe(CIPHERS[cipher].ivLength);
      expect(allZero(env.iv)).toBe(false);
      const opened = await openEnvelope(env, [pki.ca]);
      expect(Buffer.compare(Buffer.from(opened.content), Buffer.from(content))).toBe(0);
      expect(scratchIsClean()).toBe(true);
    },
  );

  it("two envelopes of one content get different keys and IVs (each drawn fresh)", () => {
    const content = new Uint8Array(64);
    const a = parseEnvelopedData(buildEnvelopedData({ content, recipient: pki.ca.certificate, cipher: "aes128" }));
    const b = parseEnvelopedData(buildEnvelopedData({ content, recipient: pki.ca.certificate, cipher: "aes128" }));
    expect(Buffer.compare(Buffer.from(a.iv), Buffer.from(b.iv))).not.toBe(0);
    expect(Buffer.compare(Buffer.from(a.encryptedContent), Buffer.from(b.encryptedContent))).not.toBe(0);
  });
});

describe("RandomPool.drawInto", () => {
  it("fills the caller's memory, zeroes what it took from the pool, and fills more than the pool's largest draw from the CSPRNG", () => {
    const memory = new Uint8Array(64);
    const pool = new nc.RandomPool(memory, 16);
    const out = new Uint8Array(16);
    pool.drawInto(out);
    expect(allZero(out)).toBe(false);
    expect(allZero(memory.subarray(0, 16))).toBe(true);
    const big = new Uint8Array(100);
    pool.drawInto(big);
    expect(allZero(big)).toBe(false);
    expect(allZero(memory.subarray(16))).toBe(false); // the pool was not used for it
  });
});

describe("RFC 5652 §11.2 message digests", () => {
  it.each(Object.keys(DIGEST_OID) as (keyof typeof DIGEST_OID)[])("nc.digest(%s) is byte for byte createHash's digest, every byte value included", (alg) => {
    const data = new Uint8Array(1024).map((_, i) => (i * 37) & 0xff);
    const expected = createHash(alg).update(data).digest();
    const got = nc.digest(alg, data);
    expect(got).toBeInstanceOf(Uint8Array);
    expect(Buffer.from(got).toString("hex")).toBe(expected.toString("hex"));
    expect(got.length).toBe(expected.length);
  });
});
