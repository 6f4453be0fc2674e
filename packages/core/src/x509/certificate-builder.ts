/**
 * Issuing X.509 v3 certificates (RFC 5280 §4.1) with a {@link Signer}: the
 * TBSCertificate is written with the DER writer in one pass and signed by the
 * issuer's key, wherever that key lives (a {@link LocalKey}, an HSM, a KMS).
 *
 * What a SCEP CA needs on its issuing path and nothing more: no parsing of the
 * request again, no ASN.1 schema objects, no WebCrypto key import.
 *
 * @module
 */
import * as der from "../lib/der.js";
import * as oids from "../oids.js";
import * as nc from "../lib/node-crypto.js";
import type { SignatureAlgorithm } from "../algorithms.js";
import type { Signer } from "../keys/key.js";
import { defaultSignatureAlgorithm, signatureAlgorithmIdentifier } from "./algorithm-identifier.js";
import { Asn1Error, InvalidArgumentError, isScepError } from "../errors.js";
import { MAX_RECORD_MS, numberOption } from "../number-option.js";
import { Certificate } from "./certificate.js";
import { type Extension, type KeyUsage, type SubjectAltNames, certificateGeneralNames, duplicateExtensionOid, findExtension, generalNamesProblem, parseSubjectAltNames } from "./extensions.js";
import { nameProblem, reencodeName } from "./name.js";
import type { certificateName } from "./name.js"; // named in {@link certificateName} below: no runtime import
import { requestedSids } from "./windows-sid.js";
import { rsaPublicKeyProblem } from "./rsa-public-key.js";

/**
 * Options of {@link buildCertificate}.
 *
 * @example
 * ```ts
 * import { readFileSync } from "node:fs";
 * import { CertificationRequest, LocalKey, endEntityExtensions, type BuildCertificateOptions } from "@scep/core";
 *
 * const ca = LocalKey.fromPem(readFileSync("ca.pem", "utf8"), readFileSync("ca.key", "utf8"));
 * const csr = CertificationRequest.from(readFileSync("device.csr", "utf8")); // or request.csr from decodePkiMessage
 * const now = new Date();
 * const options: BuildCertificateOptions = {
 *   issuer: ca, // a LocalKey or any Signer
 *   subject: csr.subjectDer,
 *   publicKey: csr.spki,
 *   serialNumber: crypto.getRandomValues(new Uint8Array(16)),
 *   now, // notBefore: now minus backdateMs (5 minutes), never before the CA's own notBefore
 *   notAfter: new Date(now.getTime() + 365 * 86_400_000),
 *   extensions: endEntityExtensions({ csr, issuer: ca }),
 * };
 * ```
 * @group X.509
 */
export interface BuildCertificateOptions {
  /** Signs the certificate; its certificate is the issuer (issuer name, and the key the signature verifies with). */
  issuer: Signer;
  /** The subject Name, DER (e.g. `csr.subjectDer`); an empty SEQUENCE (`30 00`) is allowed when a critical subjectAltName is among the extensions. */
  subject: Uint8Array;
  /** The subject's SubjectPublicKeyInfo, DER (e.g. `csr.spki`). */
  publicKey: Uint8Array;
  /**
   * The serial number, big-endian and unsigned, 1–20 octets once encoded.
   * Leading zero octets are dropped and one `00` is put back when the high
   * bit is set, so the INTEGER is positive and minimal (a certificate's
   * {@link Certificate.serialNumber} content octets can be passed as they are,
   * except those of a negative serial, which RFC 5280 forbids for a new
   * certificate: `80 01` is read as 0x8001 here).
   */
  serialNumber: Uint8Array;
  /**
   * Start of validity (written with second precision), used exactly as given.
   * Omitted: `now` minus `backdateMs`, but never before the issuer
   * certificate's own notBefore (a certificate must not start before its CA).
   */
  notBefore?: Date;
  /**
   * Milliseconds to back-date notBefore by when `notBefore` is omitted
   * (default 300 000: five minutes; an integer from 0 to 31 536 000 000, 365 days), so a device whose clock runs a little
   * slow does not see "not yet valid" (RFC 5280 §4.1.2.5 leaves the choice to
   * the CA; step-ca back-dates by default too). Not allowed together with
   * `notBefore`.
   */
  backdateMs?: number;
  /** The current time, for the default notBefore (default `new Date()`; tests inject a clock). */
  now?: Date;
  /** End of validity (written with second precision); not before `notBefore`. */
  notAfter: Date;
  /** Extensions in the order they are written (see {@link endEntityExtensions}); one per OID. */
  extensions?: readonly Extension[];
  /**
   * Default: RSA PKCS#1 v1.5 with SHA-256 for an RSA issuer, ECDSA with
   * SHA-256 for an EC issuer. For `rsa-pkcs1` the certificate always names
   * `sha*WithRSAEncryption` (`rsaOid` is ignored: plain `rsaEncryption` is a
   * SignerInfo convention, not a certificate signature algorithm).
   */
  signatureAlgorithm?: SignatureAlgorithm;
}

