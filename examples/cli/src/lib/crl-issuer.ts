/**
 * Checks that a CRL a CA returned to GetCRL (RFC 8894 §3.3.5) was issued by the CA certificate that issued the
 * requester's certificate (RFC 5280 §6.3.3 (f), (g)): its issuer name is that CA's subject, its authorityKeyIdentifier
 * (RFC 5280 §5.2.1), where both it and the CA's subjectKeyIdentifier are present, is that identifier, and its signature
 * verifies with that CA's key. A name alone proves nothing: every example CA is `CN=SCEP Example CA, O=scep-sdk`.
 *
 * @module
 */
import { constants, createPublicKey, verify } from "node:crypto";
import { formatName, type Certificate } from "@scep/core";
import { CliError, ExitCode } from "./exit.js";
import { nameText } from "./printable.js";

/** One DER element: tag, the whole element's bytes and its contents. */
interface Element {
  tag: number;
  raw: Uint8Array;
  content: Uint8Array;
}

/** The elements of a DER SEQUENCE's contents (definite lengths only: a CRL is DER, RFC 5280 §5). */
function elements(bytes: Uint8Array): Element[] {
  const out: Element[] = [];
  let at = 0;
  while (at < bytes.length) {
    const start = at;
    const tag = bytes[at++]!;
    if ((tag & 0x1f) === 0x1f) throw new Error("a multi-byte tag");
    let length = bytes[at++];
    if (length === undefined) throw new Error("truncated");
    if (length & 0x80) {
      const count = length & 0x7f;
      if (count === 0 || count > 4) throw new Error("an indefinite or oversized length");
      length = 0;
      for (let i = 0; i < count; i++) length = length * 256 + bytes[at++]!;
    }
    if (at + length > bytes.length) throw new Error("truncated");
    out.push({ tag, raw: bytes.subarray(start, at + length), content: bytes.subarray(at, at + length) });
    at += length;
  }
  return out;
}

function one(bytes: Uint8Array, tag: number, what: string): Element {
  const [e, ...rest] = elements(bytes);
  if (!e || e.tag !== tag || rest.length > 0) throw new Error(`${what} is not one element of tag 0x${tag.toString(16)}`);
  return e;
}

const OID_AUTHORITY_KEY_IDENTIFIER = "2.5.29.35"; // id-ce 35
/** Signature algorithm OID → digest, for node:crypto.verify (RSA PKCS #1 v1.5, ECDSA). */
const SIGNATURE_DIGESTS: Readonly<Record<string, string>> = {
  "1.2.840.113549.1.1.5": "sha1", // sha1WithRSAEncryption
  "1.2.840.113549.1.1.14": "sha224", // sha224WithRSAEncryption
  "1.2.840.113549.1.1.11": "sha256", // sha256WithRSAEncryption
  "1.2.840.113549.1.1.12": "sha384", // sha384WithRSAEncryption
  "1.2.840.113549.1.1.13": "sha512", // sha512WithRSAEncryption
  "1.2.840.10045.4.1": "sha1", // ecdsa-with-SHA1
  "1.2.840.10045.4.3.1": "sha224", // ecdsa-with-SHA224
  "1.2.840.10045.4.3.2": "sha256", // ecdsa-with-SHA256
  "1.2.840.10045.4.3.3": "sha384", // ecdsa-with-SHA384
  "1.2.840.10045.4.3.4": "sha512", // ecdsa-with-SHA512
};
const OID_RSASSA_PSS = "1.2.840.113549.1.1.10"; // pkcs-1 10
const OID_MGF1 = "1.2.840.113549.1.1.8"; // pkcs-1 8
/** Hash algorithm OID → digest (RSASSA-PSS-params). */
const HASH_DIGESTS: Readonly<Record<string, string>> = {
  "1.3.14.3.2.26": "sha1", // id-sha1
  "2.16.840.1.101.3.4.2.4": "sha224", // id-sha224
  "2.16.840.1.101.3.4.2.1": "sha256", // id-sha256
  "2.16.840.1.101.3.4.2.2": "sha384", // id-sha384
  "2.16.840.1.101.3.4.2.3": "sha512", // id-sha512
};

/** How node:crypto.verify checks a signature: the digest and, for RSASSA-PSS, the salt length. */
interface Verification {
  digest: string;
  pss?: { saltLength: number };
}

/**
 * The hash of an AlgorithmIdentifier, by OID (its parameters, NULL or absent, are not read).
 */
