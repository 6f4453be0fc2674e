/**
 * GetCACert and GetNextCACert (RFC 8894 §4.2, §4.7): build and parse the
 * replies (the roles of the certificates are in `certificate-roles.ts`).
 *
 * @module
 */
import { clip } from "../lib/clip.js";
import { LIMITS } from "../limits.js";
import { uniqueCertificates, uniqueDers } from "../lib/unique-ders.js";
import * as der from "../lib/der.js";
import * as oids from "../oids.js";
import { fromPem, pemTextOf } from "../encoding.js";
import { buildSignedData, findSigner, parseSignedData, verifySignerInfo } from "../cms/signed-data.js";
import type { Signer } from "../keys/key.js";
import { Certificate, peerCertificate, unreadableCertificatePart } from "../x509/certificate.js";
import { signedShaped } from "../x509/signed-shape.js";
import { CertRepError, InvalidArgumentError, MessageMalformedError, errorMessage } from "../errors.js";

/** `application/x-x509-ca-cert`: one DER certificate. @group Codec */
export const CA_CERT_CONTENT_TYPE = "application/x-x509-ca-cert";
/** `application/x-x509-ca-ra-cert`: a degenerate PKCS#7 holding the RA and CA certificates. @group Codec */
export const CA_RA_CERT_CONTENT_TYPE = "application/x-x509-ca-ra-cert";
/** `application/x-x509-next-ca-cert`: a signed PKCS#7 holding the next CA certificates. @group Codec */
export const NEXT_CA_CERT_CONTENT_TYPE = "application/x-x509-next-ca-cert";
/** `application/x-pki-message`: PKIOperation requests and replies. @group Codec */
export const PKI_MESSAGE_CONTENT_TYPE = "application/x-pki-message";

/** An HTTP reply body and its content type. @group Codec */
export interface EncodedReply {
  /** Body bytes. */
  body: Uint8Array;
  /** Content-Type header value. */
  contentType: string;
}

/**
 * Builds the GetCACert reply: a single CA certificate as DER
 * (`application/x-x509-ca-cert`), or, with RA certificates or a chain, a
 * degenerate certs-only PKCS#7 (`application/x-x509-ca-ra-cert`). Each
 * certificate is a {@link Certificate}, DER, or PEM file bytes (RFC 7468); an
 * entry that is a PEM bundle gives every certificate it holds (RFC 8894 §4.2.1).
 * A certificate given twice is sent once, first place kept (iOS refuses a set
 * with a repeat), so the same CA twice is the one DER certificate.
 *
 * @throws InvalidArgumentError `ERR_INVALID_ARGUMENT` (no certificate; PEM without a CERTIFICATE block).
 *
 * @example
 * ```ts
 * import { readFileSync } from "node:fs";
 * import { Certificate, buildGetCaCertResponse } from "@scep/core";
 *
 * const raCert = Certificate.from(readFileSync("ra.pem", "utf8"));
 * const caCert = Certificate.from(readFileSync("ca.pem", "utf8"));
 * const { body, contentType } = await buildGetCaCertResponse([raCert, caCert]);
 * ```
 * @group Codec
 */
export async function buildGetCaCertResponse(certificates: readonly (Certificate | Uint8Array)[]): Promise<EncodedReply> {
  if (certificates.length === 0) throw new InvalidArgumentError("GetCACert needs at least one certificate");
  const ders = uniqueDers(certificates.flatMap(Certificate.dersOf));
  if (ders.length === 1) return { body: ders[0]!, contentType: CA_CERT_CONTENT_TYPE };
  return { body: await buildSignedData({ certificates: ders }), contentType: CA_RA_CERT_CONTENT_TYPE };
}

/**
 * Parses a GetCACert reply (RFC 8894 §4.2.1): DER certificate, degenerate PKCS#7, or PEM (some
 * servers send it). The content type is a hint only. A certificate the server sent twice is returned once (first
 * place kept): the reply is a set. Every certificate's names and extensions are read here, so
 * the certificates returned never throw from a getter later.
 *
 * @throws MessageMalformedError `ERR_MESSAGE_MALFORMED` (neither a certificate nor a PKCS#7, an empty PKCS#7, more than
 * `LIMITS.signedDataCertificates` (32) certificates, in a PKCS#7 or a PEM bundle, or a certificate whose subject, issuer, subjectAltName, keyUsage, basicConstraints or subjectKeyIdentifier does not
 * parse), Asn1Error `ERR_ASN1` (bad DER inside a PEM block).
 * @group Codec
 */
export function parseGetCaCertResponse(body: Uint8Array, contentType?: string): Certificate[] {
  const certificates = uniqueCertificates(parseCertificates(body, contentType));
  certificates.forEach((c, i) => {
    const e = unreadableCertificatePart(c);
    if (e) throw new MessageMalformedError(`GetCACert certificate ${i + 1} has names or extensions that do not parse: ${e.message}`, { cause: e });
  });
  return certificates;
}

/**
 * Whether `bytes` is a ContentInfo holding a SignedData that holds no certificate: what {@link parseGetCaCertResponse}
 * refuses as "GetCACert PKCS#7 holds no certificate", told apart from every other reason it throws. Read with
 * {@link parseSignedData} (BER accepted: indefinite lengths, constructed strings); true only when it reads the whole
 * SignedData, no certificate in it fails to parse, and none is left (the `certificates` field absent, an empty SET, or
 * no certificate-shaped element). False for anything else: a certificate, a SignedData with one, a PEM text, bytes it
 * cannot read. For @scep/proxy, which passes every GetCACert answer on unchanged but this one (RFC 8894 §4.2.1.2: it
 * gives the device nothing to encrypt to or verify with). Internal: exported through `@scep/core/internal` only.
 *
 * @example
 * ```ts
 * import { signedDataHoldsNoCertificate } from "@scep/core/internal";
 *
 * declare const body: Uint8Array; // an upstream's GetCACert answer
 * if (signedDataHoldsNoCertificate(body)) throw new Error("GetCACert answer holds no certificate");
 * ```
 * @internal
 */