/**
 * Options of {@link endEntityExtensions}.
 *
 * @example
 * ```ts
 * import { readFileSync } from "node:fs";
 * import { CertificationRequest, LocalKey, endEntityExtensions, type EndEntityExtensionsOptions } from "@scep/core";
 *
 * const ca = LocalKey.fromPem(readFileSync("ca.pem", "utf8"), readFileSync("ca.key", "utf8"));
 * const csr = CertificationRequest.from(readFileSync("device.csr", "utf8"));
 * const options: EndEntityExtensionsOptions = { csr, issuer: ca, extendedKeyUsage: ["1.3.6.1.5.5.7.3.1"] };
 * const extensions = endEntityExtensions(options);
 * ```
 * @group X.509
 */
export interface EndEntityExtensionsOptions {
  /** The request (a {@link CertificationRequest}, or anything with its subject, key and requested extensions). */
  csr: { readonly subjectDer: Uint8Array; readonly spki: Uint8Array; readonly extensions: readonly Extension[] };
  /** The issuing CA (its subjectKeyIdentifier becomes the authorityKeyIdentifier). */
  issuer: Signer | Certificate;
  /** The subject the certificate will carry, when not the CSR's (decides whether subjectAltName is critical). */
  subject?: Uint8Array;
  /** keyUsage bits; default digitalSignature + keyEncipherment for an RSA key, digitalSignature for others. */
  keyUsage?: readonly KeyUsage[];
  /** extendedKeyUsage purpose OIDs; default clientAuth. An empty list leaves the extension out. */
  extendedKeyUsage?: readonly string[];
  /**
   * Certify a Windows SID the request carries (default false): with true, a subjectAltName holding a SID (Intune's
   * `tag:microsoft.com,2022-09-14:sid:<SID>` URI, an otherName 1.3.6.1.4.1.311.25.2.1) is copied and so is a
   * requested SID extension (1.3.6.1.4.1.311.25.2). Without it a SID-bearing subjectAltName is an error and the SID
   * extension is never copied: a certificate with a SID logs in as that Windows account (SID spoofing). In a SCEP
   * issue hook pass `IssueContext.allowSid` (the profile's `csrPolicy.allowSid`).
   */
  allowSid?: boolean;
}

const EMPTY_NAME = new Uint8Array([0x30, 0x00]);
const TRUE = new Uint8Array([0x01, 0x01, 0xff]);
const KEY_USAGE_BITS: readonly KeyUsage[] = ["digitalSignature", "nonRepudiation", "keyEncipherment", "dataEncipherment", "keyAgreement", "keyCertSign", "cRLSign", "encipherOnly", "decipherOnly"];

function isCertificate(c: unknown): c is Certificate {
  const x = c as Partial<Certificate> | undefined;
  return x?.subjectDer instanceof Uint8Array && x.spki instanceof Uint8Array && Array.isArray(x.extensions);
}

