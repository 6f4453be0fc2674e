/**
 * Signature AlgorithmIdentifiers (RFC 5280 §4.1.1.2, RFC 4055 for
 * RSASSA-PSS): read from SignerInfos, PKCS#10 requests and certificates, and
 * written the way peers expect them. One place, so the three readers agree.
 */
import * as der from "../lib/der.js";
import * as oids from "../oids.js";
import { type DigestAlgorithm, type SignatureAlgorithm, DIGEST_LENGTH, DIGEST_OID, describeAlgorithmOid, digestFromOid, signatureFromOid, signatureOid } from "../algorithms.js";
import { UnsupportedAlgorithmError } from "../errors.js";

/**
 * ```asn
 * RSASSA-PSS-params ::= SEQUENCE {
 *   hashAlgorithm [0] HashAlgorithm DEFAULT sha1,
 *   maskGenAlgorithm [1] MaskGenAlgorithm DEFAULT mgf1SHA1,
 *   saltLength [2] INTEGER DEFAULT 20,
 *   trailerField [3] TrailerField DEFAULT trailerFieldBC }
 * ```
 */
function readPssParams(t: der.Tlv | undefined): { digest: DigestAlgorithm; saltLength: number } {
  let digest: DigestAlgorithm = "sha1";
  let saltLength = 20;
  let mgfHash: DigestAlgorithm = "sha1";
  if (!t || t.tag === der.Tag.NULL) return { digest, saltLength };
  for (const f of der.expect(t, der.Tag.SEQUENCE, "RSASSA-PSS-params")) {
    if (f.tag === 0xa0) digest = digestFromOid(der.readOid(der.children(der.explicit(f, 0, "hashAlgorithm"))[0]));
    else if (f.tag === 0xa2) saltLength = der.readSmallInt(der.explicit(f, 2, "saltLength"), "saltLength");
    else if (f.tag === 0xa1) {
      const [mgfOid, mgfParams] = der.children(der.explicit(f, 1, "maskGenAlgorithm"));
      if (der.readOid(mgfOid) !== oids.id_mgf1) throw new UnsupportedAlgorithmError("PSS with a mask generation function other than MGF1");
      if (mgfParams) mgfHash = digestFromOid(der.readOid(der.children(mgfParams)[0]));
    } else if (f.tag === 0xa3) {
      // RFC 4055 §3.1: trailerField MUST be 1 (trailerFieldBC, 0xBC); node:crypto (OpenSSL) verifies no other.
      const trailer = der.readSmallInt(der.explicit(f, 3, "trailerField"), "trailerField");
      if (trailer !== 1) throw new UnsupportedAlgorithmError(`PSS with trailerField ${trailer} (RFC 4055 §3.1: it must be 1)`);
    }
  }
  // Node (OpenSSL) derives the MGF1 hash from the signature hash.
  if (mgfHash !== digest) throw new UnsupportedAlgorithmError(`PSS with an MGF1 hash (${mgfHash}) different from the message hash (${digest})`);
  return { digest, saltLength };
}

/**
 * Reads a signature AlgorithmIdentifier. `digestHint` is the SignerInfo's
 * digestAlgorithm, needed when the OID is plain `rsaEncryption`.
 * @group X.509
 */
export function readSignatureAlgorithm(t: der.Tlv | undefined, digestHint?: DigestAlgorithm): SignatureAlgorithm {
  const [oidT, params] = der.children(der.expectTag(t, der.Tag.SEQUENCE, "signatureAlgorithm"));
  const oid = der.readOid(oidT, "signatureAlgorithm");
  return signatureFromOid(oid, digestHint, oid === oids.id_RSASSA_PSS ? readPssParams(params) : undefined);
}

