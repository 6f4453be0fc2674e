/**
 * Whether an RSA public key is one a CA may certify: the checks of the CA/Browser Forum Baseline Requirements §6.1.6
 * (a public exponent that is odd and at least 3; a modulus that is odd and has no factor below 752), which OpenSSL
 * and Node do not make when they import a key. A key with exponent 1 "signs" any message (the signature is its
 * padded hash), so its self-signature proves nothing, and an even or small-factor modulus is not the product of two
 * large primes. Checked before a certificate is built for a key, whoever asks.
 * @module
 */
import * as der from "../lib/der.js";

/** The primes below 752 (BR §6.1.6: "no factors smaller than 752"). */
const SMALL_PRIMES: number[] = [];
for (let i = 2; i < 752; i++) if (SMALL_PRIMES.every((p) => i % p !== 0)) SMALL_PRIMES.push(i);

/** Their product (~1,040 bits): the modulus is reduced by it once, then by each group below. */
const PRODUCT = SMALL_PRIMES.reduce((a, p) => a * BigInt(p), 1n);

/** The primes in groups whose product stays below 2^52, so each prime's remainder is a plain number's. */
const GROUPS: { product: bigint; primes: number[] }[] = [];
{
  let product = 1;
  let primes: number[] = [];
  for (const p of SMALL_PRIMES) {
    if (product * p > 2 ** 52) {
      GROUPS.push({ product: BigInt(product), primes });
      product = 1;
      primes = [];
    }
    product *= p;
    primes.push(p);
  }
  GROUPS.push({ product: BigInt(product), primes });
}

/** An INTEGER's content as a non-negative bigint; undefined when it is negative or empty. */
function unsigned(t: der.Tlv | undefined, what: string): bigint | undefined {
  const bytes = der.content(der.expectTag(t, der.Tag.INTEGER, what));
  if (bytes.length === 0 || bytes[0]! & 0x80) return undefined;
  return BigInt(`0x${Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString("hex")}`);
}

/** The smallest prime below 752 that divides `n`, or 0. */
function smallFactor(n: bigint): number {
  const r = n % PRODUCT;
  for (const g of GROUPS) {
    const s = Number(r % g.product);
    for (const p of g.primes) if (s % p === 0) return p;
  }
  return 0;
}

/**
 * Why an RSA public key must not be certified, or undefined when it may.
 *
 * @param rsaPublicKey - RSAPublicKey, DER (RFC 8017 §A.1.1: `SEQUENCE { modulus INTEGER, publicExponent INTEGER }`):
 *   the subjectPublicKey bits of an rsaEncryption, id-RSASSA-PSS (RFC 4055 §1.2) or id-ea-rsa (2.5.8.1.1)
 *   SubjectPublicKeyInfo.
 * @returns A short reason (`public exponent 1 is below 3`, `the modulus has the factor 3, not two large primes`, …),
 *   or undefined.
 * @throws Asn1Error `ERR_ASN1` when the bytes are not an RSAPublicKey.
 * @internal
 */
export function rsaPublicKeyProblem(rsaPublicKey: Uint8Array): string | undefined {
  const [modulusT, exponentT, extra] = der.expect(der.parse(rsaPublicKey), der.Tag.SEQUENCE, "RSAPublicKey");
  if (extra) return "the RSAPublicKey has more than a modulus and an exponent";
  const n = unsigned(modulusT, "RSAPublicKey modulus");
  const e = unsigned(exponentT, "RSAPublicKey publicExponent");
  if (n === undefined || n === 0n) return "the modulus is not a positive INTEGER";
  if (e === undefined || e === 0n) return "the public exponent is not a positive INTEGER";
  if (e < 3n) return `public exponent ${e} is below 3`;
  if ((e & 1n) === 0n) return `public exponent ${e > 0xffffffffn ? "" : `${e} `}is even`;
  if (e >= n) return "the public exponent is not below the modulus";
  const factor = smallFactor(n);
  if (factor !== 0) return `the modulus has the factor ${factor}, not two large primes`;
  return undefined;
}