function invalid(message: string, cause?: unknown): InvalidArgumentError {
  return new InvalidArgumentError(message, cause === undefined ? {} : { cause });
}

/** Checks that `bytes` is exactly one DER SEQUENCE; returns its parsed form. */
function sequence(bytes: unknown, what: string): der.Tlv {
  if (!(bytes instanceof Uint8Array)) throw invalid(`${what} must be a Uint8Array holding DER`);
  let t: der.Tlv;
  try {
    t = der.parse(bytes);
  } catch (cause) {
    throw invalid(`${what} is not a DER element`, cause);
  }
  if (t.tag !== der.Tag.SEQUENCE) throw invalid(`${what} must be a SEQUENCE`);
  return t;
}

function serialContent(serial: unknown): Uint8Array {
  if (!(serial instanceof Uint8Array) || serial.length === 0) throw invalid("serialNumber must be a non-empty Uint8Array");
  let i = 0;
  while (i < serial.length && serial[i] === 0) i++;
  if (i === serial.length) throw invalid("serialNumber must be positive (RFC 5280 §4.1.2.2), got zero");
  const magnitude = serial.subarray(i);
  const content = magnitude[0]! & 0x80 ? der.concat([new Uint8Array([0]), magnitude]) : magnitude;
  if (content.length > 20) throw invalid(`serialNumber is ${content.length} octets encoded; RFC 5280 §4.1.2.2 allows at most 20`);
  return content;
}

function validTime(d: unknown, what: string): Date {
  if (!(d instanceof Date) || Number.isNaN(d.getTime())) throw invalid(`${what} must be a valid Date`);
  const y = d.getUTCFullYear();
  if (y < 0 || y > 9999) throw invalid(`${what} must lie in the years 0000–9999, got ${y}`);
  return d;
}

/** Five minutes: how far notBefore is back-dated by default. */
const DEFAULT_BACKDATE_MS = 5 * 60_000;

/** How far notBefore may be back-dated: an integer number of ms from 0 to 365 days (a record's longest lifetime). */
const BACKDATE_MS = { min: 0, max: MAX_RECORD_MS, unit: "ms" } as const;

function defaultNotBefore(options: BuildCertificateOptions, issuer: Certificate): unknown {
  if (options.notBefore !== undefined) {
    if (options.backdateMs !== undefined) throw invalid("give notBefore or backdateMs, not both (backdateMs applies to the default notBefore)");
    return options.notBefore;
  }
  const backdate = numberOption("backdateMs", options.backdateMs, DEFAULT_BACKDATE_MS, BACKDATE_MS);
  const now = validTime(options.now ?? new Date(), "now");
  return new Date(Math.max(now.getTime() - backdate, issuer.notBefore.getTime()));
}

/**
 * The SubjectPublicKeyInfo algorithms whose key is an RSAPublicKey for OpenSSL (and so for Node, which verifies a
 * CSR's signature with it): rsaEncryption, id-RSASSA-PSS (RFC 4055 §1.2), and X.500's id-ea-rsa (2.5.8.1.1), which
 * OpenSSL reads as plain RSA. Each must pass the weak-key checks: checking rsaEncryption alone let an exponent-1 key
 * through under 2.5.8.1.1.
 */
const RSA_KEY_ALGORITHMS: ReadonlySet<string> = new Set([oids.id_rsaEncryption, oids.id_RSASSA_PSS, "2.5.8.1.1"]);

/**
 * Why the key of a SubjectPublicKeyInfo (as {@link readSpki} reads it) must not be certified: an RSA key (any of
 * {@link RSA_KEY_ALGORITHMS}) that fails {@link rsaPublicKeyProblem} (CA/Browser Forum BR §6.1.6). Undefined
 * otherwise.
 */
