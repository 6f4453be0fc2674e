/**
 * PKCS#10 certification requests (RFC 2986): what a SCEP server needs to
 * decide and issue: subject, public key, challengePassword, requested
 * extensions (SANs), and the self-signature.
 */
import * as der from "../lib/der.js";
import { LIMITS } from "../limits.js";
import * as oids from "../oids.js";
import * as nc from "../lib/node-crypto.js";
import type { SignatureAlgorithm } from "../algorithms.js";
import { readSignatureAlgorithm } from "./algorithm-identifier.js";
import { CsrInvalidError, type ScepError, isScepError } from "../errors.js";
import { formatName, nameAttribute } from "./name.js";
import { type Extension, type SubjectAltNames, duplicateExtensionOid, findExtension, parseExtensions, parseSubjectAltNames } from "./extensions.js";
import { fromPem, pemTextOf, toPem } from "../encoding.js";
import { type EnrollmentNameValuePair, type RequestedValidity, readEnrollmentNameValuePairs, requestedValidityOf } from "./enrollment-name-value-pairs.js";

/** The public key of a request, looked up once per CertificationRequest object (internal: not exported by the package). */
// Assigned by CertificationRequest's static block, which can read its private field.
export let requestPublicKey: (request: CertificationRequest) => nc.KeyObject;

const attributeName = (type: string): string =>
  type === oids.id_challengePassword ? "challengePassword" : type === oids.id_extensionRequest ? "extensionRequest" : "Microsoft certificate extensions (1.3.6.1.4.1.311.2.1.14)";

/**
 * The extensions a request asks for: its extensionRequest (RFC 2985 §5.4.2), or Microsoft's older
 * szOID_CERT_EXTENSIONS attribute of the same shape (1.3.6.1.4.1.311.2.1.14, what Windows' older enrollment APIs
 * write) when that is the only one, as OpenSSL's `X509_REQ_get_extensions` reads them: the first kind present
 * decides, and an attribute present with no value asks for nothing. Both present: their values must be the same
 * bytes, or the request is refused (a CA reading the other one would issue what was not checked). Each extension at
 * most once (RFC 5280 §4.2), at most `LIMITS.csrExtensions` of them.
 *
 * ```asn
 * Attribute ::= SEQUENCE { type OBJECT IDENTIFIER, values SET SIZE(1..MAX) OF AttributeValue }
 * extensionRequest ATTRIBUTE ::= { WITH SYNTAX ExtensionRequest SINGLE VALUE TRUE ID pkcs-9-at-extensionRequest }
 * ExtensionRequest ::= Extensions
 * Extensions ::= SEQUENCE SIZE (1..MAX) OF Extension
 * ```
 *
 * @param extensionRequest - The extensionRequest attribute, when present.
 * @param msCertExtensions - Microsoft's attribute, when present.
 * @throws CsrInvalidError `ERR_CSR_INVALID`; Asn1Error `ERR_ASN1` for a malformed Extensions.
 */
function requestedExtensions(extensionRequest: ExtensionAttribute | undefined, msCertExtensions: ExtensionAttribute | undefined): Extension[] {
  if (extensionRequest && msCertExtensions && !der.equalBytes(der.content(extensionRequest.values), der.content(msCertExtensions.values))) {
    throw new CsrInvalidError("a PKCS#10 request whose extensionRequest and Microsoft certificate extensions (1.3.6.1.4.1.311.2.1.14) attributes differ");
  }
  const t = extensionRequest?.value ?? (extensionRequest ? undefined : msCertExtensions?.value);
  if (!t) return [];
  if (der.children(t).length > LIMITS.csrExtensions) throw new CsrInvalidError(`a PKCS#10 request with more than ${LIMITS.csrExtensions} requested extensions`);
  const extensions = parseExtensions(t);
  const twice = duplicateExtensionOid(extensions);
  if (twice) throw new CsrInvalidError(`a PKCS#10 request asking for extension ${twice} twice (RFC 5280 §4.2)`);
  return extensions;
}

/** An extension-request attribute as read: its AttributeValues SET, and the one value in it (none when empty). */
interface ExtensionAttribute {
  readonly values: der.Tlv;
  readonly value: der.Tlv | undefined;
}

/**
 * A PKCS#10 CertificationRequest.
 *
 * ```asn
 * CertificationRequest ::= SEQUENCE {
 *   certificationRequestInfo CertificationRequestInfo,
 *   signatureAlgorithm AlgorithmIdentifier, signature BIT STRING }
 * CertificationRequestInfo ::= SEQUENCE { version INTEGER { v1(0) },
 *   subject Name, subjectPKInfo SubjectPublicKeyInfo, attributes [0] Attributes }
 * ```
 *
 * @example
 * ```ts
 * import { readFileSync } from "node:fs";
 * import { CertificationRequest } from "@scep/core";
 *
 * const csr = CertificationRequest.from(readFileSync("device.csr", "utf8")); // or request.csr from decodePkiMessage
 * console.log(csr.subject, csr.challengePassword, csr.subjectAltNames.dns);
 * ```
 * @group X.509
 */
