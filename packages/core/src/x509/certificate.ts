/**
 * A parsed X.509 certificate: the fields SCEP needs, read straight from the
 * DER (issuer and serial for IssuerAndSerialNumber, the public key, key usage
 * for recipient selection, validity for renewal checks).
 */
import * as der from "../lib/der.js";
import * as oids from "../oids.js";
import { toHex } from "../lib/bytes.js";
import { fromPem, pemTextOf, toPem } from "../encoding.js";
import { Asn1Error, InvalidArgumentError, type ScepError, isScepError } from "../errors.js";
import { formatName } from "./name.js";
import { integerText } from "./serial-number.js";
import * as nc from "../lib/node-crypto.js";
import type { SignatureAlgorithm } from "../algorithms.js";
import { readSignatureAlgorithm } from "./algorithm-identifier.js";
import {
  type Extension,
  type KeyUsage,
  type SubjectAltNames,
  duplicateExtensionOid,
  findExtension,
  parseBasicConstraintsCa,
  parseExtensions,
  parseKeyUsage,
  parseSubjectAltNames,
  parseSubjectKeyIdentifier,
} from "./extensions.js";

/**
 * The certificates of `value` when it is PEM (RFC 7468): a string, or bytes that do not start with a DER SEQUENCE
 * (a PEM file read as bytes). Every `CERTIFICATE` block is parsed. `undefined` when `value` is DER bytes, which are
 * not parsed or copied here (wire paths hand DER through).
 *
 * @throws InvalidArgumentError `ERR_INVALID_ARGUMENT` (PEM without a CERTIFICATE block), Asn1Error `ERR_ASN1` (bad DER inside the PEM).
 */
function pemCertificates(value: Uint8Array | string): Certificate[] | undefined {
  const text = typeof value === "string" ? value : pemTextOf(value);
  return text === undefined ? undefined : Certificate.fromPem(text);
}

/**
 * Every certificate in `value`, as {@link Certificate.dersOf} reads it (every block of a PEM bundle), each parsed once
 * (internal: not exported by the package).
 *
 * @throws InvalidArgumentError `ERR_INVALID_ARGUMENT` (PEM without a CERTIFICATE block), Asn1Error `ERR_ASN1` (bad DER).
 */
export function certificatesIn(value: Certificate | Uint8Array | string): Certificate[] {
  if (value instanceof Certificate) return [value];
  return pemCertificates(value) ?? [new Certificate(value as Uint8Array)];
}

/** The public key of a certificate, looked up once per Certificate object (internal: not exported by the package). */
// Assigned by Certificate's static block, which can read its private field.
export let publicKeyOf: (certificate: Certificate) => nc.KeyObject;

/**
 * A certificate received from a peer (DER): a request's or a reply's certificate set, a GetCACert reply. Read as
 * {@link Certificate}'s constructor reads it, and refused when it carries one extension twice (RFC 5280 §4.2), as
 * Go's crypto/x509 refuses it: the constructor takes the first copy, a relying party may take the other. Stored
 * records and configuration are read with the constructor, so what an earlier version accepted stays readable.
 *
 * @throws Asn1Error `ERR_ASN1` (not a certificate, or an extension twice).
 */
export function peerCertificate(derBytes: Uint8Array): Certificate {
  const certificate = new Certificate(derBytes);
  const twice = duplicateExtensionOid(certificate.extensions);
  if (twice) throw new Asn1Error(`Certificate: extension ${twice} appears twice (RFC 5280 §4.2)`);
  return certificate;
}

/**
 * Whether a certificate's TBSCertificate `signature` field differs from its `signatureAlgorithm` (RFC 5280 §4.1.1.2),
 * so that {@link Certificate.isIssuedBy} refuses it whatever its signature (internal: not exported by the package; for
 * messages that say why a chain does not verify).
 */
// Assigned by Certificate's static block, which can read its private field.
export let signatureAlgorithmsDiffer: (certificate: Certificate) => boolean;

/**
 * An X.509 certificate (RFC 5280 §4.1).
 *
 * ```asn
 * Certificate ::= SEQUENCE { tbsCertificate TBSCertificate,
 *   signatureAlgorithm AlgorithmIdentifier, signatureValue BIT STRING }
 * ```
 *
 * @example
 * ```ts
 * import { readFileSync } from "node:fs";
 * import { Certificate } from "@scep/core";
 *
 * const ca = Certificate.from(readFileSync("ca.pem", "utf8")); // the first certificate of the PEM text
 * console.log(ca.subject, ca.serialNumberHex, ca.notAfter);
 * ```
 * @group X.509
 */