function weakKeyProblem(algorithm: string, key: Uint8Array): string | undefined {
  if (!RSA_KEY_ALGORITHMS.has(algorithm)) return undefined;
  try {
    return rsaPublicKeyProblem(key);
  } catch (cause) {
    return `not an RSAPublicKey (RFC 8017 §A.1.1): ${(cause as Error).message}`;
  }
}

/** The public key algorithm OID of a SubjectPublicKeyInfo, and its subjectPublicKey bits (without the unused-bits octet). */
function readSpki(spki: der.Tlv, what: string): { algorithm: string; key: Uint8Array } {
  try {
    const [algT, keyT] = der.children(spki);
    const algorithm = der.readOid(der.children(der.expectTag(algT, der.Tag.SEQUENCE, `${what} algorithm`))[0], `${what} algorithm`);
    // Primitive only (DER, RFC 5280 §4.1): a constructed (BER) BIT STRING copied into a certificate makes one
    // OpenSSL and Go cannot parse.
    if (keyT?.tag !== der.Tag.BIT_STRING) throw new Asn1Error(`${what} subjectPublicKey: expected a primitive BIT STRING (tag 0x3), got ${keyT ? `0x${keyT.tag.toString(16)}` : "none"}`);
    const bits = der.content(keyT);
    if (bits.length < 2 || bits[0] !== 0) throw new Asn1Error(`${what} subjectPublicKey must be whole octets`);
    return { algorithm, key: bits.subarray(1) };
  } catch (cause) {
    if (cause instanceof InvalidArgumentError) throw cause;
    throw invalid(`${what} is not a SubjectPublicKeyInfo`, cause);
  }
}

function encodeExtension(e: Extension): der.Der {
  if (typeof e?.oid !== "string") throw invalid("an extension needs a dotted oid");
  if (!(e.value instanceof Uint8Array)) throw invalid(`extension ${e.oid}: value must be a Uint8Array`);
  let id: Uint8Array;
  try {
    id = der.oid(e.oid);
  } catch (cause) {
    throw invalid(`extension oid must be a dotted OID, got ${e.oid}`, cause);
  }
  try {
    der.parse(e.value); // extnValue holds exactly one DER element (RFC 5280 §4.1)
  } catch (cause) {
    throw invalid(`extension ${e.oid}: value is not one DER element`, cause);
  }
  return e.critical ? der.seq(id, TRUE, der.octetString(e.value)) : der.seq(id, der.octetString(e.value));
}

