/**
 * Typed errors of @scep/proxy. Every one is a `ScepError` of `@scep/core`
 * (`instanceof ScepError` and `isScepError` hold) with a stable `ERR_PROXY_*`
 * code. The proxy handler never lets one reach a device: it answers with the
 * fixed HTTP status and short body of PROXY.md. An unavailable shared store is
 * `@scep/core`'s `StoreUnavailableError` (`ERR_STORE_UNAVAILABLE`), which the
 * handler answers with 503 and `Retry-After`.
 *
 * @module
 */
import { ScepError, isScepError, type ScepErrorOptions } from "@scep/core";

/**
 * Stable codes of every {@link ProxyError}.
 *
 * @group Errors
 */
export type ProxyErrorCode =
  | "ERR_PROXY"
  | "ERR_PROXY_CONFIG"
  | "ERR_PROXY_IDENTIFIER"
  | "ERR_PROXY_UPSTREAM"
  | "ERR_PROXY_CHALLENGE_SOURCE"
  | "ERR_PROXY_CHALLENGE_SOURCE_CONFIG"
  | "ERR_PROXY_NTLM_MESSAGE"
  | "ERR_PROXY_NDES_CACHE_FULL"
  | "ERR_PROXY_NDES_PERMISSION"
  | "ERR_PROXY_NDES_AUTH"
  | "ERR_PROXY_NDES_AUTH_SCHEME"
  | "ERR_PROXY_NDES_EMPTY"
  | "ERR_PROXY_NDES_UNKNOWN_PAGE"
  | "ERR_PROXY_NDES_HTTP_STATUS"
  | "ERR_PROXY_NDES_TIMEOUT"
  | "ERR_PROXY_NDES_TRANSPORT"
  | "ERR_PROXY_SMALLSTEP_AUTH"
  | "ERR_PROXY_SMALLSTEP_HTTP_STATUS"
  | "ERR_PROXY_SMALLSTEP_EMPTY"
  | "ERR_PROXY_SMALLSTEP_INVALID"
  | "ERR_PROXY_SMALLSTEP_TIMEOUT"
  | "ERR_PROXY_SMALLSTEP_TRANSPORT";

/**
 * Options of every {@link ProxyError} constructor.
 *
 * @group Errors
 */
export interface ProxyErrorOptions {
  /** The underlying error (a driver's or `fetch`'s error). Never carries a secret the message would not. */
  cause?: unknown;
}

// ScepError types `code` as core's own code union; the proxy's errors are ScepErrors at run time with codes of
// their own, so the base is seen through a type without `code` and ProxyError declares its own.
const ScepErrorBase = ScepError as unknown as new (message: string, options?: ScepErrorOptions) => Omit<ScepError, "code">;

/**
 * Base class of every error thrown by `@scep/proxy`. A `ScepError` of
 * `@scep/core` at run time (`failInfo` is `badRequest` and unused: the proxy
 * never answers with a CertRep of its own).
 *
 * @example
 * ```ts
 * import { isProxyError, parseIdentifier } from "@scep/proxy";
 *
 * try { parseIdentifier("only-one-field") }
 * catch (e) { if (isProxyError(e)) console.log(e.code) } // "ERR_PROXY_IDENTIFIER"
 * ```
 *
 * @group Errors
 */
export class ProxyError extends ScepErrorBase {
  /** Stable error code. */
  static readonly code: ProxyErrorCode = "ERR_PROXY";
  /** Stable error code. */
  declare readonly code: ProxyErrorCode;

  constructor(message: string, options: ProxyErrorOptions = {}) {
    super(message, options.cause === undefined ? {} : { cause: options.cause });
  }
}

/**
 * An option or a CA configuration is missing or invalid: two CAs with one
 * name, an unknown CA type, a SCEP URL that is not http(s), a default CA that
 * is not configured, a limit of 0. Thrown when the proxy or a registry is
 * built, never per request.
 *
 * @example
 * ```ts
 * import { MemoryCaRegistry } from "@scep/proxy";
 *
 * // throws ProxyConfigError (ERR_PROXY_CONFIG): "ndes" is configured twice
 * new MemoryCaRegistry([
 *   { name: "ndes", type: "ndes", url: "https://ndes.example.com/certsrv/mscep/mscep.dll" },
 *   { name: "ndes", type: "custom", url: "https://ca.example.com/scep" },
 * ]);
 * ```
 *
 * @group Errors
 */
export class ProxyConfigError extends ProxyError {
  static override readonly code: ProxyErrorCode = "ERR_PROXY_CONFIG";
}

