/**
 * Which algorithms a server (or client) accepts.
 *
 * @module
 */
import type { ContentCipher, DigestAlgorithm, KeyTransport, SignatureScheme } from "./algorithms.js";
import { AlgorithmNotAllowedError } from "./errors.js";
import { RSA_BITS, numberOption } from "./number-option.js";

/**
 * Algorithm policy. Anything not listed is refused with failInfo `badAlg`.
 *
 * @example
 * ```ts
 * // refuse single DES and SHA-1, answer 3DES requests with AES-256
 * const policy: AlgorithmPolicy = {
 *   ciphers: ["aes128", "aes192", "aes256", "des3"],
 *   digests: ["sha256", "sha384", "sha512"],
 *   responseCipher: (c) => (c === "des3" ? "aes256" : c),
 * };
 * ```
 * @group Codec
 */
export interface AlgorithmPolicy {
  /** Digests accepted in SignerInfos and PKCS#10 signatures. Default: SHA-1 and the SHA-2 family. */
  digests?: readonly DigestAlgorithm[];
  /** MD5 is refused unless this is true (old sscep and Cisco clients). Default false. */
  allowMd5?: boolean;
  /** Content ciphers accepted in requests. Default: all five (AES-128/192/256, 3DES, DES). */
  ciphers?: readonly ContentCipher[];
  /** Signature schemes accepted. Default: RSA PKCS#1 v1.5, RSASSA-PSS, ECDSA. */
  signatureSchemes?: readonly SignatureScheme[];
  /** Key transports accepted. Default: RSAES-PKCS1-v1_5 and RSAES-OAEP. */
  keyTransports?: readonly KeyTransport[];
  /** Smallest RSA key accepted for request signers and CSRs, in bits. Default 1024. */
  minRsaBits?: number;
  /**
   * The content cipher of a SUCCESS CertRep, given the request's. Default: the
   * request's own cipher (Cisco fails when they differ).
   */
  responseCipher?: (requested: ContentCipher) => ContentCipher;
}

/** A policy with every default filled in. @group Codec */
export type ResolvedPolicy = Required<AlgorithmPolicy>;

const DEFAULT: ResolvedPolicy = {
  digests: ["sha1", "sha224", "sha256", "sha384", "sha512"],
  allowMd5: false,
  ciphers: ["aes128", "aes192", "aes256", "des3", "des"],
  signatureSchemes: ["rsa-pkcs1", "rsa-pss", "ecdsa"],
  keyTransports: ["rsaes-pkcs1-v1_5", "rsaes-oaep"],
  minRsaBits: 1024,
  responseCipher: (c: ContentCipher) => c,
};

/**
 * Fills a partial policy with the defaults.
 *
 * @throws InvalidArgumentError `ERR_INVALID_ARGUMENT` when `minRsaBits` is not an integer from 512 to 16 384 (a NaN
 *   from an unset environment variable made every RSA size pass, RSA-512 included).
 * @group Codec
 */
export function resolvePolicy(policy: AlgorithmPolicy = {}): ResolvedPolicy {
  return {
    digests: policy.digests ?? DEFAULT.digests,
    allowMd5: policy.allowMd5 ?? DEFAULT.allowMd5,
    ciphers: policy.ciphers ?? DEFAULT.ciphers,
    signatureSchemes: policy.signatureSchemes ?? DEFAULT.signatureSchemes,
    keyTransports: policy.keyTransports ?? DEFAULT.keyTransports,
    minRsaBits: numberOption("algorithmPolicy.minRsaBits", policy.minRsaBits, DEFAULT.minRsaBits, RSA_BITS),
    responseCipher: policy.responseCipher ?? DEFAULT.responseCipher,
  };
}

/** Throws {@link AlgorithmNotAllowedError} (badAlg) when the digest is not allowed. @group Codec */
export function checkDigest(p: ResolvedPolicy, d: DigestAlgorithm, where: string): void {
  if (d === "md5" ? !p.allowMd5 : !p.digests.includes(d)) {
    throw new AlgorithmNotAllowedError(`${where}: digest ${d} is not allowed by policy`);
  }
}

/** Throws {@link AlgorithmNotAllowedError} when the cipher is not allowed. @group Codec */
export function checkCipher(p: ResolvedPolicy, c: ContentCipher): void {
  if (!p.ciphers.includes(c)) throw new AlgorithmNotAllowedError(`content cipher ${c} is not allowed by policy`);
}

/** Throws {@link AlgorithmNotAllowedError} when the signature scheme is not allowed. @group Codec */
export function checkScheme(p: ResolvedPolicy, s: SignatureScheme, where: string): void {
  if (!p.signatureSchemes.includes(s)) throw new AlgorithmNotAllowedError(`${where}: signature scheme ${s} is not allowed by policy`);
}

/** Throws {@link AlgorithmNotAllowedError} when the key transport is not allowed. @group Codec */
export function checkKeyTransport(p: ResolvedPolicy, k: KeyTransport): void {
  if (!p.keyTransports.includes(k)) throw new AlgorithmNotAllowedError(`key transport ${k} is not allowed by policy`);
}