export class Certificate {
  /** The certificate's DER encoding. */
  readonly der: Uint8Array;
  /** The raw TBSCertificate. */
  readonly tbs: Uint8Array;
  /** The serial number INTEGER's content octets (two's complement, as encoded). */
  readonly serialNumber: Uint8Array;
  /** The issuer Name, DER. */
  readonly issuerDer: Uint8Array;
  /** The subject Name, DER. */
  readonly subjectDer: Uint8Array;
  /** SubjectPublicKeyInfo, DER. */
  readonly spki: Uint8Array;
  /** Start of validity. */
  readonly notBefore: Date;
  /** End of validity. */
  readonly notAfter: Date;
  /** Signature algorithm OID of the certificate itself. */
  readonly signatureAlgorithmOid: string;
  /** The AlgorithmIdentifier of the certificate signature, DER. */
  readonly signatureAlgorithmDer: Uint8Array;
  /** The signature value. */
  readonly signature: Uint8Array;
  /** Extensions, raw. */
  readonly extensions: readonly Extension[];

  /** Parses DER; throws {@link Asn1Error} on anything that is not a certificate. */
  constructor(derBytes: Uint8Array) {
    const root = der.parse(derBytes);
    const [tbsT, algT, sigT] = der.expect(root, der.Tag.SEQUENCE, "Certificate");
    if (!tbsT || !algT || !sigT) throw new Asn1Error("Certificate: missing fields");
    const f = der.expect(tbsT, der.Tag.SEQUENCE, "TBSCertificate");
    let i = 0;
    if (f[0]?.tag === 0xa0) i++; // version
    const serial = der.expectTag(f[i++], der.Tag.INTEGER, "serialNumber");
    // signature: an AlgorithmIdentifier (RFC 5280 §4.1.2.3), read so that a certificate whose TBS signature field is
    // no AlgorithmIdentifier (OpenSSL and @peculiar/x509 refuse it) is refused here too, not passed on.
    const tbsSignature = der.expectTag(f[i++], der.Tag.SEQUENCE, "TBSCertificate signature");
    der.readOid(der.children(tbsSignature)[0], "TBSCertificate signature algorithm");
    const issuer = der.expectTag(f[i++], der.Tag.SEQUENCE, "issuer");
    const validity = der.expect(f[i++]!, der.Tag.SEQUENCE, "validity");
    const subject = der.expectTag(f[i++], der.Tag.SEQUENCE, "subject");
    const spki = der.expectTag(f[i++], der.Tag.SEQUENCE, "subjectPublicKeyInfo");
    let exts: Extension[] = [];
    for (; i < f.length; i++) if (f[i]!.tag === 0xa3) exts = parseExtensions(der.explicit(f[i]!, 3, "extensions"));
    this.der = derBytes;
    this.tbs = der.raw(tbsT);
    this.serialNumber = der.content(serial);
    this.issuerDer = der.raw(issuer);
    this.subjectDer = der.raw(subject);
    this.spki = der.raw(spki);
    this.notBefore = der.readTime(validity[0], "notBefore");
    this.notAfter = der.readTime(validity[1], "notAfter");
    this.signatureAlgorithmDer = der.raw(algT);
    // The two fields' agreement is noted here (one byte comparison) and refused only where a signature is checked
    // (isIssuedBy): a certificate whose signature is never checked (a requester's throwaway self-signed one) is read
    // whatever its fields say.
    this.#algorithmsAgree = der.equalBytes(der.raw(tbsSignature), this.signatureAlgorithmDer);
    this.signatureAlgorithmOid = der.readOid(der.children(algT)[0], "signatureAlgorithm");
    const sig = der.content(der.expectTag(sigT, der.Tag.BIT_STRING, "signatureValue"));
    this.signature = sig.subarray(1);
    this.extensions = exts;
  }

  /**
   * Parses every `CERTIFICATE` block of a PEM text (RFC 7468 §5.1; text outside the blocks is ignored, §2).
   *
   * @throws InvalidArgumentError `ERR_INVALID_ARGUMENT` (no CERTIFICATE block), Asn1Error `ERR_ASN1` (bad DER inside a block).
   */
  static fromPem(pem: string): Certificate[] {
    const ders = fromPem(pem, "CERTIFICATE");
    if (ders.length === 0) throw new InvalidArgumentError("no CERTIFICATE block in the PEM text");
    return ders.map((d) => new Certificate(d));
  }

