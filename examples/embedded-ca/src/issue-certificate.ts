// Builds and signs an end-entity certificate from a PKCS#10 request.
// Pure WebCrypto + @peculiar/x509: no file system, no clock (times are inputs).
import { EmbeddedCaError } from "./errors.js";
import { nodeCrypto, x509 } from "./lib/x509.js";

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
  readonly certificate: x509.X509Certificate;
  readonly signingKey: CryptoKey;
  readonly signingAlgorithm: Algorithm & { hash: string };
  readonly keyIdentifier: string;
}

/** Fully resolved inputs of one issuance. */
export interface IssueRequest {
  /** Decoded and signature-checked by {@link parseCsr}. */
  csr: x509.Pkcs10CertificateRequest;
  serialNumber: string;
  notBefore: Date;
  notAfter: Date;
  subjectOverride?: x509.Name;
  extensions?: readonly CertificateExtension[];
}

const ID_SUBJECT_ALT_NAME = "2.5.29.17";

function csrInvalid(message: string, cause?: unknown): EmbeddedCaError {
  return new EmbeddedCaError("CSR_INVALID", message, { cause });
}

/** Decodes a PKCS#10 request and checks its self-signature. */
export async function parseCsr(csrDer: Uint8Array): Promise<x509.Pkcs10CertificateRequest> {
  if (!(csrDer instanceof Uint8Array) || csrDer.byteLength === 0) {
    throw csrInvalid("csrDer must be a non-empty Uint8Array with a DER PKCS#10 request");
  }
  let csr: x509.Pkcs10CertificateRequest;
  try {
    csr = new x509.Pkcs10CertificateRequest(new Uint8Array(csrDer));
    void csr.extensions; // decode lazily parsed parts now, inside the try
    void csr.publicKey.algorithm;
  } catch (error) {
    throw csrInvalid("the PKCS#10 request cannot be decoded", error);
  }
  let valid: boolean;
  try {
    valid = await csr.verify(nodeCrypto);
  } catch (error) {
    throw csrInvalid("the PKCS#10 request's signature cannot be checked", error);
  }
  if (!valid) throw csrInvalid("the PKCS#10 request's signature does not verify");
  return csr;
}

/** Signs the end-entity certificate described by `request`. */
export async function issueCertificate(
  ca: IssuingCa,
  request: IssueRequest,
): Promise<x509.X509Certificate> {
  const { csr } = request;
  const subject = request.subjectOverride ?? csr.subjectName;
  const subjectIsEmpty = subject.toJSON().length === 0;

  let san = csr.extensions.find((extension) => extension.type === ID_SUBJECT_ALT_NAME);
  if (subjectIsEmpty && !san) {
    throw csrInvalid("the PKCS#10 request has neither a subject nor a subjectAltName");
  }
  if (san && subjectIsEmpty && !san.critical) {
    // RFC 5280 4.2.1.6: with an empty subject, subjectAltName MUST be critical.
    san = new x509.Extension(ID_SUBJECT_ALT_NAME, true, san.value);
  }

  const isRsa = csr.publicKey.algorithm.name.startsWith("RSA");
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(
      isRsa
        ? x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment
        : x509.KeyUsageFlags.digitalSignature,
      true,
    ),
    new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth], false),
    await x509.SubjectKeyIdentifierExtension.create(csr.publicKey, false, nodeCrypto),
    new x509.AuthorityKeyIdentifierExtension(ca.keyIdentifier, false),
  ];
  if (san) extensions.push(new x509.Extension(san.rawData));

  for (const extra of request.extensions ?? []) {
    let extension: x509.Extension;
    try {
      extension = new x509.Extension(extra.oid, extra.critical ?? false, new Uint8Array(extra.value));
    } catch (error) {
      throw new EmbeddedCaError("INVALID_OPTIONS", `extension ${extra.oid} cannot be encoded`, {
        cause: error,
      });
    }
    const index = extensions.findIndex((existing) => existing.type === extra.oid);
    if (index >= 0) extensions[index] = extension;
    else extensions.push(extension);
  }

  return x509.X509CertificateGenerator.create(
    {
      serialNumber: request.serialNumber,
      subject,
      issuer: ca.certificate.subjectName,
      notBefore: request.notBefore,
      notAfter: request.notAfter,
      publicKey: csr.publicKey,
      signingKey: ca.signingKey,
      signingAlgorithm: ca.signingAlgorithm,
      extensions,
    },
    nodeCrypto,
  );
}