/**
 * Builds and signs an X.509 v3 certificate (RFC 5280 §4.1).
 *
 * notBefore defaults to now minus five minutes (`backdateMs`), never before
 * the issuer's own notBefore, so a device whose clock runs late still sees a
 * valid certificate; `notAfter` is always the caller's.
 *
 * The TBSCertificate holds version v3, the serial number, the signature
 * AlgorithmIdentifier (the same as the outer one: no parameters for ECDSA,
 * NULL for RSA PKCS#1 v1.5, RSASSA-PSS-params for PSS), the issuer's subject
 * as issuer name, the validity (UTCTime through 2049, GeneralizedTime from
 * 2050, RFC 5280 §4.1.2.5), `subject`, `publicKey` and the `extensions` in
 * the order given. `issuer.sign` signs it; nothing is re-parsed but the
 * result, which is returned as a {@link Certificate}.
 *
 * The inputs are checked for shape (DER SEQUENCEs, serial length, dates,
 * one extension per OID, a critical subjectAltName when the subject is
 * empty), and the subject and a subjectAltName for what OpenSSL and Go can
 * parse (every name value a string of a DirectoryString, IA5String or
 * NumericString type with valid octets, RFC 5280 §4.1.2.4; well-formed
 * GeneralNames, §4.2.1.6; RFC 5280 Appendix A's upper bounds, e.g. a CN of at
 * most 64 characters, and its PrintableString and IA5String attributes:
 * see {@link nameProblem}), not for policy: deciding what to certify is the
 * caller's job. One exception: an RSA `publicKey` no CA may certify (CA/Browser
 * Forum BR §6.1.6: an exponent below 3 or even, a modulus with a factor below
 * 752) is refused, since its proof of possession may prove nothing. The
 * subject, and each directoryName of a subjectAltName, is written as
 * {@link certificateName} re-encodes it: a PrintableString holding `@`, `_`
 * or `*` becomes a UTF8String with the same text (Go's crypto/x509
 * refuses to parse the certificate otherwise); the other GeneralNames keep
 * their bytes.
 *
 * @throws InvalidArgumentError `ERR_INVALID_ARGUMENT` for malformed inputs
 * (including `notBefore` together with `backdateMs`, or a `backdateMs` that is not an integer number of ms from 0 to
 * 365 days: `numberOption`'s message, e.g. `backdateMs must be an integer number of milliseconds from 0 to 31536000000 (got NaN)`;
 * a weak RSA key: `publicKey is a weak RSA key (CA/Browser Forum BR §6.1.6): public exponent 1 is below 3`);
 * whatever `issuer.sign` throws (e.g. `ERR_UNSUPPORTED_ALGORITHM` for a key
 * that cannot make the requested signature).
 *
 * @example
 * ```ts
 * import { readFileSync } from "node:fs";
 * import { LocalKey, CertificationRequest, buildCertificate, endEntityExtensions } from "@scep/core";
 *
 * const ca = LocalKey.fromPem(readFileSync("ca.pem", "utf8"), readFileSync("ca.key", "utf8"));
 * const csr = CertificationRequest.from(readFileSync("device.csr", "utf8")); // or request.csr from decodePkiMessage
 * const now = new Date();
 * const certificate = await buildCertificate({
 *   issuer: ca,
 *   subject: csr.subjectDer,
 *   publicKey: csr.spki,
 *   serialNumber: crypto.getRandomValues(new Uint8Array(16)),
 *   // notBefore omitted: now minus 5 minutes (backdateMs), never before the CA's notBefore
 *   notAfter: new Date(now.getTime() + 365 * 86_400_000),
 *   extensions: endEntityExtensions({ csr, issuer: ca }),
 * });
 * console.log(certificate.toPem());
 * ```
 * @group X.509
 */
