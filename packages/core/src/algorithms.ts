/**
 * The algorithms SCEP messages use, by name, with their OIDs.
 *
 * @module
 */
import * as oids from "./oids.js";
import { UnsupportedAlgorithmError } from "./errors.js";

/** Message digest algorithms. @group Codec */
export type DigestAlgorithm = "md5" | "sha1" | "sha224" | "sha256" | "sha384" | "sha512";

/** Content-encryption algorithms of the pkcsPKIEnvelope (all CBC). @group Codec */
export type ContentCipher = "des" | "des3" | "aes128" | "aes192" | "aes256";

/** Key-transport algorithms of a KeyTransRecipientInfo. @group Codec */
export type KeyTransport = "rsaes-pkcs1-v1_5" | "rsaes-oaep";

/** Signature schemes of a SignerInfo or PKCS#10 request. @group Codec */
export type SignatureScheme = "rsa-pkcs1" | "rsa-pss" | "ecdsa";

/** A signature algorithm: scheme, digest and (RSA PKCS#1) the OID form. @group Codec */
export interface SignatureAlgorithm {
  /** RSA PKCS#1 v1.5, RSASSA-PSS or ECDSA. */
  scheme: SignatureScheme;
  /** The digest the signature is computed over. */
  digest: DigestAlgorithm;
  /** PSS salt length in bytes (default: the digest length). */
  saltLength?: number;
  /**
   * For `rsa-pkcs1`: whether the AlgorithmIdentifier is plain `rsaEncryption`
   * (what Apple, NDES, cryptlib and strongSwan use in SignerInfos) or
   * `sha*WithRSAEncryption`.
   */
  rsaOid?: "rsaEncryption" | "withDigest";
}

/** Digest OID → name. @group Codec */
export const DIGEST_BY_OID: Readonly<Record<string, DigestAlgorithm>> = {
  [oids.id_md5]: "md5",
  [oids.id_sha1]: "sha1",
  [oids.id_sha224]: "sha224",
  [oids.id_sha256]: "sha256",
  [oids.id_sha384]: "sha384",
  [oids.id_sha512]: "sha512",
};

/** Digest name → OID. @group Codec */
export const DIGEST_OID: Readonly<Record<DigestAlgorithm, string>> = {
  md5: oids.id_md5,
  sha1: oids.id_sha1,
  sha224: oids.id_sha224,
  sha256: oids.id_sha256,
  sha384: oids.id_sha384,
  sha512: oids.id_sha512,
};

/** Digest output lengths in bytes. @group Codec */
export const DIGEST_LENGTH: Readonly<Record<DigestAlgorithm, number>> = {
  md5: 16,
  sha1: 20,
  sha224: 28,
  sha256: 32,
  sha384: 48,
  sha512: 64,
};

/** Content cipher parameters. @group Codec */
export interface CipherInfo {
  /** OID of the algorithm. */
  oid: string;
  /** Key length in bytes. */
  keyLength: number;
  /** IV (block) length in bytes. */
  ivLength: number;
}

/** Content cipher name → parameters. @group Codec */
export const CIPHERS: Readonly<Record<ContentCipher, CipherInfo>> = {
  des: { oid: oids.id_desCBC, keyLength: 8, ivLength: 8 },
  des3: { oid: oids.id_des_ede3_cbc, keyLength: 24, ivLength: 8 },
  aes128: { oid: oids.id_aes128_CBC, keyLength: 16, ivLength: 16 },
  aes192: { oid: oids.id_aes192_CBC, keyLength: 24, ivLength: 16 },
  aes256: { oid: oids.id_aes256_CBC, keyLength: 32, ivLength: 16 },
};

/** Content cipher OID → name. @group Codec */
export const CIPHER_BY_OID: Readonly<Record<string, ContentCipher>> = Object.fromEntries(
  Object.entries(CIPHERS).map(([name, info]) => [info.oid, name as ContentCipher]),
);

