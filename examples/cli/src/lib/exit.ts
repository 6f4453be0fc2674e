/**
 * Exit codes and the errors that carry them. Every failure ends as one line
 * on stderr and one of these codes.
 *
 * @module
 */
import { isScepError, redactUrl, redactUrlsInText } from "@scep/core";
import { printable } from "./printable.js";

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
  /** HTTP error status, timeout or other aborted request, connection refused, DNS failure, or a `--url` that answers but not as SCEP. */
  TRANSPORT: 4,
  /** The CA's GetCACert reply does not match --ca-fingerprint / --ca-cert (nothing was sent). */
  CA_PIN_MISMATCH: 5,
  /** Bad command line (sysexits EX_USAGE). */
  USAGE: 64,
  /** An input file (--key, --cert) cannot be read or parsed (sysexits EX_NOINPUT). */
  NO_INPUT: 66,
  /** An output file (--out, --key-out, the key file) cannot be created: checked before anything is sent (sysexits EX_CANTCREAT). */
  CANT_CREATE: 73,
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
// Error("connect ECONNREFUSED 127.0.0.1:1", { code: "ECONNREFUSED", address, port }).
// Each reason says what failed and what to check, in one line.
interface SocketError extends Error {
  code?: unknown;
  address?: unknown;
  port?: unknown;
  hostname?: unknown;
}

const CHECK_URL_IS_SCEP = "is --url a SCEP server, with the right http:// or https://?";
/** What to check when the server at --url answers, but not as SCEP. */
export const CHECK_PATH = "is the path in --url a SCEP endpoint? (the example servers: /scep)";
/** What to do when a SCEP proxy (@scep/proxy, as Fleet's) refuses the one-time device URL in --url. */
export const CHECK_PROXY_URL = "this one-time proxy URL is used up or no longer valid: get a new one from your MDM (it registers the profile again)";
/**
 * The bodies of @scep/proxy's 400 for a device URL that cannot be used (any more): an identifier with no record, a
 * profile that is not `pending` (requeued after a failed use: `none`), a one-time challenge used or unknown, an
 * NDES/Smallstep challenge too old (packages/proxy/src/handler/replies.ts). The path in --url is fine then.
 */
export const PROXY_URL_REFUSALS = ["unknown identifier", "challenge failed", "challenge password has expired", "profile status is not pending: "] as const;

/** What to do when a SCEP proxy cannot read the identifier at the end of --url's path (its 400 `invalid identifier`). */
export const CHECK_PROXY_IDENTIFIER =
  "the SCEP proxy does not know this device URL (the end of its path is no one-time identifier: cut short or mistyped): use the whole URL from your MDM, or get a new one from your MDM";
/** What to do when a SCEP proxy refuses an earlier URL of a profile registered again (its 400 `challenge superseded`). */
export const CHECK_PROXY_SUPERSEDED = "this one-time proxy URL was replaced: the MDM registered the profile again, so use the latest URL it gave (or get a new one from your MDM)";
/** What to do when a SCEP proxy could not reach its CA (its 502 `upstream failed`, 504 `upstream timed out`). */
export const CHECK_PROXY_UPSTREAM = "the SCEP proxy at --url could not reach its CA (--url itself is fine): try again later, and tell the proxy's operator if it keeps failing";
/** After a PKIOperation the proxy could not forward: its one-time challenge may be spent (the CA may have issued). */
const PROXY_UPSTREAM_SPENT = '; if the retry gets "challenge failed", get a new URL from your MDM';
/**
 * What to do when a SCEP proxy answers a PKIOperation 502 `upstream failed` or 504 `upstream timed out` WITH
 * `Retry-After`: @scep/proxy sends it only when the same request sent again then passes it (its CA was busy or
 * rate-limited and did not take it, or the one-time challenge is spent but bound to this request's key and
 * transactionID). Not "did not process": after a timeout the CA may have issued, and only the same key collects that
 * certificate; a new key would be refused as another use of the spent URL.
 */