export async function buildCertificate(options: BuildCertificateOptions): Promise<Certificate> {
  if (typeof options !== "object" || options === null) throw invalid("buildCertificate needs an options object");
  const { issuer } = options;
  // Shape checks, not instanceof: a Signer may come from another copy of this package (ESM and CJS builds).
  if (!issuer || !isCertificate(issuer.certificate) || typeof issuer.sign !== "function") {
    throw invalid("issuer must be a Signer (a certificate and a sign method)");
  }
  const subjectT = sequence(options.subject, "subject");
  checkSubject(options.subject);
  const spki = readSpki(sequence(options.publicKey, "publicKey"), "publicKey");
  const weak = weakKeyProblem(spki.algorithm, spki.key);
  if (weak) throw invalid(`publicKey is a weak RSA key (CA/Browser Forum BR §6.1.6): ${weak}`);
  const serial = serialContent(options.serialNumber);
  const notBefore = validTime(defaultNotBefore(options, issuer.certificate), "notBefore");
  const notAfter = validTime(options.notAfter, "notAfter");
  if (Math.floor(notAfter.getTime() / 1000) < Math.floor(notBefore.getTime() / 1000)) {
    throw invalid(`notAfter ${notAfter.toISOString()} is before notBefore ${notBefore.toISOString()}`);
  }
  const extensions = options.extensions ?? [];
  if (!Array.isArray(extensions)) throw invalid("extensions must be an array");
  const encoded: der.Der[] = (extensions as readonly Extension[]).map(encodeExtension);
  const twice = duplicateExtensionOid(extensions);
  if (twice) throw invalid(`extension ${twice} appears twice (RFC 5280 §4.2)`);
  const san = findExtension(extensions, oids.id_ce_subjectAltName);
  if (san) {
    // Checked (ERR_INVALID_ARGUMENT "the subjectAltName is not one a certificate can carry …") and a directoryName
    // written as the subject is, in one read (certificateGeneralNames: generalNamesProblem, then reencodeName on each).
    const value = certificateGeneralNames(san.value);
    if (value !== san.value) encoded[extensions.indexOf(san)] = encodeExtension({ ...san, value });
  }
  if (subjectT.contentStart === subjectT.contentEnd) {
    if (!san?.critical) throw invalid("a certificate with an empty subject needs a critical subjectAltName (RFC 5280 §4.1.2.6)");
  }

  let algorithm = options.signatureAlgorithm ?? defaultSignatureAlgorithm(issuer.certificate.spki, "sha256", "withDigest");
  if (algorithm.scheme === "rsa-pkcs1" && algorithm.rsaOid !== "withDigest") algorithm = { ...algorithm, rsaOid: "withDigest" };
  let algId: Uint8Array;
  try {
    algId = der.encode(signatureAlgorithmIdentifier(algorithm));
  } catch (cause) {
    if (isScepError(cause) && cause.code === "ERR_UNSUPPORTED_ALGORITHM") throw cause;
    throw invalid("unusable signatureAlgorithm", cause);
  }

  const tbs = der.encode(
    der.seq(
      VERSION_3,
      der.tlv(der.Tag.INTEGER, serial),
      algId,
      issuer.certificate.subjectDer,
      der.seq(der.time(notBefore), der.time(notAfter)),
      reencodeName(options.subject), // checked above (checkSubject): certificateName without its second check
      options.publicKey,
      ...(encoded.length > 0 ? [der.ctx(3, der.seq(...encoded))] : []),
    ),
  );
  const signature = await issuer.sign(tbs, algorithm);
  const bits = new Uint8Array(signature.length + 1);
  bits.set(signature, 1);
  return new Certificate(der.encode(der.seq(tbs, algId, der.tlv(der.Tag.BIT_STRING, bits))));
}

/**
 * Why a SubjectPublicKeyInfo (DER) must not be certified, as the CSR policy's one-line reason (undefined when it may):
 * it cannot be copied into a certificate (RFC 5280 §4.1.2.7: not a SEQUENCE of an AlgorithmIdentifier and a primitive
 * BIT STRING of whole octets), or it holds an RSA key no CA may certify (CA/Browser Forum BR §6.1.6: an exponent below
 * 3 or even, a modulus with a factor below 752; see {@link rsaPublicKeyProblem}). One read of the SPKI for both.
 * @internal
 */
export function publicKeyProblem(spki: Uint8Array): string | undefined {
  let read: { algorithm: string; key: Uint8Array };
  try {
    read = readSpki(sequence(spki, "the public key"), "the public key");
  } catch (e) {
    const cause = (e as { cause?: unknown }).cause;
    const problem = cause instanceof Error ? `${(e as Error).message}: ${cause.message}` : (e as Error).message;
    return `the public key cannot be certified (RFC 5280 §4.1.2.7): ${problem}`;
  }
  // An RSA key OpenSSL reads but no CA may certify: exponent 1 "signs" anything, so its self-signature proved nothing.
  const weak = weakKeyProblem(read.algorithm, read.key);
  return weak && `weak RSA key (CA/Browser Forum BR §6.1.6): ${weak}`;
}

/** Throws when a subject Name would make a certificate that OpenSSL and Go cannot parse ({@link nameProblem}). */
function checkSubject(subject: Uint8Array): void {
  const problem = nameProblem(subject);
  if (problem) throw invalid(`the subject is not a Name a certificate can carry (RFC 5280 §4.1.2.6): ${problem}`);
}