const RSA_WITH: Record<string, DigestAlgorithm> = {
  [oids.id_md5WithRSAEncryption]: "md5",
  [oids.id_sha1WithRSAEncryption]: "sha1",
  [oids.id_sha224WithRSAEncryption]: "sha224",
  [oids.id_sha256WithRSAEncryption]: "sha256",
  [oids.id_sha384WithRSAEncryption]: "sha384",
  [oids.id_sha512WithRSAEncryption]: "sha512",
};
const RSA_WITH_OID: Record<DigestAlgorithm, string> = Object.fromEntries(
  Object.entries(RSA_WITH).map(([o, d]) => [d, o]),
) as Record<DigestAlgorithm, string>;

const ECDSA_WITH: Record<string, DigestAlgorithm> = {
  [oids.id_ecdsaWithSHA1]: "sha1",
  [oids.id_ecdsaWithSHA224]: "sha224",
  [oids.id_ecdsaWithSHA256]: "sha256",
  [oids.id_ecdsaWithSHA384]: "sha384",
  [oids.id_ecdsaWithSHA512]: "sha512",
};
const ECDSA_WITH_OID: Record<string, string> = Object.fromEntries(Object.entries(ECDSA_WITH).map(([o, d]) => [d, o]));

/**
 * Name of a digest OID, or throws {@link UnsupportedAlgorithmError} (`ERR_UNSUPPORTED_ALGORITHM`, failInfo badAlg):
 * `unsupported digest algorithm SHA3-256 (2.16.840.1.101.3.4.2.8)` for one known by name, the OID alone otherwise.
 * @group Codec
 */
export function digestFromOid(oid: string): DigestAlgorithm {
  const d = DIGEST_BY_OID[oid];
  if (!d) throw new UnsupportedAlgorithmError(`unsupported digest algorithm ${describeAlgorithmOid(oid)}`);
  return d;
}

/**
 * Algorithms this SDK does not take, by OID, so an error names them (`SHA3-256 (2.16.840.1.101.3.4.2.8)`) instead of
 * printing a bare OID. Content ciphers: AES in GCM, CCM or ECB mode (NIST aes arc 2.16.840.1.101.3.4.1; step-ca's
 * `encryptionAlgorithmIdentifier` 3 and 4 put GCM in an EnvelopedData, where RFC 5084 wants an AuthEnvelopedData),
 * RC2-CBC and RC4 (RFC 8018 appendix B.2). Digests: MD2 and MD4 (RFC 3279 §2.2), SHA-512/224, SHA-512/256, SHA-3 and
 * SHAKE (NIST hashAlgs arc 2.16.840.1.101.3.4.2), RIPEMD-160, SM3, GOST R 34.11. Signatures: with MD2, MD4, SHA-512/t
 * or SHA-3 (RFC 8017 appendix C, NIST sigAlgs arc), DSA (RFC 3279 §2.2.2, RFC 5758 §3.1), EdDSA (RFC 8410 §3),
 * SM2, GOST R 34.10, ML-DSA (FIPS 204). Public keys: DSA, Diffie-Hellman, X25519/X448 (RFC 8410), ML-KEM (FIPS 203).
 * Key encryption: ECDH key agreement (RFC 5753) and AES key wrap (RFC 3394), which RFC 8894 §3.2.2 does not use.
 */