export const checkProxyResend = (seconds: number): string =>
  `the SCEP proxy at --url did not get an answer from its CA to pass on (--url itself is fine), and says the same request passes again in ${seconds} s: run the same command then, with the same key`;
/** What to do when a SCEP proxy's CA does not know the CA identifier sent (its 404 `unknown CA identifier` to GetCACert). */
export const CHECK_PROXY_CA_IDENTIFIER = "the CA behind the SCEP proxy has no CA by that name: check --ca-identifier, or leave it out for the default CA";

/** The body of a ScepClient error message (`Operation: HTTP NNN (body)`) with that status, or undefined. */
function bodyOf(status: unknown, message: string): string | undefined {
  return typeof status === "number" ? new RegExp(`^[A-Za-z]+: HTTP ${status} \\((.*)\\)$`, "s").exec(message)?.[1] : undefined;
}

/**
 * The hint for a SCEP proxy's own answer (@scep/proxy's fixed bodies, packages/proxy/src/handler/replies.ts), for any
 * operation, or undefined when `message` is not one: a spent or unknown one-time URL ({@link PROXY_URL_REFUSALS}), a
 * superseded one, an unreadable identifier, or a CA the proxy could not reach (502/504).
 */
function proxyHint(status: unknown, message: string, operation: string | undefined, retryAfter: number | undefined): string | undefined {
  const body = bodyOf(status, message);
  if (body === undefined) return undefined;
  if (status === 404 && body === "unknown CA identifier") return CHECK_PROXY_CA_IDENTIFIER;
  if (status === 400) {
    if (PROXY_URL_REFUSALS.some((r) => (r.endsWith(": ") ? body.startsWith(r) : body === r))) return CHECK_PROXY_URL;
    if (body === "challenge superseded") return CHECK_PROXY_SUPERSEDED;
    if (body === "invalid identifier") return CHECK_PROXY_IDENTIFIER;
  }
  if ((status === 502 && body === "upstream failed") || (status === 504 && body === "upstream timed out")) {
    if (operation === "PKIOperation" && retryAfter !== undefined) return checkProxyResend(retryAfter);
    return `${CHECK_PROXY_UPSTREAM}${operation === "PKIOperation" ? PROXY_UPSTREAM_SPENT : ""}`;
  }
  return undefined;
}

/** A 5xx or 429 to the first GETs; `when`: "later", or "in N s" from the answer's Retry-After. */
const checkServer = (when: string): string => `the server at --url is there but cannot answer now: try again ${when}, and check that the path in --url is a SCEP endpoint (the example servers: /scep)`;
const CHECK_TIMEOUT = "the server at --url did not answer in time: try again, or give it longer with --timeout MS";
const CHECK_ABORTED = "try again; --timeout does not change this";
const CHECK_NETWORK = "check the address in --url and the network (route, firewall, VPN)";
const TLS_CODE = /^(ERR_SSL_|ERR_TLS_|CERT_|DEPTH_ZERO_SELF_SIGNED_CERT$|SELF_SIGNED_CERT_IN_CHAIN$|UNABLE_TO_)/;

