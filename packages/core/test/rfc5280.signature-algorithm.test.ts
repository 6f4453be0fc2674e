/**
 * parseSignatureAlgorithm: an X.509 signatureAlgorithm field (RFC 5280 §4.1.1.2, §5.1.1.2) read as the scheme and
 * digest that verify it: PKCS #1 v1.5 (RFC 4055 §5), RSASSA-PSS (RFC 4055 §3.1) and ECDSA (RFC 5758 §3.2). The fields
 * come from certificates OpenSSL signs (the reference), and each answer is checked by verifying that certificate's
 * signature with node:crypto under it. What it cannot verify is a typed error, never another exception.
 */
import { constants, createPublicKey, verify } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Certificate, isScepError, parseSignatureAlgorithm, type SignatureAlgorithm } from "../src/index.js";
import * as der from "../src/lib/der.js";
import { runOpenssl, withTempDir } from "../../../test-support/peers";

/** Self-signed certificates OpenSSL makes with one key (`genpkey` arguments), one per list of `req` signing flags. */
async function opensslSigned(genpkey: readonly string[], signings: readonly (readonly string[])[]): Promise<Certificate[]> {
  return withTempDir(async (dir) => {
    const key = join(dir, "key.pem");
    await runOpenssl(["genpkey", ...genpkey, "-out", key]);
    const out: Certificate[] = [];
    for (const [i, flags] of signings.entries()) {
      const pem = join(dir, `${i}.pem`);
      await runOpenssl(["req", "-x509", "-new", "-key", key, "-subj", "/CN=signature algorithm", "-days", "1", ...flags, "-out", pem]);
      out.push(Certificate.from(readFileSync(pem, "utf8")));
    }
    return out;
  });
}

/** Whether the self-signed `certificate` verifies with node:crypto under `algorithm`. */
function verifiesUnder(certificate: Certificate, algorithm: SignatureAlgorithm): boolean {
  const key = createPublicKey({ key: Buffer.from(certificate.spki), format: "der", type: "spki" });
  const options = algorithm.scheme === "rsa-pss" ? { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: algorithm.saltLength! } : key;
  return verify(algorithm.digest, certificate.tbs, options, certificate.signature);
}

const pss = (hash: string, salt: number): string[] => ["-sigopt", "rsa_padding_mode:pss", "-sigopt", `rsa_pss_saltlen:${salt}`, `-${hash}`];

describe("parseSignatureAlgorithm: the fields OpenSSL writes", () => {
  it("RSA PKCS #1 v1.5 with SHA-224/256/384/512 and RSASSA-PSS (hash, salt length): the shape that verifies the certificate", async () => {
    const certificates = await opensslSigned(["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"], [["-sha224"], ["-sha256"], ["-sha384"], ["-sha512"], pss("sha256", 32), pss("sha384", 20)]);
    const read = certificates.map((c) => parseSignatureAlgorithm(c.signatureAlgorithmDer));
    expect(read).toEqual([
      { scheme: "rsa-pkcs1", digest: "sha224", rsaOid: "withDigest" },
      { scheme: "rsa-pkcs1", digest: "sha256", rsaOid: "withDigest" },
      { scheme: "rsa-pkcs1", digest: "sha384", rsaOid: "withDigest" },
      { scheme: "rsa-pkcs1", digest: "sha512", rsaOid: "withDigest" },
      { scheme: "rsa-pss", digest: "sha256", saltLength: 32 },
      { scheme: "rsa-pss", digest: "sha384", saltLength: 20 },
    ]);
    certificates.forEach((c, i) => expect(verifiesUnder(c, read[i]!)).toBe(true));
  }, 60_000);

  it("ECDSA with SHA-256/384/512 (RFC 5758 §3.2: no parameters)", async () => {
    const certificates = await opensslSigned(["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384"], [["-sha256"], ["-sha384"], ["-sha512"]]);
    const read = certificates.map((c) => parseSignatureAlgorithm(c.signatureAlgorithmDer));
    expect(read).toEqual([
      { scheme: "ecdsa", digest: "sha256" },
      { scheme: "ecdsa", digest: "sha384" },
      { scheme: "ecdsa", digest: "sha512" },
    ]);
    certificates.forEach((c, i) => expect(verifiesUnder(c, read[i]!)).toBe(true));
  }, 60_000);
});