const KNOWN_UNSUPPORTED: Readonly<Record<string, string>> = {
  "2.16.840.1.101.3.4.1.1": "AES-128-ECB",
  "2.16.840.1.101.3.4.1.21": "AES-192-ECB",
  "2.16.840.1.101.3.4.1.41": "AES-256-ECB",
  "2.16.840.1.101.3.4.1.6": "AES-128-GCM",
  "2.16.840.1.101.3.4.1.26": "AES-192-GCM",
  "2.16.840.1.101.3.4.1.46": "AES-256-GCM",
  "2.16.840.1.101.3.4.1.7": "AES-128-CCM",
  "2.16.840.1.101.3.4.1.27": "AES-192-CCM",
  "2.16.840.1.101.3.4.1.47": "AES-256-CCM",
  "1.2.840.113549.3.2": "RC2-CBC",
  "1.2.840.113549.3.4": "RC4",
  "2.16.840.1.101.3.4.1.5": "AES-128 key wrap",
  "2.16.840.1.101.3.4.1.25": "AES-192 key wrap",
  "2.16.840.1.101.3.4.1.45": "AES-256 key wrap",
  "1.2.840.113549.2.2": "MD2",
  "1.2.840.113549.2.4": "MD4",
  "2.16.840.1.101.3.4.2.5": "SHA-512/224",
  "2.16.840.1.101.3.4.2.6": "SHA-512/256",
  "2.16.840.1.101.3.4.2.7": "SHA3-224",
  "2.16.840.1.101.3.4.2.8": "SHA3-256",
  "2.16.840.1.101.3.4.2.9": "SHA3-384",
  "2.16.840.1.101.3.4.2.10": "SHA3-512",
  "2.16.840.1.101.3.4.2.11": "SHAKE128",
  "2.16.840.1.101.3.4.2.12": "SHAKE256",
  "1.3.36.3.2.1": "RIPEMD-160",
  "1.2.156.10197.1.401": "SM3",
  "1.2.643.2.2.9": "GOST R 34.11-94",
  "1.2.643.7.1.1.2.2": "GOST R 34.11-2012 (256 bit)",
  "1.2.643.7.1.1.2.3": "GOST R 34.11-2012 (512 bit)",
  "1.2.840.113549.1.1.2": "md2WithRSAEncryption",
  "1.2.840.113549.1.1.3": "md4WithRSAEncryption",
  "1.2.840.113549.1.1.15": "sha512-224WithRSAEncryption",
  "1.2.840.113549.1.1.16": "sha512-256WithRSAEncryption",
  "2.16.840.1.101.3.4.3.13": "RSA PKCS#1 v1.5 with SHA3-224",
  "2.16.840.1.101.3.4.3.14": "RSA PKCS#1 v1.5 with SHA3-256",
  "2.16.840.1.101.3.4.3.15": "RSA PKCS#1 v1.5 with SHA3-384",
  "2.16.840.1.101.3.4.3.16": "RSA PKCS#1 v1.5 with SHA3-512",
  "2.16.840.1.101.3.4.3.9": "ECDSA with SHA3-224",
  "2.16.840.1.101.3.4.3.10": "ECDSA with SHA3-256",
  "2.16.840.1.101.3.4.3.11": "ECDSA with SHA3-384",
  "2.16.840.1.101.3.4.3.12": "ECDSA with SHA3-512",
  "1.2.840.10040.4.3": "DSA with SHA-1",
  "2.16.840.1.101.3.4.3.1": "DSA with SHA-224",
  "2.16.840.1.101.3.4.3.2": "DSA with SHA-256",
  "1.2.840.10040.4.1": "DSA",
  "1.2.840.10046.2.1": "Diffie-Hellman",
  "1.3.101.110": "X25519",
  "1.3.101.111": "X448",
  "1.3.101.112": "Ed25519",
  "1.3.101.113": "Ed448",
  "1.2.156.10197.1.501": "SM2 with SM3",
  "1.2.643.7.1.1.1.1": "GOST R 34.10-2012 (256 bit) key",
  "1.2.643.7.1.1.1.2": "GOST R 34.10-2012 (512 bit) key",
  "1.2.643.7.1.1.3.2": "GOST R 34.10-2012 with GOST R 34.11-2012 (256 bit)",
  "1.2.643.7.1.1.3.3": "GOST R 34.10-2012 with GOST R 34.11-2012 (512 bit)",
  "2.16.840.1.101.3.4.3.17": "ML-DSA-44",
  "2.16.840.1.101.3.4.3.18": "ML-DSA-65",
  "2.16.840.1.101.3.4.3.19": "ML-DSA-87",
  "2.16.840.1.101.3.4.4.1": "ML-KEM-512",
  "2.16.840.1.101.3.4.4.2": "ML-KEM-768",
  "2.16.840.1.101.3.4.4.3": "ML-KEM-1024",
  "1.3.133.16.840.63.0.2": "ECDH (dhSinglePass-stdDH-sha1kdf)",
  "1.3.132.1.11.1": "ECDH (dhSinglePass-stdDH-sha256kdf)",
  "1.3.132.1.11.2": "ECDH (dhSinglePass-stdDH-sha384kdf)",
  "1.3.132.1.11.3": "ECDH (dhSinglePass-stdDH-sha512kdf)",
};

