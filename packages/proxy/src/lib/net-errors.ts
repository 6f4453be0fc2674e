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

/**
 * Whether `code` says the host or its network could not be reached (no route, host or network down, no local address
 * or port to connect from). Only a connect attempt fails so at once; on Linux an established connection reports
 * `EHOSTUNREACH` too, from a read, once its retransmissions give up: see {@link failedToConnect} for the proof that no
 * request was sent.
 */
export const isUnreachableCode = (code: string | undefined): boolean =>
  code === "EHOSTUNREACH" || code === "ENETUNREACH" || code === "EHOSTDOWN" || code === "ENETDOWN" || code === "EADDRNOTAVAIL";

/** undici's connect timeout (`ConnectTimeoutError`): the TCP connection, or the TLS handshake over it, did not complete. */
export const CONNECT_TIMEOUT_CODE = "UND_ERR_CONNECT_TIMEOUT";

/** One error of the connect step: undici's connect timeout, or a socket error Node raised from `connect()` or `bind()`. */
function isConnectStepError(c: unknown): boolean {
  const { code, syscall } = (c ?? {}) as { code?: unknown; syscall?: unknown };
  return code === CONNECT_TIMEOUT_CODE || (typeof code === "string" && (syscall === "connect" || syscall === "bind"));
}

/**
 * Whether a failed `fetch` provably never established its connection, so no byte of the request went out: the error
 * that carries the code (as {@link errorCode} finds it; for happy eyeballs' `AggregateError`, every attempt's) is
 * undici's connect timeout or a socket error of the `connect` or `bind` system call (Node names it in `syscall`:
 * `connect EHOSTUNREACH 192.0.2.1:443`, `connect ETIMEDOUT …` of an attempt that timed out). An error of an established
 * socket names `read` or `write` (`read EHOSTUNREACH`, `read ECONNRESET`), and one without a `syscall` proves nothing:
 * both are false.
 */
export function failedToConnect(e: unknown): boolean {
  for (let c: unknown = e, depth = 0; c && depth < 5; c = (c as { cause?: unknown }).cause, depth++) {
    const errors = (c as { errors?: unknown }).errors;
    if (Array.isArray(errors) && errors.length > 0) return errors.every(isConnectStepError);
    if (typeof (c as { code?: unknown }).code === "string") return isConnectStepError(c);
  }
  return false;
}

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
