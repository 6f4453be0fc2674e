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

/** The {@link TransportFailure} label of a connection error. */
export function transportFailure(e: unknown): TransportFailure {
  const code = errorCode(e);
  if (code === "ECONNREFUSED") return "connection refused";
  if (isResetCode(code)) return "connection reset";
  if (isDnsCode(code)) return "DNS";
  if (code !== undefined && (code.startsWith("ERR_TLS") || code.startsWith("ERR_SSL") || /CERT|SELF_SIGNED|UNABLE_TO_VERIFY/.test(code))) return "TLS";
  return "other";
}