function reasonFor(e: SocketError, code: string, url: URL | undefined): string | undefined {
  const where = typeof e.address === "string" && typeof e.port === "number" ? ` ${e.address.includes(":") ? `[${e.address}]` : e.address}:${e.port}` : "";
  const host = typeof e.hostname === "string" ? e.hostname : url?.hostname;
  switch (code) {
    case "ECONNREFUSED":
      return `connection refused by${where || ` ${url?.host ?? "the server"}`} (ECONNREFUSED): is the SCEP server running at ${url ? redactUrl(url) : "--url"}?`;
    case "ENOTFOUND":
      return `cannot resolve the host name ${host ?? "in --url"} (ENOTFOUND): check the host name in --url`;
    case "EAI_AGAIN":
      return `cannot resolve the host name ${host ?? "in --url"} (EAI_AGAIN): check the host name in --url and the DNS settings`;
    case "ECONNRESET":
      return `the connection was reset (ECONNRESET): ${CHECK_URL_IS_SCEP}`;
    case "UND_ERR_SOCKET":
      return `the server closed the connection before answering: ${CHECK_URL_IS_SCEP}`;
    case "UND_ERR_HEADERS_OVERFLOW":
      return `the response headers are too large: ${CHECK_URL_IS_SCEP}`;
    case "EHOSTUNREACH":
      return `host unreachable${where} (EHOSTUNREACH): ${CHECK_NETWORK}`;
    case "ENETUNREACH":
      return `network unreachable${where} (ENETUNREACH): ${CHECK_NETWORK}`;
    case "ETIMEDOUT":
    case "UND_ERR_CONNECT_TIMEOUT":
      return `connecting${where} timed out (${code}): ${CHECK_NETWORK}`;
  }
  if (TLS_CODE.test(code)) return `TLS failed (${code}: ${firstLine(e.message)}): check http:// or https:// in --url; a server certificate from a private CA needs NODE_EXTRA_CA_CERTS`;
  return undefined;
}

const firstLine = (text: string): string => text.split("\n", 1)[0]!;

/**
 * `error` and the errors of its `cause` chain, outermost first: at most 5 (fetch puts the socket's error two levels
 * down; a longer or circular chain is cut), ending at the first cause that is not an Error.
 */
function causeChain(error: unknown): Error[] {
  const chain: Error[] = [];
  for (let e: unknown = error; e instanceof Error && chain.length < 5; e = e.cause) chain.push(e);
  return chain;
}

/** The first string `code` in an error's cause chain, or undefined. */
function socketCode(error: unknown): string | undefined {
  for (const e of causeChain(error)) {
    const code = (e as SocketError).code;
    if (typeof code === "string") return code;
  }
  return undefined;
}

/** Socket codes of a connection that closed after the request went out (the server may have read it). */
const CLOSED_CODES = new Set(["UND_ERR_SOCKET", "ECONNRESET", "EPIPE"]);
/** Socket codes, and the like, of a failure before a byte of the request was sent. */
const NOT_SENT_CODES = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH", "UND_ERR_CONNECT_TIMEOUT"]);

/**
 * HTTP statuses that say the server did not process the request: 503 Service Unavailable (RFC 9110 §15.6.4: busy,
 * overloaded, a store down; with or without `Retry-After`) and 429 Too Many Requests (RFC 6585 §4: rate-limited).
 * Which of these it was, the server's own text says (quoted in the line); the CLI does not guess.
 */
const NOT_PROCESSED_STATUSES: ReadonlySet<number> = new Set([503, 429]);
/** What to do after a PKIOperation answered with a {@link NOT_PROCESSED_STATUSES} status. */
export const CHECK_NOT_PROCESSED = "the server did not process the request: run the same command again later";

/**
 * `message` (from {@link describeError}) for a poll that ended while a PENDING transaction waits for a saved key: its
 * "run the same command again" (which would make a new key, a new request) becomes "poll again … with the command
 * below", the line the caller adds next.
 */
export function pollInstead(message: string): string {
  return message.replace(/run the same command again (later|in \d+ s)$/, "poll again $1 with the command below");
}

/**
 * A TransportError's `retryAfterSeconds` (ScepClient reads the error response's `Retry-After` into it; read by name,
 * as `status`, so one of another copy of @scep/core counts too): whole seconds, or undefined.
 */
export function retryAfterOf(error: unknown): number | undefined {
  const seconds = (error as { retryAfterSeconds?: unknown } | undefined)?.retryAfterSeconds;
  return typeof seconds === "number" && Number.isSafeInteger(seconds) && seconds >= 0 ? seconds : undefined;
}