export function signedDataHoldsNoCertificate(bytes: Uint8Array): boolean {
  let unreadable = false;
  try {
    return parseSignedData(bytes, () => void (unreadable = true)).certificates.length === 0 && !unreadable;
  } catch {
    return false;
  }
}

function parseCertificates(body: Uint8Array, contentType: string | undefined): Certificate[] {
  const text = pemTextOf(body);
  if (text?.includes("-----BEGIN CERTIFICATE-----")) {
    // As Certificate.fromPem reads it (ERR_INVALID_ARGUMENT without a whole block, ERR_ASN1 for bad DER inside one).
    const ders = fromPem(text, "CERTIFICATE");
    if (ders.length === 0) throw new InvalidArgumentError("no CERTIFICATE block in the PEM text");
    // The bound a PKCS#7 reply has (cms/signed-data.ts), on the whole blocks (reading them is linear) before any is
    // parsed: a PEM bundle of thousands of certificates cost the client minutes of CPU (choosing the recipient and the
    // CA pairs every two of them).
    if (ders.length > LIMITS.signedDataCertificates) throw new MessageMalformedError(`GetCACert PEM reply with more than ${LIMITS.signedDataCertificates} certificates (${ders.length})`);
    return ders.map(peerCertificate);
  }
  let certificateError: unknown;
  try {
    return [peerCertificate(body)];
  } catch (e) {
    certificateError = e;
  }
  // Neither a certificate nor a SignedData: say what came instead (an HTML page, a JSON error), a URL that is not a
  // SCEP endpoint. A SignedData without certificates, and a certificate (alone or in the SignedData) that does not
  // parse, are said so apart.
  let certificates: Certificate[];
  let unreadable: unknown;
  try {
    certificates = parseSignedData(body, (e) => (unreadable ??= e)).certificates;
  } catch (cause) {
    if (signedShaped(body)) throw new MessageMalformedError(`GetCACert certificate does not parse: ${errorMessage(certificateError)}`, { cause: certificateError });
    const what = `${contentType ? `content-type ${clip(contentType.replace(/[^\x20-\x7e]/g, "?"), 100)}, ` : ""}${body.length} bytes`;
    throw new MessageMalformedError(`GetCACert reply (${what}) is neither a certificate nor a PKCS#7: is the URL a SCEP endpoint?`, { cause });
  }
  if (unreadable !== undefined) throw new MessageMalformedError(`a GetCACert PKCS#7 certificate does not parse: ${errorMessage(unreadable)}`, { cause: unreadable });
  if (certificates.length === 0) throw new MessageMalformedError("GetCACert PKCS#7 holds no certificate");
  return certificates;
}


/**
 * Builds a GetNextCACert reply (RFC 8894 §4.7): the next CA (and RA) certificates in a SignedData signed by the
 * current CA. Certificates as for {@link buildGetCaCertResponse} (a PEM bundle entry gives all it holds; a repeat is
 * sent once).
 * @group Codec
 */
export async function buildGetNextCaCertResponse(options: { certificates: readonly (Certificate | Uint8Array)[]; signer: Signer; now?: Date }): Promise<EncodedReply> {
  const ders = uniqueDers(options.certificates.flatMap(Certificate.dersOf));
  if (ders.length === 0) throw new InvalidArgumentError("GetNextCACert needs at least one certificate");
  const inner = await buildSignedData({ certificates: ders });
  const signingTime = der.seq(der.oid(oids.id_signingTime), der.tlv(der.Tag.SET, der.time(options.now ?? new Date())));
  const body = await buildSignedData({ content: inner, certificates: [options.signer.certificate.der], signer: options.signer, attributes: [signingTime] });
  return { body, contentType: NEXT_CA_CERT_CONTENT_TYPE };
}

/**
 * Parses and verifies a GetNextCACert reply (RFC 8894 §4.7) against the current CA certificates. Every next
 * certificate's names and extensions are read here, so the certificates returned never throw from a getter later.
 *
 * @throws CertRepError `ERR_CERTREP` (not signed content, not signed by the current CA, or a certificate whose
 * subject, issuer, subjectAltName, keyUsage, basicConstraints or subjectKeyIdentifier does not parse), or another
 * ScepError (`ERR_ASN1` for bad DER, `ERR_SIGNATURE_INVALID`, …).
 * @group Codec
 */
export function parseGetNextCaCertResponse(body: Uint8Array, currentCa: readonly Certificate[]): Certificate[] {
  const sd = parseSignedData(body);
  const si = sd.signerInfos[0];
  if (!si || !sd.content) throw new CertRepError("GetNextCACert reply is not signed content");
  const signer = findSigner(si.sid, currentCa);
  if (!signer) throw new CertRepError("GetNextCACert reply is not signed by the current CA");
  verifySignerInfo(si, signer, sd.content);
  const certificates = parseSignedData(sd.content).certificates;
  certificates.forEach((c, i) => {
    const e = unreadableCertificatePart(c);
    if (e) throw new CertRepError(`GetNextCACert certificate ${i + 1} has names or extensions that do not parse: ${e.message}`, { cause: e });
  });
  return certificates;
}