function hashOf(identifier: Element, what: string): string {
  const id = elements(identifier.content)[0];
  const digest = id?.tag === 0x06 ? HASH_DIGESTS[oid(id.content)] : undefined;
  if (!digest) throw new Error(`an RSASSA-PSS ${what} this check does not know`);
  return digest;
}

/**
 * RSASSA-PSS parameters (RFC 4055 §3.1), where node:crypto can check them: MGF1 with the signature's own hash.
 *
 * ```asn
 * RSASSA-PSS-params ::= SEQUENCE { hashAlgorithm [0] HashAlgorithm DEFAULT sha1, maskGenAlgorithm [1] MaskGenAlgorithm DEFAULT mgf1SHA1,
 *   saltLength [2] INTEGER DEFAULT 20, trailerField [3] TrailerField DEFAULT trailerFieldBC }
 * ```
 */
function pssVerification(params: Element | undefined): Verification {
  let digest = "sha1";
  let mgfDigest = "sha1";
  let saltLength = 20;
  for (const field of params?.tag === 0x30 ? elements(params.content) : []) {
    const inner = one(field.content, field.tag === 0xa2 || field.tag === 0xa3 ? 0x02 : 0x30, "an RSASSA-PSS parameter");
    if (field.tag === 0xa0) digest = hashOf(inner, "hash");
    else if (field.tag === 0xa1) {
      const [id, hash] = elements(inner.content);
      if (id?.tag !== 0x06 || oid(id.content) !== OID_MGF1 || hash?.tag !== 0x30) throw new Error("an RSASSA-PSS mask generation other than MGF1");
      mgfDigest = hashOf(hash, "MGF1 hash");
    } else if (field.tag === 0xa2) {
      if (inner.content.length === 0 || inner.content.length > 4 || inner.content[0]! & 0x80) throw new Error("an RSASSA-PSS salt length out of range");
      saltLength = inner.content.reduce((n, b) => n * 256 + b, 0);
    } else if (field.tag === 0xa3) {
      if (inner.content.length !== 1 || inner.content[0] !== 1) throw new Error("an RSASSA-PSS trailer field other than 1");
    } else throw new Error("an RSASSA-PSS-params field this check does not know");
  }
  if (mgfDigest !== digest) throw new Error(`an RSASSA-PSS signature whose MGF1 hash (${mgfDigest}) is not its hash (${digest})`);
  return { digest, pss: { saltLength } };
}

function oid(content: Uint8Array): string {
  const arcs: number[] = [];
  let value = 0;
  for (const byte of content) {
    value = value * 128 + (byte & 0x7f);
    if (!(byte & 0x80)) {
      if (arcs.length === 0) arcs.push(value < 80 ? Math.floor(value / 40) : 2, value < 80 ? value % 40 : value - 80);
      else arcs.push(value);
      value = 0;
    }
  }
  return arcs.join(".");
}

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString("hex");

/** What the check needs from a CRL. */
interface CrlParts {
  tbs: Uint8Array;
  issuer: Uint8Array;
  /** How to verify the signature, or why this check cannot (an algorithm or parameters it does not know). */
  verification: Verification | string;
  signature: Uint8Array;
  authorityKeyId: Uint8Array | undefined;
}

/**
 * ```asn
 * CertificateList ::= SEQUENCE { tbsCertList TBSCertList, signatureAlgorithm AlgorithmIdentifier, signatureValue BIT STRING }
 * TBSCertList ::= SEQUENCE { version Version OPTIONAL, signature AlgorithmIdentifier, issuer Name, thisUpdate Time,
 *   nextUpdate Time OPTIONAL, revokedCertificates SEQUENCE OF SEQUENCE { … } OPTIONAL, crlExtensions [0] EXPLICIT Extensions OPTIONAL }
 * AuthorityKeyIdentifier ::= SEQUENCE { keyIdentifier [0] KeyIdentifier OPTIONAL, … }
 * ```
 */