export class CertificationRequest {
  /** DER of the whole request. */
  readonly der: Uint8Array;
  /** Subject Name, DER. */
  readonly subjectDer: Uint8Array;
  /** SubjectPublicKeyInfo, DER. */
  readonly spki: Uint8Array;
  /** Requested extensions (the extensionRequest attribute, or Microsoft's 1.3.6.1.4.1.311.2.1.14 of the same shape), each OID once. */
  readonly extensions: readonly Extension[];
  /** The request's signature algorithm. */
  readonly signatureAlgorithm: SignatureAlgorithm;
  // Private, read through the getter: an own enumerable field showed in `{ ...csr }`, `Object.assign`, structuredClone
  // and loggers that walk own properties, past the redaction of toJSON and inspect.
  readonly #challengePassword: string | undefined;
  readonly #info: Uint8Array;
  readonly #signature: Uint8Array;
  readonly #nameValuePairs: readonly der.Tlv[];
  #pairs: readonly EnrollmentNameValuePair[] | undefined;
  #publicKey: nc.KeyObject | undefined;
  #subject: string | undefined;
  #thumbprint: string | null | undefined;

  static {
    requestPublicKey = (r: CertificationRequest): nc.KeyObject => (r.#publicKey ??= nc.publicKeyFromSpki(r.spki, false));
  }

  /** Parses DER; throws {@link CsrInvalidError} on anything else. */
  constructor(bytes: Uint8Array) {
    try {
      const [infoT, algT, sigT] = der.expect(der.parse(bytes), der.Tag.SEQUENCE, "CertificationRequest");
      const info = der.expect(infoT!, der.Tag.SEQUENCE, "CertificationRequestInfo");
      const subject = der.expectTag(info[1], der.Tag.SEQUENCE, "subject");
      const spki = der.expectTag(info[2], der.Tag.SEQUENCE, "subjectPKInfo");
      let challengePassword: string | undefined;
      let extensionRequest: ExtensionAttribute | undefined;
      let msCertExtensions: ExtensionAttribute | undefined;
      const nameValuePairs: der.Tlv[] = [];
      if (info[3]) {
        if (info[3].tag !== 0xa0) throw new CsrInvalidError("CSR attributes must be [0]");
        const attributes = der.children(info[3]);
        if (attributes.length > LIMITS.csrAttributes) throw new CsrInvalidError(`a PKCS#10 request with more than ${LIMITS.csrAttributes} attributes`);
        let seen = 0;
        for (const a of attributes) {
          const [typeT, valuesT] = der.expect(a, der.Tag.SEQUENCE, "Attribute");
          const type = der.readOid(typeT);
          const values = der.expect(valuesT!, der.Tag.SET, "AttributeValues");
          const bit = type === oids.id_challengePassword ? 1 : type === oids.id_extensionRequest ? 2 : type === oids.id_ms_cert_extensions ? 4 : 0;
          if (bit === 0) {
            if (type === oids.id_ms_enrollment_name_value_pair) nameValuePairs.push(...values);
            continue;
          }
          // Single-valued, and once each (RFC 2985 §5.4.1, §5.4.2: SINGLE VALUE TRUE): two of them are two answers to
          // one question, and a CA or upstream that reads the other one than we checked would issue what we refused.
          if (seen & bit) throw new CsrInvalidError(`a PKCS#10 request with the ${attributeName(type)} attribute twice`);
          seen |= bit;
          if (values.length > 1) throw new CsrInvalidError(`a PKCS#10 request whose ${attributeName(type)} attribute has ${values.length} values, not one`);
          if (bit === 1) challengePassword = der.readString(values[0], "challengePassword");
          else if (bit === 2) extensionRequest = { values: valuesT!, value: values[0] };
          else msCertExtensions = { values: valuesT!, value: values[0] };
        }
      }
      const extensions = requestedExtensions(extensionRequest, msCertExtensions);
      // Counted here, before the request's signature is checked or a policy reads the names.
      const san = extensions.find((e) => e.oid === oids.id_ce_subjectAltName);
      if (san && der.children(der.parse(san.value)).length > LIMITS.csrSubjectAltNames) throw new CsrInvalidError(`a PKCS#10 request with more than ${LIMITS.csrSubjectAltNames} subjectAltNames`);
      const sig = der.content(der.expectTag(sigT, der.Tag.BIT_STRING, "signature"));
      this.signatureAlgorithm = readSignatureAlgorithm(algT);
      this.der = bytes;
      this.subjectDer = der.raw(subject);
      this.spki = der.raw(spki);
      this.#challengePassword = challengePassword;
      this.extensions = extensions;
      this.#info = der.raw(infoT!);
      this.#signature = sig.subarray(1);
      this.#nameValuePairs = nameValuePairs;
    } catch (cause) {
      if (cause instanceof CsrInvalidError) throw cause;
      if (isScepError(cause) && cause.failInfo === "badAlg") throw cause;
      throw new CsrInvalidError("the envelope does not hold a valid PKCS#10 request", { cause });
    }
  }

  /**
   * From DER, or PEM (`CERTIFICATE REQUEST` or `NEW CERTIFICATE REQUEST`) as a
   * string or as the bytes of a PEM file.
   *
   * @throws CsrInvalidError `ERR_CSR_INVALID` (no such PEM block, or not a valid PKCS#10 request).
   */
  static from(value: Uint8Array | string): CertificationRequest {
    const text = typeof value === "string" ? value : pemTextOf(value);
    if (text === undefined) return new CertificationRequest(value as Uint8Array);
    const d = fromPem(text, "CERTIFICATE REQUEST")[0] ?? fromPem(text, "NEW CERTIFICATE REQUEST")[0];
    if (!d) throw new CsrInvalidError("no CERTIFICATE REQUEST block in the PEM text");
    return new CertificationRequest(d);
  }

  /**
   * The challengePassword attribute (RFC 2985 §5.4.1), when present: the device's secret, in the clear. Not an own
   * property, so copies and logs of the object do not carry it; `der` still holds it (see {@link toJSON}).
   */
  get challengePassword(): string | undefined {
    return this.#challengePassword;
  }

  /**
   * Microsoft's enrollment name-value pairs (MS-WCCE §2.2.2.7.10, attribute 1.3.6.1.4.1.311.13.2.1), in request
   * order: Windows and Intune send their profile's validity period this way. Read when first asked; a value that is
   * not a SEQUENCE OF (name, value) strings adds nothing (the attribute is advisory, never a reason to refuse).
   */
  get enrollmentNameValuePairs(): readonly EnrollmentNameValuePair[] {
    if (this.#pairs === undefined) {
      const out: EnrollmentNameValuePair[] = [];
      for (const v of this.#nameValuePairs) {
        try {
          out.push(...readEnrollmentNameValuePairs(v));
        } catch {
          // unreadable: nothing from this value
        }
      }
      this.#pairs = out;
    }
    return this.#pairs;
  }

  /**
   * The validity the request asks for in its enrollment name-value pairs (`ValidityPeriod` and `ValidityPeriodUnits`:
   * Windows' ClientCertificateInstall CSP `ValidPeriod` / `ValidPeriodUnits`, Intune's "Certificate validity period";
   * the two values swapped, as Intune's Android clients send them, read the same), or undefined. Advisory: an issue
   * hook may grant it, never past `ctx.notAfterMax` (see `addValidity`).
   */
  get requestedValidity(): RequestedValidity | undefined {
    return requestedValidityOf(this.enrollmentNameValuePairs);
  }

  /** Subject as `CN=…, O=…`. */
  get subject(): string {
    return (this.#subject ??= formatName(this.subjectDer));
  }

  /**
   * The subject's commonName, when present; the first of several, as OpenSSL reads it (Go's crypto/x509 reads the
   * last: the server's CSR policy refuses such a subject).
   */
  get commonName(): string | undefined {
    return nameAttribute(this.subjectDer, oids.id_at_commonName);
  }

  /** Requested subject alternative names (empty lists when none). */
  get subjectAltNames(): SubjectAltNames {
    const e = findExtension(this.extensions, oids.id_ce_subjectAltName);
    return e ? parseSubjectAltNames(e.value) : { dns: [], email: [], uri: [], ip: [], upn: [], other: [] };
  }

  /** Public key type ("rsa", "ec", …) and size (RSA modulus bits or EC curve). */
  get publicKeyInfo(): { type: string; bits?: number; curve?: string } {
    const k = requestPublicKey(this);
    const d = k.asymmetricKeyDetails;
    const out: { type: string; bits?: number; curve?: string } = { type: nc.keyType(k) };
    if (d?.modulusLength) out.bits = d.modulusLength;
    if (d?.namedCurve) out.curve = d.namedCurve;
    return out;
  }

  /**
   * The RFC 7638 JWK SHA-256 thumbprint of the request's public key (base64url, 43 characters): one key in any DER
   * spelling has one thumbprint, so a CA can tell a key it knows (a key revoked as compromised, RFC 5280 §5.3.1)
   * without comparing DER. Computed once per object from the key {@link verify} already read (no second parse of the
   * SubjectPublicKeyInfo); undefined for a key without a JWK form (RSA-PSS, EC with explicit parameters).
   *
   * @example
   * ```ts
   * import { readFileSync } from "node:fs";
   * import { CertificationRequest } from "@scep/core";
   *
   * const csr = CertificationRequest.from(readFileSync("device.csr", "utf8"));
   * console.log(csr.publicKeyThumbprint); // "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs" for RFC 7638 §3.1's key
   * ```
   */
  get publicKeyThumbprint(): string | undefined {
    if (this.#thumbprint === undefined) {
      let thumbprint: string | undefined;
      try {
        thumbprint = nc.jwkThumbprint(requestPublicKey(this));
      } catch {
        thumbprint = undefined; // a key OpenSSL cannot read has no JWK form either
      }
      this.#thumbprint = thumbprint ?? null;
    }
    return this.#thumbprint ?? undefined;
  }

  /** Checks the self-signature; false when it does not verify. */
  verify(): boolean {
    try {
      return nc.verify(requestPublicKey(this), this.signatureAlgorithm, this.#info, this.#signature);
    } catch {
      return false;
    }
  }

  /** PEM text. */
  toPem(): string {
    return toPem("CERTIFICATE REQUEST", this.der);
  }

  /**
   * What `JSON.stringify` writes for the request, and what `console.log` / `util.inspect` show: a
   * {@link CertificationRequestSummary}, in which the challengePassword (RFC 2985 §5.4.1) is `"[redacted]"`. A hook
   * that logs its context (`ctx.csr`, `ctx.request`) must not print the device's one-time secret, nor the DER, which
   * holds it in the clear. Never throws: a part that cannot be read is left out.
   *
   * @example
   * ```ts
   * import { readFileSync } from "node:fs";
   * import { CertificationRequest } from "@scep/core";
   *
   * const csr = CertificationRequest.from(readFileSync("device.csr", "utf8"));
   * console.log(JSON.stringify(csr)); // {"subject":"CN=device-1","signatureAlgorithm":{…},…,"challengePassword":"[redacted]"}
   * ```
   */
  toJSON(): CertificationRequestSummary {
    const read = <T>(part: () => T): T | undefined => {
      try {
        return part();
      } catch {
        return undefined;
      }
    };
    const subject = read(() => this.subject);
    const subjectAltNames = read(() => this.subjectAltNames);
    const publicKey = read(() => this.publicKeyInfo);
    return {
      ...(subject !== undefined ? { subject } : {}),
      ...(subjectAltNames !== undefined ? { subjectAltNames } : {}),
      ...(publicKey !== undefined ? { publicKey } : {}),
      signatureAlgorithm: this.signatureAlgorithm,
      extensions: this.extensions.map((e) => e.oid),
      ...(this.challengePassword !== undefined ? { challengePassword: REDACTED } : {}),
    };
  }

  /** Node's `util.inspect` (console.log): the summary of {@link toJSON}, the challengePassword redacted. */
  [Symbol.for("nodejs.util.inspect.custom")](_depth: number, options: object, inspect: (value: unknown, options: object) => string): string {
    return `CertificationRequest ${inspect(this.toJSON(), options)}`;
  }
}

const REDACTED = "[redacted]";

/**
 * What {@link CertificationRequest.toJSON} gives for logs: no secret, no DER.
 *
 * @group X.509
 */
export interface CertificationRequestSummary {
  /** The subject as `CN=…, O=…` (left out when it cannot be read). */
  subject?: string;
  /** The requested subjectAltNames (RFC 5280 §4.2.1.6; left out when they cannot be read). */
  subjectAltNames?: SubjectAltNames;
  /** The public key's type and size: RSA modulus bits or EC curve (left out when the key cannot be read). */
  publicKey?: { type: string; bits?: number; curve?: string };
  /** The request's signature algorithm. */
  signatureAlgorithm: SignatureAlgorithm;
  /** The OIDs (dotted decimal) of the requested extensions, in request order. */
  extensions: string[];
  /** `"[redacted]"` when the request carries a challengePassword; absent when it carries none. */
  challengePassword?: "[redacted]";
}

/**
 * Reads every part of `csr` that is parsed only when first read: its subject and commonName (RFC 2986 §4.1) and
 * requested subjectAltNames (RFC 5280 §4.2.1.6), as {@link unreadableCertificatePart} does for certificates. Not
 * exported from the package.
 *
 * @returns the error the first unreadable part threw (a ScepError, usually Asn1Error `ERR_ASN1`), or undefined when every part reads.
 * @throws what is not a ScepError (a bug, not bad input).
 */
export function unreadableRequestPart(csr: CertificationRequest): ScepError | undefined {
  try {
    void [csr.subject, csr.commonName, csr.subjectAltNames];
    return undefined;
  } catch (e) {
    if (!isScepError(e)) throw e;
    return e;
  }
}
