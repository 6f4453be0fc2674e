// Classifying a failed connection from its error code: one place for the codes of node:http, undici (`fetch`)
// and the DNS resolver, so the upstream, NDES and Smallstep errors name the same failure the same way.
import type { TransportFailure } from "../challenge-sources/errors.js";

/** The first string `code` on the error or its `cause` chain (undici puts the socket error in `cause`, happy eyeballs in `errors`). */
export function errorCode(e: unknown): string | undefined {
  for (let c: unknown = e, depth = 0; c && depth < 5; c = (c as { cause?: unknown }).cause, depth++) {
    const code = (c as { code?: unknown }).code;
    if (typeof code === "string") return code;
    const errors = (c as { errors?: unknown }).errors;
    if (Array.isArray(errors)) for (const inner of errors) if (typeof (inner as { code?: unknown })?.code === "string") return (inner as { code: string }).code;
  }
  return undefined;
}

/** Whether `code` is a resolver failure (the host name did not resolve). */
export const isDnsCode = (code: string | undefined): boolean => code === "ENOTFOUND" || code === "EAI_AGAIN" || code === "EAI_NONAME" || code === "EAI_FAIL";

/** Whether `code` is a connection the peer reset or closed mid-exchange. */
export const isResetCode = (code: string | undefined): boolean => code === "ECONNRESET" || code === "UND_ERR_SOCKET" || code === "EPIPE";

/**
 * Whether `code` is a TLS failure that can only happen during the handshake, before a byte of the request is sent:
 * certificate verification (untrusted, self-signed, expired, wrong name), a handshake alert, no common protocol, or
 * a peer that does not speak TLS. Not the record-layer errors (a bad MAC, a decryption failure), which can come
 * after the request went out.
 */
export function isTlsHandshakeCode(code: string | undefined): boolean {
  if (code === undefined) return false;
  if (code === "ERR_TLS_CERT_ALTNAME_INVALID" || /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER/.test(code)) return true;
  return /^ERR_SSL_.*(HANDSHAKE|ALERT_PROTOCOL_VERSION|UNSUPPORTED_PROTOCOL|NO_PROTOCOLS_AVAILABLE|WRONG_VERSION_NUMBER|NO_SHARED_CIPHER|SSLV3_ALERT_CERTIFICATE|TLSV1_ALERT_UNKNOWN_CA)/.test(code);
}

/** The {@link TransportFailure} label of a connection error. */
export function transportFailure(e: unknown): TransportFailure {
  const code = errorCode(e);
  if (code === "ECONNREFUSED") return "connection refused";
  if (isResetCode(code)) return "connection reset";
  if (isDnsCode(code)) return "DNS";
  if (code !== undefined && (code.startsWith("ERR_TLS") || code.startsWith("ERR_SSL") || /CERT|SELF_SIGNED|UNABLE_TO_VERIFY/.test(code))) return "TLS";
  return "other";
}
