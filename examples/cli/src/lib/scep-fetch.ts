/**
 * The `fetch` every command's ScepClient uses. A 2xx reply to GetCACaps or GetCACert that no SCEP server sends (an
 * HTML page, JSON, a health check's "ok": a `--url` that is not a SCEP endpoint, such as `/healthz` or `/admin/scep`)
 * ends the command with one line naming the HTTP status and content type received and what to check, exit 4, instead
 * of a parse error (exit 1). RFC 8894 §4.1: GetCACaps answers text/plain; §4.2.1: GetCACert answers one DER
 * certificate (application/x-x509-ca-cert) or a degenerate PKCS#7 (application/x-x509-ca-ra-cert), both DER
 * SEQUENCEs (0x30); a PEM bundle, which some CAs send, is accepted too. A DER SEQUENCE served as another type (a CRL,
 * application/pkix-crl, at `/scep/ca.crl`) counts as certificates only when it parses as them.
 *
 * @module
 */
import { parseGetCaCertResponse } from "@scep/core";
import { CHECK_PATH, CliError, ExitCode } from "./exit.js";
import { printable } from "./printable.js";

const WANTED: Readonly<Record<string, string>> = {
  GetCACaps: "a capability list (text/plain)",
  GetCACert: "CA certificates (application/x-x509-ca-cert or application/x-x509-ca-ra-cert)",
};

/** The `operation` query parameter of a request to a SCEP endpoint (`GetCACaps`, `PKIOperation`, …), or undefined. */
export function operationOf(input: Parameters<typeof fetch>[0]): string | undefined {
  const href = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
  try {
    return new URL(href).searchParams.get("operation") ?? undefined;
  } catch {
    return undefined;
  }
}

/** The content types RFC 8894 §4.2.1 gives a GetCACert reply, and the PKCS#7 ones some CAs send instead. */
const CA_CERT_TYPE = /^application\/(x-x509-ca-cert|x-x509-ca-ra-cert|x-x509-ca-ra-cert-chain|pkcs7-mime|x-pkcs7-mime|x-pkcs7-certificates)\b/i;

/**
 * Whether a GetCACert body can be certificates: DER (a SEQUENCE) or a PEM CERTIFICATE block. Under one of
 * {@link CA_CERT_TYPE}'s types any SEQUENCE can (one that does not parse is the CA's fault, exit 1); under another
 * type (application/pkix-crl, application/octet-stream, none) only one that parses as certificates.
 */
function looksLikeCertificates(body: Uint8Array, type: string): boolean {
  if (body[0] === 0x30) {
    if (CA_CERT_TYPE.test(type)) return true;
    try {
      parseGetCaCertResponse(body, type);
      return true;
    } catch {
      return false;
    }
  }
  return new TextDecoder().decode(body.subarray(0, 64 * 1024)).includes("-----BEGIN CERTIFICATE-----");
}

/**
 * `fetch`, then for a 2xx GetCACaps reply of an HTML/JSON/XML or certificate/CRL content type, or a 2xx GetCACert reply whose body is
 * neither DER nor PEM certificates, throws a {@link CliError} (exit 4): `GetCACert: HTTP 200 with content-type
 * text/html; charset=utf-8, not CA certificates (…): is the path in --url a SCEP endpoint? (…)`. ScepClient wraps it
 * in its TransportError (`ERR_TRANSPORT`) as the `cause`; `describeError` prints the CliError's line.
 */
export const scepFetch: typeof fetch = async (input, init) => {
  const res = await fetch(input, init);
  if (!res.ok) return res;
  const operation = operationOf(input);
  if (operation !== "GetCACaps" && operation !== "GetCACert") return res;
  const type = res.headers.get("content-type") ?? "";
  const notScep =
    operation === "GetCACaps" ? /html|json|xml|pkix|x509|pkcs7/i.test(type) : !looksLikeCertificates(new Uint8Array(await res.clone().arrayBuffer()), type);
  if (!notScep) return res;
  await res.body?.cancel().catch(() => undefined);
  const received = type ? `content-type ${printable(type, 80)}` : "no content-type";
  throw new CliError(`${operation}: HTTP ${res.status} with ${received}, not ${WANTED[operation]}: ${CHECK_PATH}`, ExitCode.TRANSPORT);
};
