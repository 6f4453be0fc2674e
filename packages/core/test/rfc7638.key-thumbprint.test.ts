// RFC 7638 JWK SHA-256 thumbprints of SubjectPublicKeyInfos and of a PKCS#10 request's key: the RFC's own §3.1
// vector, one key in two DER spellings, EC and Ed25519 keys against node:crypto's JWK export as the reference, and
// no thumbprint for a key without a JWK form or bytes that are no key.
import { createHash, createPublicKey, generateKeyPairSync } from "node:crypto";
import { describe, expect, it } from "vitest";
import { CertificationRequest, generateCsr, generateRsaKeyPair, publicKeyThumbprint } from "../src/index.js";

/** RFC 7638 §3.1's example key (RSA, e = AQAB) and the thumbprint the RFC gives for it. */
const RFC7638_N =
  "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
const RFC7638_THUMBPRINT = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs";

const spkiOf = (key: ReturnType<typeof createPublicKey>): Uint8Array => new Uint8Array(key.export({ format: "der", type: "spki" }));

describe("RFC 7638: publicKeyThumbprint of a SubjectPublicKeyInfo", () => {
  it("RFC 7638 §3.1's RSA key has the RFC's thumbprint, and so does its SPKI with the AlgorithmIdentifier parameters left out", () => {
    const spki = spkiOf(createPublicKey({ key: { kty: "RSA", n: RFC7638_N, e: "AQAB" }, format: "jwk" }));
    expect(publicKeyThumbprint(spki)).toBe(RFC7638_THUMBPRINT);
    // SEQUENCE { SEQUENCE { OID rsaEncryption, NULL }, BIT STRING } → the same without the NULL (lengths fixed up).
    const withNull = Buffer.from(spki);
    const nullAt = withNull.indexOf(Buffer.from([0x05, 0x00]));
    const algorithm = withNull.subarray(4, nullAt + 2);
    const withoutParams = Buffer.concat([Buffer.from([0x30, 0x0b]), algorithm.subarray(2, algorithm.length - 2)]);
    const body = Buffer.concat([withoutParams, withNull.subarray(nullAt + 2)]);
    const absent = new Uint8Array(Buffer.concat([Buffer.from([0x30, 0x82, body.length >> 8, body.length & 0xff]), body]));
    expect(publicKeyThumbprint(absent)).toBe(RFC7638_THUMBPRINT);
  });

  it("EC P-256/P-384 and Ed25519 keys: the SHA-256 of the required members in order (node:crypto's JWK as the reference)", () => {
    for (const [type, options, members] of [
      ["ec", { namedCurve: "P-256" }, ["crv", "kty", "x", "y"]],
      ["ec", { namedCurve: "P-384" }, ["crv", "kty", "x", "y"]],
      ["ed25519", {}, ["crv", "kty", "x"]],
    ] as const) {
      const { publicKey } = generateKeyPairSync(type as "ec", options as { namedCurve: string });
      const jwk = publicKey.export({ format: "jwk" }) as Record<string, string>;
      const canonical = `{${members.map((m) => `"${m}":"${jwk[m]}"`).join(",")}}`;
      expect(publicKeyThumbprint(spkiOf(publicKey))).toBe(createHash("sha256").update(canonical).digest("base64url"));
      expect(publicKeyThumbprint(spkiOf(publicKey))).toMatch(/^[A-Za-z0-9_-]{43}$/); // as the docstring says: 43 base64url characters, no padding
    }
  });

  it("no thumbprint for bytes that are no key, nor for an RSA-PSS key (no JWK form)", () => {
    expect(publicKeyThumbprint(new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x01]))).toBeUndefined();
    const { publicKey } = generateKeyPairSync("rsa-pss", { modulusLength: 2048 });
    expect(publicKeyThumbprint(spkiOf(publicKey))).toBeUndefined();
  });
});

describe("RFC 7638: CertificationRequest.publicKeyThumbprint", () => {
  it("is the thumbprint of the request's SPKI, computed once per object", async () => {
    const keys = await generateRsaKeyPair(2048);
    const csr = CertificationRequest.from(await generateCsr({ keys, subject: "CN=thumbprint" }));
    expect(csr.verify()).toBe(true);
    const thumbprint = csr.publicKeyThumbprint;
    expect(thumbprint).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(thumbprint).toBe(publicKeyThumbprint(csr.spki));
    expect(csr.publicKeyThumbprint).toBe(thumbprint);
  });
});