/**
 * Whether `error` is a PKIOperation that was sent and got no SCEP answer, so the CA may have processed (and issued)
 * it: the connection closed before the answer, our timeout fired, or an HTTP 5xx other than 503 came instead of a
 * CertRep (a proxy's 502/504 after forwarding, a server that failed after issuing). A failure before sending
 * (connection refused, DNS, TLS, a bad port), a 4xx (the server refused to read it: 400, 414, 431) and a 503 or 429
 * (the server did not process it) are not. RFC 8894 §3.3.3: re-sending the same request (same
 * key, so the same transactionID) is how the client gets the certificate the CA may have issued.
 */
export function pkiOperationUnanswered(error: unknown): boolean {
  if (transportOperation(error) !== "PKIOperation" || !isScepError(error)) return false;
  const status = (error as { status?: unknown }).status;
  if (typeof status === "number") return status >= 500 && !NOT_PROCESSED_STATUSES.has(status);
  const code = socketCode(error.cause);
  if (code !== undefined && (NOT_SENT_CODES.has(code) || TLS_CODE.test(code))) return false;
  return !causeChain(error.cause).some((e) => e.message === "bad port");
}

/**
 * The SCEP operation of a TransportError (`ERR_TRANSPORT`): its `operation` field, which ScepClient sets (read
 * by name, so a TransportError of another copy of @scep/core counts too). Undefined for any other error.
 */
export function transportOperation(error: unknown): string | undefined {
  if (!isScepError(error) || error.code !== "ERR_TRANSPORT") return undefined;
  const operation = (error as { operation?: unknown }).operation;
  return typeof operation === "string" ? operation : undefined;
}

/** One line for a failed fetch: what failed and what to check; undefined when the error is not a socket's. */
function networkReason(error: unknown, url: URL | undefined): string | undefined {
  const chain = causeChain(error);
  for (const e of chain) {
    const code = (e as SocketError).code;
    const reason = typeof code === "string" ? reasonFor(e, code, url) : undefined;
    if (reason) return reason;
  }
  const deepest = chain.at(-1);
  if (!deepest || deepest === error) return undefined;
  // undici refuses the Fetch standard's "bad ports" (1, 25, 6000, …) before connecting, with no code.
  if (deepest.message === "bad port") {
    const port = url ? url.port || (url.protocol === "https:" ? "443" : "80") : undefined;
    return `fetch will not connect to ${port ? `port ${port}` : "this port"} (a "bad port" of the Fetch standard): run the SCEP server on another port and use that in --url`;
  }
  // fetch quotes a URL with credentials whole ("Request cannot be constructed from a URL that includes credentials: …").
  return `${redactUrlsInText(firstLine((error as Error).message))} (${redactUrlsInText(firstLine(deepest.message))}): check --url and the network`;
}

/** The `--url` of a command line (`--url X` or `--url=X`), parsed; undefined when absent or not a URL. */
export function urlOption(argv: readonly string[]): URL | undefined {
  const i = argv.findIndex((a) => a === "--url" || a.startsWith("--url="));
  const value = i === -1 ? undefined : argv[i]!.startsWith("--url=") ? argv[i]!.slice("--url=".length) : argv[i + 1];
  if (value === undefined) return undefined;
  try {
    return new URL(value);
  } catch {
    return undefined;
  }
}

/**
 * Maps any thrown value to the message and exit code the CLI ends with; `url` (the command's `--url`) lets a network
 * failure name what to check.
 */
