/**
 * The public-key cache of node-crypto.ts: an SPKI imported once is shared by
 * every byte array holding the same content (a request's signer certificate and
 * its PKCS#10 usually carry the same key), the entries used keep their place,
 * and the cache stays bounded (256 keys).
 */
import { generateKeyPairSync } from "node:crypto";
import { describe, expect, it } from "vitest";
import * as nc from "../src/lib/node-crypto.js";

const ecSpki = (): Uint8Array => generateKeyPairSync("ec", { namedCurve: "P-256" }).publicKey.export({ format: "der", type: "spki" });

describe("publicKeyFromSpki caches KeyObjects by SPKI content, least recently used out", () => {
  it("the same content in another buffer gives the same KeyObject", () => {
    const spki = ecSpki();
    expect(nc.publicKeyFromSpki(spki.slice())).toBe(nc.publicKeyFromSpki(spki.slice()));
  });

  it("a key looked up regularly stays while 1,000 others pass through; one left alone is evicted", () => {
    const hot = ecSpki();
    const cold = ecSpki();
    const hotKey = nc.publicKeyFromSpki(hot.slice());
    const coldKey = nc.publicKeyFromSpki(cold.slice());
    for (let i = 0; i < 1000; i++) {
      nc.publicKeyFromSpki(ecSpki());
      if (i % 100 === 0) expect(nc.publicKeyFromSpki(hot.slice())).toBe(hotKey);
    }
    expect(nc.publicKeyFromSpki(hot.slice())).toBe(hotKey);
    const again = nc.publicKeyFromSpki(cold.slice());
    expect(again).not.toBe(coldKey); // imported anew
    expect(again.export({ format: "der", type: "spki" })).toEqual(coldKey.export({ format: "der", type: "spki" }));
  });

  it("two SPKIs that differ only in bytes the lookup hash does not sample stay two keys, each found again", () => {
    const a = generateKeyPairSync("rsa", { modulusLength: 2048 }).publicKey.export({ format: "der", type: "spki" });
    const b = Uint8Array.from(a);
    b[b.length - 8] = b[b.length - 8]! ^ 0x01; // the modulus's low bytes (before the exponent 65537): not among the ~32 sampled bytes
    const keyA = nc.publicKeyFromSpki(a.slice());
    const keyB = nc.publicKeyFromSpki(b.slice());
    expect(keyB).not.toBe(keyA);
    expect(Buffer.from(keyA.export({ format: "der", type: "spki" })).equals(a)).toBe(true);
    expect(Buffer.from(keyB.export({ format: "der", type: "spki" })).equals(b)).toBe(true);
    expect(nc.publicKeyFromSpki(a.slice())).toBe(keyA);
    expect(nc.publicKeyFromSpki(b.slice())).toBe(keyB);
  });

  it("rsaModulusBits reads RSA sizes and is undefined for EC keys", () => {
    const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 }).publicKey;
    expect(nc.rsaModulusBits(rsa)).toBe(2048);
    expect(nc.rsaModulusBits(rsa)).toBe(2048);
    expect(nc.rsaModulusBytes(rsa)).toBe(256);
    expect(nc.rsaModulusBits(nc.publicKeyFromSpki(ecSpki()))).toBeUndefined();
    expect(() => nc.rsaModulusBytes(nc.publicKeyFromSpki(ecSpki()))).toThrow("not an RSA key");
  });
});
