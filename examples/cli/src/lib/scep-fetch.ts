/**
 * The `fetch` every command's ScepClient uses. A 2xx reply to GetCACaps or GetCACert that no SCEP server sends (an
 * HTML page, JSON, a health check's "ok": a `--url` that is not a SCEP endpoint, such as `/healthz` or `/admin/scep`)
 * ends the command with one line naming the HTTP status and content type received and what to check, exit 4, instead
 * of a parse error (exit 1). RFC 8894 §4.1: GetCACaps answers text/plain; §4.2.1: GetCACert answers one DER
 * certificate (application/x-x509-ca-cert) or a degenerate PKCS#7 (application/x-x509-ca-ra-cert), both DER
 * SEQUENCEs (0x30); a PEM bundle, which some CAs send, is accepted too. A DER SEQUENCE served as another type (a CRL,
 * application/pkix-crl, at `/scep/ca.crl`) counts as certificates only when it parses as them. A GetCACaps body is
 * judged by what it holds when its type does not settle it: capabilities are keywords (§3.5.2), so one that opens with
 * `<` is a page, while keywords served as text/html (as some CAs serve them) are caps.
 *
 * Those bodies are read here no further than {@link MAX_REPLY_BYTES}, ScepClient's own limit for them.
 *
 * @module
 */
import { TransportError, parseGetCaCertResponse } from "@scep/core";
import { capsTextIsMarkup, readCapped } from "@scep/core/internal";
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
 * The most of a GetCACaps or GetCACert reply read (32 MiB): ScepClient's default `maxResponseBytes`, which the CLI's
 * clients read every reply under. A larger reply ends as ScepClient ends one: `ERR_TRANSPORT` "the response is larger
 * than 33554432 bytes (maxResponseBytes)", exit 4, the rest of it not read.
 */
export const MAX_REPLY_BYTES = 32 * 1024 * 1024;

/** Content types no GetCACaps reply comes as (a page, JSON, a certificate or CRL); text/html is judged by its body. */
const NOT_CAPS_TYPE = /json|xml|pkix|x509|pkcs7/i;

/** Whether a GetCACaps body is markup (an HTML or XML page), which no capability keyword is (@scep/core's check). */
function opensWithMarkup(body: Uint8Array): boolean {
  return capsTextIsMarkup(new TextDecoder().decode(body.subarray(0, 1024)));
}

/**
 * `fetch`, then for a 2xx GetCACaps reply of a JSON/XML or certificate/CRL content type or whose body is a page, or a
 * 2xx GetCACert reply whose body is neither DER nor PEM certificates, throws a {@link CliError} (exit 4): `GetCACert:
 * HTTP 200 with content-type text/html; charset=utf-8, not CA certificates (…): is the path in --url a SCEP endpoint?
 * (…)`. ScepClient wraps it in its TransportError (`ERR_TRANSPORT`) as the `cause`; `describeError` prints the
 * CliError's line. Such a body is read whole first, at most {@link MAX_REPLY_BYTES} (a TransportError `ERR_TRANSPORT`
 * when larger; the deadline ScepClient passes as `init.signal` applies), and handed on as a new Response of the same
 * status and headers.
 */
export const scepFetch: typeof fetch = async (input, init) => {
  const res = await fetch(input, init);
  if (!res.ok) return res;
  const operation = operationOf(input);
  if (operation !== "GetCACaps" && operation !== "GetCACert") return res;
  const type = res.headers.get("content-type") ?? "";
  let body: Uint8Array | undefined;
  if (operation === "GetCACert" || !NOT_CAPS_TYPE.test(type)) {
    const read = await readCapped(res.body, MAX_REPLY_BYTES, init?.signal ?? undefined);
    if (read === "too-large") throw tooLarge(operation);
    body = read;
  }
  const scep = (b: Uint8Array): boolean => (operation === "GetCACaps" ? !opensWithMarkup(b) : looksLikeCertificates(b, type));
  if (body !== undefined && scep(body)) return new Response(body.length > 0 ? (body as Uint8Array<ArrayBuffer>) : null, { status: res.status, statusText: res.statusText, headers: res.headers });
  if (body === undefined) await res.body?.cancel().catch(() => undefined);
  const received = type ? `content-type ${printable(type, 80)}` : "no content-type";
  // Keywords under text/html pass; a page under another type (text/plain, none) says it is one.
  const page = operation === "GetCACaps" && body !== undefined && !/html/i.test(type) ? " and a markup page" : "";
  throw new CliError(`${operation}: HTTP ${res.status} with ${received}${page}, not ${WANTED[operation]}: ${CHECK_PATH}`, ExitCode.TRANSPORT);
};

/** What ScepClient throws for a reply over its `maxResponseBytes`, for one over {@link MAX_REPLY_BYTES}. */
function tooLarge(operation: "GetCACaps" | "GetCACert"): TransportError {
  const error = new TransportError(`${operation}: the response is larger than ${MAX_REPLY_BYTES} bytes (maxResponseBytes)`);
  error.operation = operation;
  return error;
}
