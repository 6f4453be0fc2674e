/**
 * RFC 8017 §A.1.1 RSAPublicKey, held to the CA/Browser Forum Baseline Requirements §6.1.6: a CA certifies no RSA key
 * whose public exponent is below 3 or even, or whose modulus is even or has a factor below 752. OpenSSL imports such
 * keys and verifies with them, so a CSR with exponent 1 passed its proof of possession with a "signature" anyone can
 * write (the padded hash itself) and was issued (found by a hostile-input probe of the example server). The server
 * refuses it with FAILURE badRequest from the CSR policy, before the issue hook; buildCertificate refuses it with
 * ERR_INVALID_ARGUMENT.
 */
import * as crypto from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import * as der from "../src/lib/der.js";
import { buildCertificate, buildPkcsReq, createScepServer, createSelfSignedSigner, importKeyPairPem, type IssueContext, type ScepServer } from "../src/index.js";
import { rsaPublicKeyProblem } from "../src/x509/rsa-public-key.js";
import { NOW, createTestCa, issuingHook, postPki, readReply, type TestCa } from "./support/server-pki.js";
import { signedWithRsaSha256 } from "./support/hand-built.js";

const { privateKey, publicKey } = crypto.generateKeyPairSync("rsa", { modulusLength: 2048 });
const modulus = Buffer.from((publicKey.export({ format: "jwk" }) as { n: string }).n, "base64url");

/** An unsigned big-endian number as a DER INTEGER (a leading zero when its high bit is set). */
const positive = (bytes: Uint8Array): der.Der => der.tlv(der.Tag.INTEGER, bytes[0]! & 0x80 ? Uint8Array.of(0, ...bytes) : bytes);
const rsaPublicKey = (n: Uint8Array, e: Uint8Array): Uint8Array => der.encode(der.seq(positive(n), positive(e)));
/** A SubjectPublicKeyInfo of `key` under `algorithm` (default rsaEncryption, NULL parameters). */
const spkiOf = (key: Uint8Array, algorithm = "1.2.840.113549.1.1.1"): Uint8Array =>
  der.encode(der.seq(der.seq(der.oid(algorithm), der.tlv(der.Tag.NULL)), der.tlv(der.Tag.BIT_STRING, Uint8Array.of(0, ...key))));

const bytesOf = (n: bigint): Uint8Array => {
  const hex = n.toString(16);
  return Buffer.from(hex.length % 2 ? `0${hex}` : hex, "hex");
};
/** An odd ~2,038-bit number with no factor below 752 (the real modulus shifted, then stepped by 2 until it has none). */
const cofactor = (() => {
  let c = (BigInt(`0x${modulus.toString("hex")}`) >> 10n) | 1n;
  while (rsaPublicKeyProblem(rsaPublicKey(bytesOf(c), Uint8Array.of(3))) !== undefined) c += 2n;
  return c;
})();
/** A 2,048-bit modulus whose smallest factor is the prime `p`: `p` times {@link cofactor}. */
const withFactor = (p: number): Uint8Array => bytesOf(BigInt(p) * cofactor);

/** EMSA-PKCS1-v1_5 (RFC 8017 §9.2) of SHA-256(`data`), `k` bytes: with exponent 1, the signature a key "makes". */
function encodedHash(data: Uint8Array, k: number): Uint8Array {
  const digestInfo = Buffer.concat([Buffer.from("3031300d060960864801650304020105000420", "hex"), crypto.createHash("sha256").update(data).digest()]);
  return Uint8Array.from(Buffer.concat([Buffer.from([0, 1]), Buffer.alloc(k - digestInfo.length - 3, 0xff), Buffer.from([0]), digestInfo]));
}