/** Throws when a subjectAltName value is not well-formed GeneralNames ({@link generalNamesProblem}); as {@link certificateGeneralNames} does. */
function checkSubjectAltName(value: Uint8Array): void {
  const problem = generalNamesProblem(value);
  if (problem) throw invalid(`the subjectAltName is not one a certificate can carry (RFC 5280 §4.2.1.6): ${problem}`);
}

/** Throws when a requested subjectAltName (GeneralNames DER) carries a Windows SID. */
function refuseSidSan(value: Uint8Array): void {
  let sans: SubjectAltNames;
  try {
    sans = parseSubjectAltNames(value);
  } catch (cause) {
    throw invalid("the request's subjectAltName is not a valid GeneralNames", cause);
  }
  const sids = requestedSids([], sans);
  if (sids.uris.length > 0 || sids.otherNames > 0) {
    throw invalid(`the request's subjectAltName carries a Windows SID (${sids.uris[0] ?? `otherName ${oids.id_ms_ntds_objectsid}`}); pass allowSid: true only where the SID was verified`);
  }
}

/** version [0] EXPLICIT INTEGER v3(2). */
const VERSION_3 = der.encode(der.ctx(0, der.int(2)));

function keyUsageValue(usages: readonly KeyUsage[]): Uint8Array {
  let mask = 0;
  for (const u of usages) {
    const bit = KEY_USAGE_BITS.indexOf(u);
    if (bit < 0) throw invalid(`unknown keyUsage ${String(u)}`);
    mask |= 1 << bit;
  }
  if (mask === 0) throw invalid("keyUsage needs at least one bit (RFC 5280 §4.2.1.3)");
  // DER named bit list: bit 0 is the high bit of the first octet; no trailing zero bits.
  let highest = 0;
  for (let b = 0; b < KEY_USAGE_BITS.length; b++) if (mask & (1 << b)) highest = b;
  const octets = new Uint8Array((highest >> 3) + 1);
  for (let b = 0; b <= highest; b++) if (mask & (1 << b)) octets[b >> 3]! |= 0x80 >> (b & 7);
  const unused = 7 - (highest & 7);
  return der.encode(der.tlv(der.Tag.BIT_STRING, new Uint8Array([unused]), octets));
}

/** RFC 5280 §4.2.1.2 method (1): SHA-1 of the subjectPublicKey bits. */
function keyIdentifier(spki: Uint8Array, what: string): Uint8Array {
  return nc.digest("sha1", readSpki(sequence(spki, what), what).key);
}

/**
 * The extensions of an ordinary end-entity (client) certificate for a
 * request, in this order:
 *
 * - basicConstraints `cA: FALSE` (critical);
 * - keyUsage (critical): digitalSignature + keyEncipherment for an RSA key,
 *   digitalSignature for any other key, or `keyUsage`;
 * - extendedKeyUsage: clientAuth, or `extendedKeyUsage`;
 * - subjectKeyIdentifier: SHA-1 of the subjectPublicKey bits (RFC 5280
 *   §4.2.1.2 method 1);
 * - authorityKeyIdentifier: keyIdentifier = the issuer's subjectKeyIdentifier
 *   (computed the same way from its key when its certificate has none);
 * - the request's subjectAltName extension, copied byte for byte, and made
 *   critical when the subject is empty (RFC 5280 §4.2.1.6); {@link buildCertificate}
 *   writes its directoryNames as it writes the subject;
 * - with `allowSid` only, the request's Windows SID extension (1.3.6.1.4.1.311.25.2).
 *
 * Other requested extensions are not copied: a CA decides what it certifies.
 * A subjectAltName carrying a Windows SID is refused unless `allowSid`.
 *
 * @throws InvalidArgumentError `ERR_INVALID_ARGUMENT` when the subject is
 * empty and the request has no subjectAltName, when the subject or the
 * subjectAltName could not go into a certificate a client can parse (see
 * {@link buildCertificate}), when its subjectAltName carries a Windows SID
 * and `allowSid` is not set, or for a malformed key or option.
 *
 * @example
 * ```ts
 * async function issue(request: PkiRequest, ca: LocalKey): Promise<Certificate> {
 *   const csr = request.csr!; // a PKCSReq's
 *   const extensions = endEntityExtensions({ csr, issuer: ca });
 *   const notBefore = new Date();
 *   const notAfter = new Date(notBefore.getTime() + 365 * 86_400_000);
 *   const serialNumber = crypto.getRandomValues(new Uint8Array(16));
 *   return buildCertificate({ issuer: ca, subject: csr.subjectDer, publicKey: csr.spki, serialNumber, notBefore, notAfter, extensions });
 * }
 * ```
 * @group X.509
 */