/**
 * Why an identifier was refused ({@link IdentifierError.reason}):
 * - `empty`: no identifier at all;
 * - `too_long`: longer than {@link MAX_IDENTIFIER_LENGTH} characters;
 * - `field_count`: not 2, 3 or 4 comma-separated fields;
 * - `empty_field`: an empty hostId or profileId, or an empty caName given explicitly to the builder;
 * - `bad_encoding`: a `%` not followed by two hex digits, or bytes that are not UTF-8 (a lone surrogate for the builder);
 * - `control_character`: a field holding NUL or another C0 control character or DEL.
 *
 * @group Errors
 */
export type IdentifierErrorReason = "empty" | "too_long" | "field_count" | "empty_field" | "bad_encoding" | "control_character";

/**
 * An identifier that is not `hostId,profileId[,caName[,challenge]]` with
 * percent-encoded fields (PROXY.md "The URL and the identifier"). The
 * message is fixed per reason and never holds the input; the handler answers
 * every reason with HTTP 400 `invalid identifier`.
 *
 * @example
 * ```ts
 * import { IdentifierError, parseIdentifier } from "@scep/proxy";
 *
 * try { parseIdentifier("host-1,") }
 * catch (e) { if (e instanceof IdentifierError) console.log(e.code, e.reason) } // ERR_PROXY_IDENTIFIER empty_field
 * ```
 *
 * @group Errors
 */
export class IdentifierError extends ProxyError {
  static override readonly code: ProxyErrorCode = "ERR_PROXY_IDENTIFIER";
  /** Why the identifier was refused. */
  readonly reason: IdentifierErrorReason;

  constructor(reason: IdentifierErrorReason, options: ProxyErrorOptions = {}) {
    super(`invalid identifier: ${IDENTIFIER_MESSAGES[reason]}`, options);
    this.reason = reason;
  }
}

const IDENTIFIER_MESSAGES: Record<IdentifierErrorReason, string> = {
  empty: "empty",
  too_long: "too long",
  field_count: "expected 2 to 4 comma-separated fields",
  empty_field: "a required field is empty",
  bad_encoding: "bad percent-encoding or not UTF-8",
  control_character: "a field holds a control character",
};

/**
 * Why a call to an upstream SCEP server failed ({@link UpstreamError.reason}),
 * as the proxy's event hook reports it (PROXY.md "Forwarding"):
 * - `timeout`: no complete answer within the upstream timeout (the proxy answers 504);
 * - `http`: the upstream answered a non-2xx status ({@link UpstreamError.status} holds it);
 * - `connection_refused`: the upstream refused the connection (`ECONNREFUSED`);
 * - `dns`: the upstream's host name did not resolve;
 * - `tls`: the TLS handshake failed before any request was sent (the upstream's
 *   certificate not trusted, expired or for another name; no common protocol
 *   version or cipher; a plain HTTP server on the HTTPS port);
 * - `other`: anything else: a connection reset, an unreachable host or network
 *   (`EHOSTUNREACH`, `ENETUNREACH`, `EHOSTDOWN`, `ENETDOWN`, `EADDRNOTAVAIL`:
 *   kept under `other` rather than a new member, so a `switch` over this union
 *   stays exhaustive), a TLS failure after the handshake, a response over the
 *   size limit, an unexpected content type, the caller's `AbortSignal`.
 *
 * Whether the request provably never went out is {@link UpstreamError.beforeRequest},
 * not a reason: a connect timeout is `timeout` and an unreachable host `other`,
 * and both have it.
 *
 * @group Errors
 */
export type UpstreamFailureReason = "timeout" | "http" | "connection_refused" | "dns" | "tls" | "other";

/**
 * A call to an upstream SCEP server failed. The message names the reason and
 * the HTTP status, never the upstream's URL or credentials (it may reach a
 * log line of the MDM); `cause` holds the underlying `fetch` error.
 * {@link UpstreamError.beforeRequest} says the failure came before any byte of
 * the request was sent, which lets the proxy give a `custom` CA's one-time
 * challenge back.
 *
 * @example
 * ```ts
 * import { UpstreamError, type Upstream } from "@scep/proxy";
 *
 * declare const upstream: Upstream;
 * try { await upstream.getCACaps({ name: "ndes", type: "ndes", url: "https://ndes.example.com/certsrv/mscep/mscep.dll" }) }
 * catch (e) { if (e instanceof UpstreamError) console.log(e.reason, e.status, e.beforeRequest) } // e.g. "http" 503 false
 * ```
 *
 * @group Errors
 */