describe("CA/Browser Forum BR §6.1.6 on RFC 8017 §A.1.1 RSAPublicKey: what rsaPublicKeyProblem refuses", () => {
  it("accepts exponents 3 and 65537 on a real modulus", () => {
    expect(rsaPublicKeyProblem(rsaPublicKey(modulus, Uint8Array.of(3)))).toBeUndefined();
    expect(rsaPublicKeyProblem(rsaPublicKey(modulus, Uint8Array.of(1, 0, 1)))).toBeUndefined();
    expect(rsaPublicKeyProblem(new Uint8Array(publicKey.export({ type: "pkcs1", format: "der" })))).toBeUndefined();
  });

  it("refuses an exponent below 3, an even one, or one not below the modulus", () => {
    expect(rsaPublicKeyProblem(rsaPublicKey(modulus, Uint8Array.of(1)))).toBe("public exponent 1 is below 3");
    expect(rsaPublicKeyProblem(rsaPublicKey(modulus, Uint8Array.of(2)))).toBe("public exponent 2 is below 3");
    expect(rsaPublicKeyProblem(rsaPublicKey(modulus, Uint8Array.of(1, 0, 0)))).toBe("public exponent 65536 is even");
    expect(rsaPublicKeyProblem(rsaPublicKey(modulus, Uint8Array.of(0xff, ...modulus)))).toBe("the public exponent is not below the modulus");
  });

  it("refuses a modulus with a factor below 752: even, 3, 7, 251 and 751", () => {
    for (const p of [2, 3, 7, 251, 751]) expect(rsaPublicKeyProblem(rsaPublicKey(withFactor(p), Uint8Array.of(1, 0, 1)))).toBe(`the modulus has the factor ${p}, not two large primes`);
    // 757, the first prime past the rule's bound, is not looked for.
    expect(rsaPublicKeyProblem(rsaPublicKey(withFactor(757), Uint8Array.of(1, 0, 1)))).toBeUndefined();
    // The probe's modulus, 2^2047 + 1: a multiple of 3.
    expect(rsaPublicKeyProblem(rsaPublicKey(Uint8Array.of(0x80, ...new Uint8Array(254), 1), Uint8Array.of(1, 0, 1)))).toBe("the modulus has the factor 3, not two large primes");
  });

  it("refuses a zero or negative INTEGER, and a third element; throws Asn1Error for what is no RSAPublicKey", () => {
    expect(rsaPublicKeyProblem(der.encode(der.seq(der.tlv(der.Tag.INTEGER, Uint8Array.of(0x80, 1)), der.int(3))))).toBe("the modulus is not a positive INTEGER");
    expect(rsaPublicKeyProblem(der.encode(der.seq(positive(modulus), der.tlv(der.Tag.INTEGER, Uint8Array.of(0)))))).toBe("the public exponent is not a positive INTEGER");
    expect(rsaPublicKeyProblem(der.encode(der.seq(positive(modulus), der.int(3), der.int(5))))).toBe("the RSAPublicKey has more than a modulus and an exponent");
    expect(() => rsaPublicKeyProblem(der.encode(der.seq(der.int(3))))).toThrow(expect.objectContaining({ code: "ERR_ASN1" }));
    expect(() => rsaPublicKeyProblem(Uint8Array.of(1, 2, 3))).toThrow(expect.objectContaining({ code: "ERR_ASN1" }));
  });
});

