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

/** Name of a digest OID, or throws {@link UnsupportedAlgorithmError} (failInfo badAlg). @group Codec */
export function digestFromOid(oid: string): DigestAlgorithm {
  const d = DIGEST_BY_OID[oid];
  if (!d) throw new UnsupportedAlgorithmError(`unsupported digest algorithm ${oid}`);
  return d;
}

/**
 * Content ciphers seen on the wire that SCEP does not take, by OID, for the error message: AES in GCM, CCM or ECB
 * mode (NIST aes arc 2.16.840.1.101.3.4.1; step-ca's `encryptionAlgorithmIdentifier` 3 and 4 put GCM in an
 * EnvelopedData, where RFC 5084 wants an AuthEnvelopedData), RC2-CBC (1.2.840.113549.3.2) and RC4 (1.2.840.113549.3.4).
 */
const UNSUPPORTED_CIPHER_NAME: Readonly<Record<string, string>> = {
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
};

/**
 * Name of a content cipher OID, or throws {@link UnsupportedAlgorithmError} (failInfo badAlg): `unsupported content
 * encryption algorithm AES-128-GCM (2.16.840.1.101.3.4.1.6): SCEP takes DES, 3DES or AES in CBC mode` for a cipher
 * known by name, the OID alone otherwise.
 * @group Codec
 */
export function cipherFromOid(oid: string): ContentCipher {
  const c = CIPHER_BY_OID[oid];
  if (c) return c;
  const name = UNSUPPORTED_CIPHER_NAME[oid];
  throw new UnsupportedAlgorithmError(
    name === undefined
      ? `unsupported content encryption algorithm ${oid}`
      : `unsupported content encryption algorithm ${name} (${oid}): SCEP takes DES, 3DES or AES in CBC mode (RFC 8894 §3.5.2)`,
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
  throw new UnsupportedAlgorithmError(`unsupported signature algorithm ${oid}`);
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