export class UpstreamError extends ProxyError {
  static override readonly code: ProxyErrorCode = "ERR_PROXY_UPSTREAM";
  /** Why the call failed. */
  readonly reason: UpstreamFailureReason;
  /** The upstream's HTTP status, for reason `http`. */
  readonly status?: number;
  /**
   * For reason `http` with status 503 or 429: the upstream's `Retry-After`, in whole seconds from now (RFC 9110
   * §10.2.3: delta-seconds, or an HTTP-date converted), when it sent a usable one. The proxy passes it on rounded up
   * to whole seconds and clamped to 1–3600; a value that is no number (NaN, from an `Upstream` of one's own) counts
   * as none (30 s).
   */
  readonly retryAfterSeconds?: number;
  /**
   * True when the call provably failed before any byte of the request went out, so the CA cannot have processed it:
   * the connection was never established (refused; the host name did not resolve; the host or network unreachable;
   * undici's connect timeout, `UND_ERR_CONNECT_TIMEOUT`; any socket error of the `connect` system call), its TLS
   * handshake failed, or the call stopped before sending (an invalid CA URL, a message over `maxRequestBytes`, and
   * for `pkiOperation` the GetCACaps asked first to choose POST or GET failing in any way: the PKIOperation was never
   * sent). A connection to a redirect's target counts as the CA's: the server that answered the redirect processed
   * nothing. Not after a timeout waiting for the answer, a reset, an HTTP status: those may come after the CA got the
   * request. The proxy gives a `custom` CA's one-time challenge back for such a failure (as for an HTTP 503 or 429).
   *
   * Defaults to true for reasons `connection_refused`, `dns` and `tls` (an `Upstream` uses them only when nothing was
   * sent), false otherwise; an `Upstream` of your own sets it with the constructor's `beforeRequest` option.
   */
  readonly beforeRequest: boolean;

  constructor(reason: UpstreamFailureReason, message: string, options: ProxyErrorOptions & { status?: number; retryAfterSeconds?: number; beforeRequest?: boolean } = {}) {
    super(message, options);
    this.reason = reason;
    if (options.status !== undefined) this.status = options.status;
    if (options.retryAfterSeconds !== undefined) this.retryAfterSeconds = options.retryAfterSeconds;
    this.beforeRequest = options.beforeRequest ?? (reason === "connection_refused" || reason === "dns" || reason === "tls");
  }
}

/**
 * A {@link ChallengeSource} could not fetch a challenge (NDES admin page,
 * Smallstep webhook). Challenge sources throw this class or a subclass with a
 * more precise code (`ERR_PROXY_NDES_CACHE_FULL`, `ERR_PROXY_NDES_PERMISSION`…;
 * see {@link NdesChallengeSource} and {@link SmallstepChallengeSource});
 * `retryable` says whether to back off and retry. The message never holds a
 * password, a challenge, an NTLM token or a page's text.
 *
 * @example
 * ```ts
 * import { ChallengeSourceError, type ChallengeSource, type CaConfig } from "@scep/proxy";
 *
 * declare const source: ChallengeSource;
 * declare const ca: CaConfig;
 * try { await source.fetchChallenge(ca) }
 * catch (e) { if (e instanceof ChallengeSourceError) console.log(e.code, e.retryable, e.message) }
 * ```
 *
 * @group Errors
 */
export class ChallengeSourceError extends ProxyError {
  static override readonly code: ProxyErrorCode = "ERR_PROXY_CHALLENGE_SOURCE";
  /** Whether errors of this class are worth retrying later (default false). */
  static readonly retryable: boolean = false;
  /**
   * Whether the same fetch may succeed later without anyone changing the
   * configuration (NDES cache full, timeouts, connection failures, HTTP 5xx
   * and 429): back off and retry instead of marking the profile failed.
   */
  readonly retryable: boolean;

  constructor(message: string, options: ProxyErrorOptions = {}) {
    super(message, options);
    this.retryable = (new.target as typeof ChallengeSourceError).retryable;
  }
}

/**
 * True for any error thrown by `@scep/proxy`, also across duplicate copies of
 * the package (checks the shape, not only `instanceof`).
 *
 * @example
 * ```ts
 * import { isProxyError, buildIdentifier } from "@scep/proxy";
 *
 * try { buildIdentifier({ hostId: "", profileId: "wifi" }) }
 * catch (e) { if (isProxyError(e)) console.log(e.code) } // "ERR_PROXY_IDENTIFIER"
 * ```
 *
 * @group Errors
 */
export function isProxyError(value: unknown): value is ProxyError {
  if (value instanceof ProxyError) return true;
  return isScepError(value) && typeof (value as { code: unknown }).code === "string" && (value as { code: string }).code.startsWith("ERR_PROXY");
}