function readCrl(der: Uint8Array): CrlParts {
  const list = one(der, 0x30, "CertificateList");
  const [tbsCertList, signatureAlgorithm, signatureValue] = elements(list.content);
  if (tbsCertList?.tag !== 0x30 || signatureAlgorithm?.tag !== 0x30 || signatureValue?.tag !== 0x03) throw new Error("not a CertificateList");
  const fields = elements(tbsCertList.content);
  let i = fields[0]?.tag === 0x02 ? 1 : 0; // version
  i += 1; // signature
  const issuer = fields[i];
  if (issuer?.tag !== 0x30) throw new Error("no issuer Name");
  let authorityKeyId: Uint8Array | undefined;
  const extensions = fields.find((f) => f.tag === 0xa0);
  if (extensions) {
    for (const extension of elements(one(extensions.content, 0x30, "crlExtensions").content)) {
      const [id, ...rest] = elements(extension.content);
      if (id?.tag !== 0x06 || oid(id.content) !== OID_AUTHORITY_KEY_IDENTIFIER) continue;
      const value = rest.at(-1);
      if (value?.tag !== 0x04) throw new Error("an authorityKeyIdentifier without its OCTET STRING");
      authorityKeyId = elements(one(value.content, 0x30, "AuthorityKeyIdentifier").content).find((f) => f.tag === 0x80)?.content;
    }
  }
  const [algorithm, params] = elements(signatureAlgorithm.content);
  if (algorithm?.tag !== 0x06) throw new Error("no signature algorithm");
  if (signatureValue.content[0] !== 0) throw new Error("a signature with unused bits");
  const algorithmOid = oid(algorithm.content);
  const digest = SIGNATURE_DIGESTS[algorithmOid];
  let verification: Verification | string = digest === undefined ? `algorithm ${algorithmOid}, which this check does not know` : { digest };
  if (algorithmOid === OID_RSASSA_PSS) {
    try {
      verification = pssVerification(params);
    } catch (error) {
      verification = (error as Error).message;
    }
  }
  return { tbs: tbsCertList.raw, issuer: issuer.raw, verification, signature: signatureValue.content.subarray(1), authorityKeyId };
}

/** A Name (DER) as text, or what it is when it does not parse (a hostile CA's CRL: still a one-line refusal). */
function readableName(name: Uint8Array): string {
  try {
    return nameText(formatName(name));
  } catch {
    return `a Name that does not parse (${hex(name.subarray(0, 32))}${name.length > 32 ? "…" : ""})`;
  }
}

const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && a.every((x, i) => x === b[i]);

/**
 * Throws a one-line {@link CliError} (exit {@link ExitCode.ERROR}) unless `crl` (DER) was issued by the certificate in
 * `caCertificates` that issued `certificate` (RFC 5280 §6.3.3: issuer name, authorityKeyIdentifier where present,
 * signature: RSA PKCS #1 v1.5, RSASSA-PSS with MGF1 of its own hash, or ECDSA). `certFile` names --cert
 * in the message.
 */
export function checkCrlIssuer(crl: Uint8Array, certificate: Certificate, caCertificates: readonly Certificate[], certFile: string): void {
  const issuerCa = caCertificates.find((c) => certificate.isIssuedBy(c));
  if (!issuerCa) {
    throw new CliError(`the CA's GetCACert reply holds no certificate that issued --cert ${certFile} (issuer ${certificate.issuer}), so its CRL cannot be checked; is --cert a certificate this CA issued?`, ExitCode.ERROR);
  }
  const refuse = (why: string): never => {
    throw new CliError(`the CA returned a CRL that is not ${nameText(issuerCa.subject)}'s (the CA that issued --cert ${certFile}): ${why}; nothing was written`, ExitCode.ERROR);
  };
  let parts: CrlParts;
  try {
    parts = readCrl(crl);
  } catch (error) {
    return refuse(`it is not a DER CRL (${(error as Error).message})`);
  }
  if (!sameBytes(parts.issuer, issuerCa.subjectDer)) refuse(`its issuer is ${readableName(parts.issuer)}`);
  const verification = parts.verification;
  if (typeof verification === "string") return refuse(`it is signed with ${verification}`);
  let verified = false;
  try {
    const key = createPublicKey({ key: Buffer.from(issuerCa.spki), format: "der", type: "spki" });
    const options = verification.pss ? { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: verification.pss.saltLength } : key;
    verified = verify(verification.digest, parts.tbs, options, parts.signature);
  } catch {
    verified = false;
  }
  if (!verified) refuse("its signature does not verify with that CA's key (another CA with the same name?)");
  const ski = issuerCa.subjectKeyIdentifier;
  if (parts.authorityKeyId && ski && !sameBytes(parts.authorityKeyId, ski)) {
    refuse(`its authorityKeyIdentifier ${hex(parts.authorityKeyId)} is not the CA's subjectKeyIdentifier ${hex(ski)}`);
  }
}
