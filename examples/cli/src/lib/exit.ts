/**
 * Exit codes and the errors that carry them. Every failure ends as one line
 * on stderr and one of these codes.
 *
 * @module
 */
import { isScepError } from "@scep/core";

/** The process exit codes of `scep`. */
export const ExitCode = {
  /** Done. */
  OK: 0,
  /** Anything not listed below (an invalid CertRep, a key that does not match…). */
  ERROR: 1,
  /** The CA answered FAILURE. */
  FAILURE: 2,
  /** The CA still answered PENDING when --max-poll ran out. */
  PENDING: 3,
  /** HTTP error status, timeout, connection refused, DNS failure. */
  TRANSPORT: 4,
  /** The CA's GetCACert reply does not match --ca-fingerprint / --ca-cert (nothing was sent). */
  CA_PIN_MISMATCH: 5,
  /** Bad command line (sysexits EX_USAGE). */
  USAGE: 64,
  /** An input file (--key, --cert) cannot be read or parsed (sysexits EX_NOINPUT). */
  NO_INPUT: 66,
} as const;

/** A failure with the exit code and the one-line message it ends the process with. */
export class CliError extends Error {
  override readonly name = "CliError";
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}

/** A bad command line: exit 64, with a pointer to `--help`. */
export class UsageError extends CliError {
  constructor(message: string) {
    super(message, ExitCode.USAGE);
  }
}

// Node's fetch wraps the socket error twice: TypeError("fetch failed") → cause
// Error("connect ECONNREFUSED 127.0.0.1:1", { code: "ECONNREFUSED" }).
const NETWORK_REASONS: Record<string, string> = {
  ECONNREFUSED: "connection refused",
  ECONNRESET: "connection reset",
  ENOTFOUND: "host not found",
  EAI_AGAIN: "host not found (temporary DNS failure)",
  EHOSTUNREACH: "host unreachable",
  ENETUNREACH: "network unreachable",
  ETIMEDOUT: "connection timed out",
  UND_ERR_SOCKET: "connection closed by the server",
  UND_ERR_HEADERS_OVERFLOW: "response headers too large",
};

function networkReason(error: unknown): string | undefined {
  let deepest: Error | undefined;
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && code in NETWORK_REASONS) return `${NETWORK_REASONS[code]} (${e.message})`;
    deepest = e;
  }
  return deepest && deepest !== error ? `${(error as Error).message} (${deepest.message})` : undefined;
}

/** Maps any thrown value to the message and exit code the CLI ends with. */
export function describeError(error: unknown): { message: string; exitCode: number } {
  if (error instanceof CliError) return { message: error.message, exitCode: error.exitCode };
  if (isScepError(error)) {
    if (error.code === "ERR_TRANSPORT") {
      // "GetCACaps: fetch failed" says nothing; name the socket error instead.
      const reason = networkReason(error.cause);
      const operation = error.message.split(":", 1)[0];
      return { message: reason ? `${operation}: ${reason}` : error.message, exitCode: ExitCode.TRANSPORT };
    }
    if (error.code === "ERR_CA_PIN_MISMATCH") return { message: `${error.message}; nothing was sent`, exitCode: ExitCode.CA_PIN_MISMATCH };
    return { message: `${error.message} [${error.code}]`, exitCode: ExitCode.ERROR };
  }
  return { message: error instanceof Error ? error.message : String(error), exitCode: ExitCode.ERROR };
}