export function describeError(error: unknown, url?: URL): { message: string; exitCode: number; saysMayHaveProcessed?: true } {
  if (error instanceof CliError) return { message: error.message, exitCode: error.exitCode };
  // A reply to GetCACaps/GetCACert that is not SCEP (scep-fetch.ts): ScepClient wraps the CliError as its cause.
  if (isScepError(error) && error.cause instanceof CliError) return { message: error.cause.message, exitCode: error.cause.exitCode };
  if (isScepError(error)) {
    if (error.code === "ERR_TRANSPORT") {
      // "GetCACaps: fetch failed" says nothing; name the socket error instead.
      const reason = networkReason(error.cause, url);
      const operation = transportOperation(error);
      // (For the text only: a TransportError's message starts with its operation.)
      const shown = operation ?? error.message.split(":", 1)[0];
      // An error status to the first GETs (every command starts with GetCACaps or GetCACert): a 4xx, the URL's path is
      // not a SCEP endpoint; a 5xx (a 503 of a server shedding load, a proxy's 502), the server cannot answer now.
      const status = (error as { status?: unknown }).status;
      const first = operation === "GetCACaps" || operation === "GetCACert";
      // A SCEP proxy's own answer, to any operation: a spent, unknown or superseded one-time URL (the path is right, the
      // URL is not), or a CA it could not reach (the URL is right, the CA behind it is not there).
      const retryAfter = retryAfterOf(error);
      const proxied = proxyHint(status, error.message, operation, retryAfter);
      // The server's Retry-After (RFC 9110 §10.2.3), when it sent one, is the wait named; else "later".
      const when = retryAfter === undefined ? "later" : `in ${retryAfter} s`;
      const notProcessed = typeof status === "number" && NOT_PROCESSED_STATUSES.has(status);
      const hint = proxied
        ? `: ${proxied}`
        : operation === "PKIOperation" && notProcessed
          ? `: ${CHECK_NOT_PROCESSED.replace(/later$/, when)}`
          : typeof status !== "number"
            ? ""
            : first && (status >= 500 || status === 429)
              ? `: ${checkServer(when)}`
              : first && status >= 400
                ? `: ${CHECK_PATH}`
                : notProcessed && retryAfter !== undefined
                  ? `: run the same command again ${when}`
                  : "";
      // A timeout: the server (or a proxy before it) did not answer within --timeout. Only our own timer says so: the
      // AbortSignal.timeout of ScepClient rejects fetch with its reason, a TimeoutError. Any other abort (an
      // AbortError) is not a timeout, whatever the message ScepClient gave it; saying "give it longer" would mislead.
      const cause = error.cause;
      const causeName = cause instanceof Error ? cause.name : undefined;
      if (causeName === "TimeoutError") return { message: `${printable(error.message, 260)}: ${CHECK_TIMEOUT}`, exitCode: ExitCode.TRANSPORT };
      if (causeName === "AbortError") {
        return { message: `${shown}: the request was aborted before the server answered (${printable((cause as Error).message, 120)}), not timed out: ${CHECK_ABORTED}`, exitCode: ExitCode.TRANSPORT };
      }
      // Every PKIOperation follows a GetCACert that answered at the same URL: a connection closed now is not a wrong
      // --url, and the server may have read (and acted on) the request.
      const closed = socketCode(cause);
      if (operation === "PKIOperation" && closed !== undefined && CLOSED_CODES.has(closed)) {
        return { message: `PKIOperation: the connection closed before the answer (${closed}), after GetCACert had answered at this URL: the CA may have processed the request`, exitCode: ExitCode.TRANSPORT, saysMayHaveProcessed: true };
      }
      // The message quotes the server's error body: printable, bounded. A proxy's answer that says when the same
      // request passes again already says what to do with the key (the caller adds where it is kept).
      const message = reason ? `${shown}: ${reason}` : `${printable(error.message, 260)}${hint}`;
      if (operation === "PKIOperation" && retryAfter !== undefined && proxied !== undefined && (status === 502 || status === 504)) {
        return { message, exitCode: ExitCode.TRANSPORT, saysMayHaveProcessed: true };
      }
      return { message, exitCode: ExitCode.TRANSPORT };
    }
    if (error.code === "ERR_CA_PIN_MISMATCH") return { message: `${error.message}; nothing was sent`, exitCode: ExitCode.CA_PIN_MISMATCH };
    return { message: `${error.message} [${error.code}]`, exitCode: ExitCode.ERROR };
  }
  return { message: error instanceof Error ? error.message : String(error), exitCode: ExitCode.ERROR };
}