/**
 * Reads the signature algorithm of an X.509 `signatureAlgorithm` field (a
 * Certificate's or a CertificateList's, or the `signature` field inside their
 * signed part: RFC 5280 §4.1.1.2, §5.1.1.2), as the scheme and digest that
 * verify it.
 *
 * In: one AlgorithmIdentifier, DER (or BER), nothing after it. Out:
 * `{ scheme, digest }`, plus `saltLength` (bytes) for RSASSA-PSS:
 * - `sha1/224/256/384/512WithRSAEncryption` and `md5WithRSAEncryption`
 *   (RFC 8017 §9.2, RFC 4055 §5) → `{ scheme: "rsa-pkcs1", digest, rsaOid: "withDigest" }`;
 * - `ecdsa-with-SHA1` and `ecdsa-with-SHA224/256/384/512` (RFC 5758 §3.2)
 *   → `{ scheme: "ecdsa", digest }`;
 * - `id-RSASSA-PSS` (RFC 4055 §3.1) → `{ scheme: "rsa-pss", digest, saltLength }`,
 *   the parameters' DEFAULTs filled in (absent or NULL: SHA-1, salt 20).
 *
 * The digest is what the signature is computed over, not a judgement of it:
 * MD5 and SHA-1 are returned as such, for the caller's policy to refuse.
 *
 * ```asn
 * AlgorithmIdentifier ::= SEQUENCE { algorithm OBJECT IDENTIFIER, parameters ANY DEFINED BY algorithm OPTIONAL }
 * RSASSA-PSS-params ::= SEQUENCE { hashAlgorithm [0] HashAlgorithm DEFAULT sha1,
 *   maskGenAlgorithm [1] MaskGenAlgorithm DEFAULT mgf1SHA1, saltLength [2] INTEGER DEFAULT 20,
 *   trailerField [3] TrailerField DEFAULT trailerFieldBC }
 * ```
 *
 * @param algorithmIdentifier - the field's DER: a SEQUENCE, its OBJECT IDENTIFIER and parameters.
 * @returns the scheme, the digest and (RSASSA-PSS) the salt length in bytes.
 * @throws {@link Asn1Error} (`ERR_ASN1`, failInfo badRequest) when the bytes are not one AlgorithmIdentifier.
 * @throws {@link UnsupportedAlgorithmError} (`ERR_UNSUPPORTED_ALGORITHM`, failInfo badAlg) for an algorithm this SDK
 *   cannot verify: an OID outside the lists above (Ed25519, DSA…), plain `rsaEncryption` (no digest named), or
 *   RSASSA-PSS with a mask generation other than MGF1, an MGF1 hash other than its hash, or a trailerField other than 1.
 *
 * @example
 * ```ts
 * import { readFileSync } from "node:fs";
 * import { Certificate, parseSignatureAlgorithm } from "@scep/core";
 *
 * const ca = Certificate.from(readFileSync("ca.pem", "utf8"));
 * const { scheme, digest } = parseSignatureAlgorithm(ca.signatureAlgorithmDer); // e.g. "rsa-pkcs1", "sha256"
 * ```
 * @group X.509
 */
export function parseSignatureAlgorithm(algorithmIdentifier: Uint8Array): SignatureAlgorithm {
  return readSignatureAlgorithm(der.parse(algorithmIdentifier));
}

// The key algorithm OID of an SPKI, by the bytes object: a signer's certificate keeps one SPKI view for life.
const keyAlgorithms = new WeakMap<Uint8Array, string>();

/**
 * The signature algorithm a key signs with unless told otherwise: ECDSA for an
 * EC key (MD5 becomes SHA-256: there is no ECDSA-with-MD5), RSA PKCS#1 v1.5
 * for an RSA key, with the AlgorithmIdentifier in the `rsaOid` form.
 * @group X.509
 */
export function defaultSignatureAlgorithm(spki: Uint8Array, digest: DigestAlgorithm, rsaOid: "rsaEncryption" | "withDigest"): SignatureAlgorithm {
  let oid = keyAlgorithms.get(spki);
  if (oid === undefined) {
    const [algT] = der.children(der.parse(spki));
    oid = der.readOid(der.children(algT)[0], "SubjectPublicKeyInfo algorithm");
    keyAlgorithms.set(spki, oid);
  }
  if (oid === oids.id_ecPublicKey) return { scheme: "ecdsa", digest: digest === "md5" ? "sha256" : digest };
  if (oid === oids.id_rsaEncryption) return { scheme: "rsa-pkcs1", digest, rsaOid };
  throw new UnsupportedAlgorithmError(`no default signature algorithm for a ${describeAlgorithmOid(oid)} key: pass signatureAlgorithm`);
}

/** Encodes a signature AlgorithmIdentifier: NULL parameters for RSA PKCS#1, none for ECDSA, full RSASSA-PSS-params. @group X.509 */
export function signatureAlgorithmIdentifier(alg: SignatureAlgorithm): der.Der {
  const o = signatureOid(alg);
  if (alg.scheme === "ecdsa") return der.algId(o);
  if (alg.scheme === "rsa-pss") {
    const h = der.algId(DIGEST_OID[alg.digest], der.NULL);
    return der.algId(o, der.seq(der.ctx(0, h), der.ctx(1, der.algId(oids.id_mgf1, h)), der.ctx(2, der.int(alg.saltLength ?? DIGEST_LENGTH[alg.digest]))));
  }
  return der.algId(o, der.NULL);
}