export function endEntityExtensions(options: EndEntityExtensionsOptions): Extension[] {
  const { csr } = options;
  if (!csr || !(csr.spki instanceof Uint8Array)) throw invalid("csr must hold a subjectDer, an spki and extensions");
  const issuer = options.issuer as Partial<Signer> | Certificate | undefined;
  const issuerCertificate = issuer && "certificate" in issuer ? issuer.certificate : issuer;
  if (!isCertificate(issuerCertificate)) throw invalid("issuer must be a Certificate or a Signer");
  const subject = options.subject ?? csr.subjectDer;
  const subjectT = sequence(subject, "subject");
  checkSubject(subject);
  const subjectEmpty = subjectT.contentStart === subjectT.contentEnd;
  const { algorithm, key } = readSpki(sequence(csr.spki, "csr public key"), "csr public key");

  const usages = options.keyUsage ?? (algorithm === oids.id_rsaEncryption ? (["digitalSignature", "keyEncipherment"] as const) : (["digitalSignature"] as const));
  const purposes = options.extendedKeyUsage ?? [oids.id_kp_clientAuth];
  let purposeOids: Uint8Array[];
  try {
    purposeOids = purposes.map((p) => der.oid(p));
  } catch (cause) {
    throw invalid("extendedKeyUsage must hold dotted OIDs", cause);
  }
  const issuerKeyId = issuerCertificate.subjectKeyIdentifier ?? keyIdentifier(issuerCertificate.spki, "issuer public key");

  const out: Extension[] = [
    { oid: oids.id_ce_basicConstraints, critical: true, value: EMPTY_NAME /* BasicConstraints ::= SEQUENCE {} (cA DEFAULT FALSE) */ },
    { oid: oids.id_ce_keyUsage, critical: true, value: keyUsageValue(usages) },
  ];
  if (purposeOids.length > 0) out.push({ oid: oids.id_ce_extKeyUsage, critical: false, value: der.encode(der.seq(...purposeOids)) });
  out.push(
    { oid: oids.id_ce_subjectKeyIdentifier, critical: false, value: der.encode(der.octetString(nc.digest("sha1", key))) },
    // AuthorityKeyIdentifier ::= SEQUENCE { keyIdentifier [0] IMPLICIT OCTET STRING, … }
    { oid: oids.id_ce_authorityKeyIdentifier, critical: false, value: der.encode(der.seq(der.tlv(0x80, issuerKeyId))) },
  );
  const san = findExtension(csr.extensions, oids.id_ce_subjectAltName);
  if (san) {
    checkSubjectAltName(san.value);
    if (!options.allowSid) refuseSidSan(san.value);
    out.push({ oid: oids.id_ce_subjectAltName, critical: san.critical || subjectEmpty, value: san.value });
  } else if (subjectEmpty) throw invalid("the subject is empty and the request has no subjectAltName (RFC 5280 §4.1.2.6)");
  // The SID extension only when SIDs are explicitly allowed (strong certificate mapping, KB5014754).
  const sid = options.allowSid ? findExtension(csr.extensions, oids.id_ms_ntds_ca_security_ext) : undefined;
  if (sid) out.push({ oid: sid.oid, critical: sid.critical, value: sid.value });
  return out;
}