describe("CA/Browser Forum BR §6.1.6: a CSR for a weak RSA key is not certified", () => {
  let ca: TestCa;
  let server: ScepServer;
  const calls: IssueContext[] = [];
  beforeAll(async () => {
    ca = await createTestCa("Weak key CA");
    server = createScepServer({
      profiles: [{ name: "devices", path: "/scep", caCertificate: ca.cert, signer: ca.key, challenge: { type: "static", password: "pw" }, issue: issuingHook(ca, calls) }],
      now: () => NOW,
    });
  });

  /** The CertificationRequestInfo (CN=weak-key, challengePassword pw) for `spki`. */
  function requestInfo(spki: Uint8Array): Uint8Array {
    const challenge = der.seq(der.oid("1.2.840.113549.1.9.7"), der.setOf([der.utf8("pw")]));
    return der.encode(der.seq(der.int(0), der.seq(der.setOf([der.seq(der.oid("2.5.4.3"), der.utf8("weak-key"))])), spki, der.ctx(0, challenge)));
  }

  // rsaEncryption, and X.500's id-ea-rsa, which OpenSSL (so Node, and the CSR policy's key type) reads as RSA too.
  it.each([
    ["rsaEncryption", "1.2.840.113549.1.1.1"],
    ["id-ea-rsa", "2.5.8.1.1"],
  ])("exponent 1 under %s, its self-signature the padded hash (which OpenSSL verifies): FAILURE badRequest, the issue hook not called", async (_name, algorithm) => {
    calls.length = 0;
    const weak = spkiOf(rsaPublicKey(modulus, Uint8Array.of(1)), algorithm);
    const info = requestInfo(weak);
    const signature = encodedHash(info, modulus.length);
    // The proof of possession holds, for anyone who can hash: that is the fault.
    expect(crypto.verify("sha256", info, crypto.createPublicKey({ key: Buffer.from(weak), format: "der", type: "spki" }), signature)).toBe(true);
    const signatureAlgorithm = der.seq(der.oid("1.2.840.113549.1.1.11"), der.tlv(der.Tag.NULL));
    const csr = der.encode(der.seq(info, signatureAlgorithm, der.tlv(der.Tag.BIT_STRING, Uint8Array.of(0, ...signature))));
    const keys = await importKeyPairPem(privateKey.export({ type: "pkcs8", format: "pem" }) as string);
    const signer = await createSelfSignedSigner({ keys, subject: "CN=weak-key", now: NOW });
    const built = await buildPkcsReq({ csr, signer, recipient: ca.cert, now: NOW });
    const rep = await readReply(await postPki(server, "/scep", built.der), built, { decrypter: signer });
    expect(rep).toMatchObject({ status: "FAILURE", failInfo: "badRequest", failInfoText: "weak RSA key (CA/Browser Forum BR §6.1.6): public exponent 1 is below 3" });
    expect(calls).toEqual([]);
    // The same request for the real key, really signed, is issued.
    const good = await buildPkcsReq({ csr: signedWithRsaSha256(requestInfo(new Uint8Array(publicKey.export({ type: "spki", format: "der" }))), privateKey), signer, recipient: ca.cert, now: NOW });
    expect((await readReply(await postPki(server, "/scep", good.der), good, { decrypter: signer })).status).toBe("SUCCESS");
  });

  it("buildCertificate: ERR_INVALID_ARGUMENT for a weak key under each RSA algorithm; an EC key is not read as one", async () => {
    const subject = der.encode(der.seq(der.setOf([der.seq(der.oid("2.5.4.3"), der.utf8("weak-key"))])));
    const build = (publicKey: Uint8Array) => buildCertificate({ issuer: ca.key, subject, publicKey, serialNumber: Uint8Array.of(1), now: NOW, notAfter: new Date(NOW.getTime() + 86_400_000) });
    await expect(build(spkiOf(rsaPublicKey(withFactor(3), Uint8Array.of(1, 0, 1))))).rejects.toMatchObject({
      code: "ERR_INVALID_ARGUMENT",
      message: "publicKey is a weak RSA key (CA/Browser Forum BR §6.1.6): the modulus has the factor 3, not two large primes",
    });
    for (const algorithm of ["1.2.840.113549.1.1.10", "2.5.8.1.1"]) {
      await expect(build(spkiOf(rsaPublicKey(modulus, Uint8Array.of(1)), algorithm))).rejects.toMatchObject({
        code: "ERR_INVALID_ARGUMENT",
        message: "publicKey is a weak RSA key (CA/Browser Forum BR §6.1.6): public exponent 1 is below 3",
      });
    }
    const ec = new Uint8Array(crypto.generateKeyPairSync("ec", { namedCurve: "P-256" }).publicKey.export({ type: "spki", format: "der" }));
    expect((await build(ec)).spki).toEqual(ec);
    expect((await build(spkiOf(rsaPublicKey(modulus, Uint8Array.of(1, 0, 1))))).serialNumber).toBeDefined();
  });
});