  /**
   * Accepts a Certificate, DER bytes, or PEM holding one certificate (its first
   * `CERTIFICATE` block), as a string or as the bytes of a PEM file. PEM is RFC 7468's
   * textual encoding (§5.1 for certificates; explanatory text around the blocks, such as
   * openssl's "Bag Attributes", is skipped as §2 allows); bytes are PEM when they do not
   * start with a DER SEQUENCE (0x30).
   *
   * @throws InvalidArgumentError `ERR_INVALID_ARGUMENT` (PEM without a CERTIFICATE block), Asn1Error `ERR_ASN1` (bad DER).
   */
  static from(value: Certificate | Uint8Array | string): Certificate {
    if (value instanceof Certificate) return value;
    return pemCertificates(value)?.[0] ?? new Certificate(value as Uint8Array);
  }

  /**
   * DER of a certificate given in any accepted form: a Certificate's `der`, DER bytes as they are (not
   * parsed: wire paths hand DER through), PEM (RFC 7468 §5.1: a string, or the bytes of a PEM file,
   * text around the blocks skipped as §2 allows) decoded to its first `CERTIFICATE` block. For a place
   * that takes one certificate; lists use {@link Certificate.dersOf}. Between them, every certificate a
   * user hands the codec or the server as `Certificate | Uint8Array` is read this way, so PEM file bytes
   * never reach the wire as if DER.
   *
   * @throws InvalidArgumentError `ERR_INVALID_ARGUMENT` (PEM without a CERTIFICATE block), Asn1Error `ERR_ASN1` (bad DER inside the PEM).
   *
   * @example
   * ```ts
   * import { readFileSync } from "node:fs";
   * import { Certificate } from "@scep/core";
   *
   * const der = Certificate.derOf(readFileSync("device.pem")); // PEM file bytes in, DER out
   * ```
   */
  static derOf(value: Certificate | Uint8Array | string): Uint8Array {
    if (value instanceof Certificate) return value.der; // no list for the common case (a hot path)
    return Certificate.dersOf(value)[0]!;
  }

  /**
   * DER of every certificate in `value`: a Certificate's `der`, DER bytes as they are, or every `CERTIFICATE` block
   * of a PEM text or PEM file bytes (RFC 7468 §5.1, text around the blocks skipped as §2 allows; a bundle such as
   * an issuing CA and its root in one file). For lists of certificates (chains), where a bundle stands for several.
   *
   * @throws InvalidArgumentError `ERR_INVALID_ARGUMENT` (PEM without a CERTIFICATE block), Asn1Error `ERR_ASN1` (bad DER inside the PEM).
   *
   * @example
   * ```ts
   * import { readFileSync } from "node:fs";
   * import { Certificate } from "@scep/core";
   *
   * const chain = Certificate.dersOf(readFileSync("chain.pem")); // [issuing CA, root] as DER
   * ```
   */
  static dersOf(value: Certificate | Uint8Array | string): Uint8Array[] {
    if (value instanceof Certificate) return [value.der];
    return pemCertificates(value)?.map((c) => c.der) ?? [value as Uint8Array];
  }

