// Builds and signs an end-entity certificate from a PKCS#10 request with
// @scep/core's buildCertificate (the TBSCertificate written once with its DER
// writer, signed by a LocalKey): no file system, no clock (times are inputs).
import {
  CertificationRequest,
  buildCertificate,
  endEntityExtensions,
  isScepError,
  nameProblem,
  type Certificate,
  type Extension,
  type SignatureAlgorithm,
  type Signer,
} from "@scep/core";
import { EmbeddedCaError } from "./errors.js";

/**
 * An extra extension for {@link IssueOptions.extensions}: its OID, criticality
 * and the DER of its `extnValue` contents (what goes inside the OCTET STRING).
 * An extra extension replaces a default one with the same OID.
 *
 * @example
 * ```ts
 * import type { CertificateExtension } from "@scep-examples/embedded-ca";
 *
 * // extendedKeyUsage = serverAuth, clientAuth (replaces the default clientAuth-only EKU)
 * const eku: CertificateExtension = {
 *   oid: "2.5.29.37",
 *   value: Uint8Array.from(Buffer.from("301406082b0601050507030106082b06010505070302", "hex")),
 * };
 * ```
 */
export interface CertificateExtension {
  /** Dotted OID, e.g. `"2.5.29.37"`. */
  oid: string;
  /** Default `false`. */
  critical?: boolean;
  /** DER of the extension value (the contents of `extnValue`). */
  value: Uint8Array;
}

/** What the signer needs to know about the CA. */
export interface IssuingCa {
  /** The CA certificate and key (issuer name, authorityKeyIdentifier, signature). */
  readonly signer: Signer;
  readonly signatureAlgorithm: SignatureAlgorithm;
}

/** Fully resolved inputs of one issuance (the serial number comes later: see {@link prepareCertificate}). */
export interface IssueRequest {
  /** Decoded and signature-checked (by {@link parseCsr}, or by the caller that decoded it). */
  csr: CertificationRequest;
  notBefore: Date;
  notAfter: Date;
  /** Subject Name DER to use instead of the CSR's. */
  subjectOverride?: Uint8Array;
  extensions?: readonly CertificateExtension[];
  /** Certify a Windows SID the request carries (its SID extension, a SID in its subjectAltName); default false. */
  allowSid?: boolean;
}

const ID_SUBJECT_ALT_NAME = "2.5.29.17";

function csrInvalid(message: string, cause?: unknown): EmbeddedCaError {
  return new EmbeddedCaError("CSR_INVALID", message, { cause });
}

/** Decodes a PKCS#10 request and checks its self-signature. */
export function parseCsr(csrDer: Uint8Array): CertificationRequest {
  if (!(csrDer instanceof Uint8Array) || csrDer.byteLength === 0) {
    throw csrInvalid("csrDer must be a non-empty Uint8Array with a DER PKCS#10 request");
  }
  let csr: CertificationRequest;
  try {
    csr = new CertificationRequest(csrDer);
  } catch (error) {
    throw csrInvalid("the PKCS#10 request cannot be decoded", error);
  }
  if (!csr.verify()) throw csrInvalid("the PKCS#10 request's signature does not verify");
  return csr;
}

/** Checks that `csr` looks like @scep/core's CertificationRequest (any copy of the package). */
export function checkDecodedCsr(csr: unknown): CertificationRequest {
  const c = csr as Partial<CertificationRequest> | null;
  if (
    typeof c !== "object" ||
    c === null ||
    !(c.subjectDer instanceof Uint8Array) ||
    !(c.spki instanceof Uint8Array) ||
    !Array.isArray(c.extensions)
  ) {
    throw csrInvalid("csr must be a CertificationRequest from @scep/core");
  }
  return c as CertificationRequest;
}

/** An issuance whose request passed every check: only signing (which needs the serial number) is left. */
export interface PreparedCertificate {
  /** Signs it with `serialNumber` (lower-case hex). */
  sign(serialNumber: string): Promise<Certificate>;
}

/**
 * Checks `request` and builds the certificate's extensions: everything that can refuse the request (no subject nor
 * subjectAltName, a Windows SID without allowSid, an unreadable key) happens here, so a caller allocates the serial
 * number only for a request that will be signed.
 *
 * @throws EmbeddedCaError `CSR_INVALID` for a request that cannot be certified
 */
export function prepareCertificate(ca: IssuingCa, request: IssueRequest): PreparedCertificate {
  const { csr } = request;
  const subject = request.subjectOverride ?? csr.subjectDer;
  // RFC 5280 Appendix A's bounds and string types (a CN of at most 64 characters, C exactly 2, …), refused here,
  // before a serial number is spent. A PrintableString holding '@', '_' or '*' is not refused: buildCertificate
  // writes it as a UTF8String (certificateName), which Go-based clients (micromdm) can parse.
  const subjectProblem = nameProblem(subject);
  if (subjectProblem) {
    if (request.subjectOverride) throw new EmbeddedCaError("INVALID_OPTIONS", `subjectOverride is not a Name a certificate can carry: ${subjectProblem}`);
    throw csrInvalid(`the PKCS#10 request's subject is not one a certificate can carry: ${subjectProblem}`);
  }
  const subjectIsEmpty = subject.length === 2 && subject[1] === 0; // SEQUENCE {}
  if (subjectIsEmpty && !csr.extensions.some((e) => e.oid === ID_SUBJECT_ALT_NAME)) {
    throw csrInvalid("the PKCS#10 request has neither a subject nor a subjectAltName");
  }

  // basicConstraints CA:false, keyUsage, EKU clientAuth, SKI, AKI, and the CSR's
  // subjectAltName (made critical when the subject is empty, RFC 5280 4.2.1.6);
  // a requested Windows SID only with allowSid (never by default: SID spoofing).
  let extensions: Extension[];
  try {
    extensions = endEntityExtensions({ csr, issuer: ca.signer, subject, allowSid: request.allowSid ?? false });
  } catch (error) {
    // endEntityExtensions names what it refused (a SID, a malformed key or subjectAltName).
    const why = isScepError(error) ? error.message : "its public key cannot be read";
    throw csrInvalid(`cannot issue for the PKCS#10 request: ${why}`, error);
  }
  for (const extra of request.extensions ?? []) {
    const extension: Extension = { oid: extra.oid, critical: extra.critical ?? false, value: extra.value };
    const index = extensions.findIndex((existing) => existing.oid === extra.oid);
    if (index >= 0) extensions[index] = extension;
    else extensions.push(extension);
  }

  return {
    async sign(serialNumber) {
      try {
        return await buildCertificate({
          issuer: ca.signer,
          subject,
          publicKey: csr.spki,
          serialNumber: Buffer.from(serialNumber, "hex"),
          notBefore: request.notBefore,
          notAfter: request.notAfter,
          extensions,
          signatureAlgorithm: ca.signatureAlgorithm,
        });
      } catch (error) {
        if (isScepError(error) && error.code === "ERR_INVALID_ARGUMENT") {
          throw new EmbeddedCaError("INVALID_OPTIONS", `cannot issue: ${error.message}`, { cause: error });
        }
        throw error;
      }
    },
  };
}