/**
 * An OID for an error message: `Ed25519 (1.3.101.112)` for an algorithm known by name, the OID alone otherwise.
 * Internal (not exported from the package).
 */
export function describeAlgorithmOid(oid: string): string {
  const name = KNOWN_UNSUPPORTED[oid];
  return name === undefined ? oid : `${name} (${oid})`;
}

/**
 * Name of a content cipher OID, or throws {@link UnsupportedAlgorithmError} (failInfo badAlg): `unsupported content
 * encryption algorithm AES-128-GCM (2.16.840.1.101.3.4.1.6): SCEP takes DES, 3DES or AES in CBC mode` for a cipher
 * known by name, the OID alone otherwise.
 * @group Codec
 */
export function cipherFromOid(oid: string): ContentCipher {
  const c = CIPHER_BY_OID[oid];
  if (c) return c;
  const name = describeAlgorithmOid(oid);
  throw new UnsupportedAlgorithmError(
    name === oid ? `unsupported content encryption algorithm ${oid}` : `unsupported content encryption algorithm ${name}: SCEP takes DES, 3DES or AES in CBC mode (RFC 8894 §3.5.2)`,
  );
}

/**
 * Reads a signature AlgorithmIdentifier. `digestHint` is the SignerInfo's
 * digestAlgorithm, used when the OID is plain `rsaEncryption`. `pssDigest`
 * and `pssSalt` come from RSASSA-PSS-params.
 * @group Codec
 */
export function signatureFromOid(
  oid: string,
  digestHint: DigestAlgorithm | undefined,
  pss?: { digest: DigestAlgorithm; saltLength: number },
): SignatureAlgorithm {
  if (oid === oids.id_rsaEncryption) {
    if (!digestHint) throw new UnsupportedAlgorithmError("rsaEncryption signature without a digest algorithm");
    return { scheme: "rsa-pkcs1", digest: digestHint, rsaOid: "rsaEncryption" };
  }
  const rsa = RSA_WITH[oid];
  if (rsa) return { scheme: "rsa-pkcs1", digest: rsa, rsaOid: "withDigest" };
  const ec = ECDSA_WITH[oid];
  if (ec) return { scheme: "ecdsa", digest: ec };
  if (oid === oids.id_RSASSA_PSS) {
    const p = pss ?? { digest: "sha1" as DigestAlgorithm, saltLength: 20 };
    return { scheme: "rsa-pss", digest: p.digest, saltLength: p.saltLength };
  }
  throw new UnsupportedAlgorithmError(`unsupported signature algorithm ${describeAlgorithmOid(oid)}`);
}

/** The OID a signature algorithm is written with. @group Codec */
export function signatureOid(alg: SignatureAlgorithm): string {
  switch (alg.scheme) {
    case "rsa-pkcs1":
      return alg.rsaOid === "withDigest" ? RSA_WITH_OID[alg.digest] : oids.id_rsaEncryption;
    case "rsa-pss":
      return oids.id_RSASSA_PSS;
    case "ecdsa": {
      const o = ECDSA_WITH_OID[alg.digest];
      if (!o) throw new UnsupportedAlgorithmError(`ECDSA with ${alg.digest} is not supported`);
      return o;
    }
  }
}