/** parseSignatureAlgorithm's error as [name, code, message], or "no error". */
function refusal(bytes: Uint8Array): [string, string, string] | "no error" {
  try {
    parseSignatureAlgorithm(bytes);
    return "no error";
  } catch (e) {
    if (!isScepError(e)) throw e;
    return [e.name, e.code, e.message];
  }
}

const sha256 = der.algId("2.16.840.1.101.3.4.2.1", der.NULL);
const pssField = (...params: der.Der[]): Uint8Array => der.encode(der.algId("1.2.840.113549.1.1.10", der.seq(...params)));

describe("parseSignatureAlgorithm: what it cannot verify is a typed error", () => {
  it("an algorithm outside RFC 4055 / RFC 5758 (Ed25519 as OpenSSL writes it), or plain rsaEncryption → ERR_UNSUPPORTED_ALGORITHM naming it", async () => {
    const [edwards] = await opensslSigned(["-algorithm", "ED25519"], [[]]);
    expect(refusal(edwards!.signatureAlgorithmDer)).toEqual(["UnsupportedAlgorithmError", "ERR_UNSUPPORTED_ALGORITHM", "unsupported signature algorithm Ed25519 (1.3.101.112)"]);
    expect(refusal(der.encode(der.algId("1.2.840.113549.1.1.1", der.NULL)))).toEqual(["UnsupportedAlgorithmError", "ERR_UNSUPPORTED_ALGORITHM", "rsaEncryption signature without a digest algorithm"]);
  }, 60_000);

  it("RSASSA-PSS whose MGF1 hash is not its hash (OpenSSL writes one), or whose trailerField is not 1 (RFC 4055 §3.1) → ERR_UNSUPPORTED_ALGORITHM", async () => {
    const [mixed] = await opensslSigned(["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"], [[...pss("sha256", 32), "-sigopt", "rsa_mgf1_md:sha1"]]);
    expect(refusal(mixed!.signatureAlgorithmDer)).toEqual(["UnsupportedAlgorithmError", "ERR_UNSUPPORTED_ALGORITHM", "PSS with an MGF1 hash (sha1) different from the message hash (sha256)"]);
    const mgf1 = der.algId("1.2.840.113549.1.1.8", sha256);
    expect(parseSignatureAlgorithm(pssField(der.ctx(0, sha256), der.ctx(1, mgf1), der.ctx(2, der.int(32)), der.ctx(3, der.int(1))))).toEqual({ scheme: "rsa-pss", digest: "sha256", saltLength: 32 });
    expect(refusal(pssField(der.ctx(0, sha256), der.ctx(1, mgf1), der.ctx(2, der.int(32)), der.ctx(3, der.int(2))))).toEqual([
      "UnsupportedAlgorithmError",
      "ERR_UNSUPPORTED_ALGORITHM",
      "PSS with trailerField 2 (RFC 4055 §3.1: it must be 1)",
    ]);
  }, 60_000);

  it("bytes that are not one AlgorithmIdentifier (an OID alone, trailing bytes) → ERR_ASN1; any bytes: a result or a typed error", () => {
    const field = der.encode(der.algId("1.2.840.10045.4.3.2"));
    expect(parseSignatureAlgorithm(field)).toEqual({ scheme: "ecdsa", digest: "sha256" });
    expect(refusal(der.oid("1.2.840.10045.4.3.2"))).toEqual(["Asn1Error", "ERR_ASN1", "signatureAlgorithm: expected tag 0x30, got 0x6"]);
    expect(refusal(Uint8Array.from([...field, 0x00]))).toEqual(["Asn1Error", "ERR_ASN1", "ASN.1 trailing data after the element"]);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        const r = refusal(bytes);
        expect(r === "no error" || ["ERR_ASN1", "ERR_UNSUPPORTED_ALGORITHM"].includes(r[1])).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });
});