  /** Subject as `CN=…, O=…`. */
  get subject(): string {
    return (this.#subject ??= formatName(this.subjectDer));
  }

  /** Issuer as `CN=…, O=…`. */
  get issuer(): string {
    return (this.#issuer ??= formatName(this.issuerDer));
  }

  /**
   * Serial number as lower-case hex without leading zero octets (`8001` for 0x8001), as `openssl x509 -serial`
   * prints it; a negative serial (DER content with its top bit set, which RFC 5280 §4.1.2.2 forbids and old CAs
   * issued) as `-` and its magnitude (`-7fff` for content `80 01`), so two serials never print alike.
   * `normalizeSerialNumber` of this text is the serial's store key.
   */
  get serialNumberHex(): string {
    const s = this.serialNumber;
    if (s.length > 0 && s[0]! >= 0x80) return integerText(s);
    let i = 0;
    while (i < s.length - 1 && s[i] === 0) i++;
    return toHex(s.subarray(i));
  }

  /** The keyUsage extension, when present. */
  get keyUsage(): Set<KeyUsage> | undefined {
    const e = findExtension(this.extensions, oids.id_ce_keyUsage);
    return e ? parseKeyUsage(e.value) : undefined;
  }

  /** Whether basicConstraints says CA. */
  get isCa(): boolean {
    const e = findExtension(this.extensions, oids.id_ce_basicConstraints);
    return e ? parseBasicConstraintsCa(e.value) : false;
  }

  /** The subjectKeyIdentifier, when present. */
  get subjectKeyIdentifier(): Uint8Array | undefined {
    const e = findExtension(this.extensions, oids.id_ce_subjectKeyIdentifier);
    return e ? parseSubjectKeyIdentifier(e.value) : undefined;
  }

  /** Subject alternative names (empty lists when absent). */
  get subjectAltNames(): SubjectAltNames {
    const e = findExtension(this.extensions, oids.id_ce_subjectAltName);
    return e ? parseSubjectAltNames(e.value) : { dns: [], email: [], uri: [], ip: [], upn: [], other: [] };
  }

  /** The certificate's signature algorithm (throws badAlg for one the SDK does not implement). */
  get signatureAlgorithm(): SignatureAlgorithm {
    return readSignatureAlgorithm(der.parse(this.signatureAlgorithmDer));
  }

  /**
   * Whether `issuer` signed this certificate: the issuer name matches its
   * subject, the TBSCertificate's `signature` field is the same
   * AlgorithmIdentifier as the outer `signatureAlgorithm`, octet for octet
   * (RFC 5280 §4.1.1.2: "MUST contain the same algorithm identifier"; the outer
   * field is not signed, so a copy that differs was altered or mis-made, and
   * OpenSSL's and Go's verifiers refuse it), and the signature verifies with
   * its key under that algorithm. Validity is not checked.
   *
   * Every signature check of a certificate in this SDK goes through here: a
   * renewal's signer against the profile's CA (refused `renewal_not_chained`),
   * a profile's `caChain`, a GetCACert set against a client's pin
   * (`ERR_CA_PIN_MISMATCH`), a CertRep signer against `trustedSigners`
   * (`ERR_CERTREP`), the order of a certificate bundle.
   *
   * @returns false for any of these not holding (never throws).
   */
  isIssuedBy(issuer: Certificate): boolean {
    if (!der.equalBytes(this.issuerDer, issuer.subjectDer)) return false;
    if (!this.#algorithmsAgree) return false;
    try {
      return nc.verify(publicKeyOf(issuer), this.signatureAlgorithm, this.tbs, this.signature);
    } catch {
      return false;
    }
  }

  /** True when subject and issuer are the same name. */
  get isSelfIssued(): boolean {
    return der.equalBytes(this.subjectDer, this.issuerDer);
  }

  /** PEM text. */
  toPem(): string {
    return toPem("CERTIFICATE", this.der);
  }

  /** IssuerAndSerialNumber DER (RFC 5652 §10.2.4). */
  issuerAndSerialNumber(): Uint8Array {
    this.#issuerAndSerial ??= der.encode(der.seq(this.issuerDer, der.tlv(der.Tag.INTEGER, this.serialNumber)));
    return this.#issuerAndSerial;
  }

  /** Whether the TBSCertificate's signature field and signatureAlgorithm are the same octets (RFC 5280 §4.1.1.2). */
  readonly #algorithmsAgree: boolean;
  #issuerAndSerial: Uint8Array | undefined;
  #publicKey: nc.KeyObject | undefined;
  #subject: string | undefined;
  #issuer: string | undefined;

  static {
    publicKeyOf = (c: Certificate): nc.KeyObject => (c.#publicKey ??= nc.publicKeyFromSpki(c.spki, false));
    signatureAlgorithmsDiffer = (c: Certificate): boolean => !c.#algorithmsAgree;
  }
}

/**
 * Reads every part of `certificate` that is parsed only when first read: subject and issuer (RFC 5280 §4.1.2.4,
 * §4.1.2.6), subjectAltName, keyUsage, basicConstraints and subjectKeyIdentifier (§4.2). A reader of certificates
 * from a peer (the server's decode phase, the client's CertRep and GetCACert readers) calls it where it decodes, so
 * a malformed part is refused there with its own typed error instead of throwing `ERR_ASN1` later, from a getter
 * read by a policy, a hook, an event line or the user's code. Not exported from the package.
 *
 * @returns the error the first unreadable part threw (a ScepError, usually Asn1Error `ERR_ASN1`), or undefined when every part reads.
 * @throws what is not a ScepError (a bug, not bad input).
 */
export function unreadableCertificatePart(certificate: Certificate): ScepError | undefined {
  const c = certificate;
  try {
    void [c.subject, c.issuer, c.subjectAltNames, c.keyUsage, c.isCa, c.subjectKeyIdentifier];
    return undefined;
  } catch (e) {
    if (!isScepError(e)) throw e;
    return e;
  }
}
