/**
 * Typed errors of the challenge sources (NDES admin page, Smallstep webhook)
 * and of the NTLM client. Every message is one line and never holds a
 * password, a challenge, a page's text or a header value: only status codes,
 * byte counts and fixed reasons.
 *
 * @module
 */

/**
 * Stable codes of every {@link ChallengeSourceError}.
 *
 * @group Errors
 */
export type ChallengeSourceErrorCode =
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
 * Why a connection failed, for {@link NdesTransportError} and
 * {@link SmallstepTransportError}: the same labels the proxy's upstream
 * events use.
 *
 * @group Errors
 */
export type TransportFailure = "connection refused" | "connection reset" | "DNS" | "TLS" | "other";

/** One-line wording of each {@link TransportFailure}, for error messages. */
export const TRANSPORT_FAILURE_TEXT: Readonly<Record<TransportFailure, string>> = {
  "connection refused": "connection refused",
  "connection reset": "connection reset",
  DNS: "host name did not resolve (DNS)",
  TLS: "TLS handshake or certificate check failed",
  other: "connection failed",
};

/**
 * Options of every {@link ChallengeSourceError} constructor.
 *
 * @group Errors
 */
export interface ChallengeSourceErrorOptions {
  /** The underlying error (a socket error, never one carrying a secret). */
  cause?: unknown;
}

/**
 * Base class of the errors a {@link ChallengeSource} throws. `retryable` says
 * whether the same fetch may succeed later without anyone changing the
 * configuration (NDES cache full, timeouts, connection failures, HTTP 5xx and
 * 429): an MDM backs off and retries those instead of marking the profile
 * failed.
 *
 * @example
 * ```ts
 * import { NdesChallengeSource, isChallengeSourceError } from "@scep/proxy";
 *
 * const ndes = new NdesChallengeSource();
 * try {
 *   const { challenge } = await ndes.fetchChallenge({
 *     name: "corp-ndes", type: "ndes", url: "https://ndes.corp.example/certsrv/mscep/mscep.dll",
 *     ndes: { adminUrl: "https://ndes.corp.example/certsrv/mscep_admin/", username: "CORP\\svc-ndes", password: "…" },
 *   });
 *   console.log(challenge.length);
 * } catch (e) {
 *   if (isChallengeSourceError(e) && e.retryable) console.log("retry later:", e.code);
 *   else throw e;
 * }
 * ```
 * @group Errors
 */
export class ChallengeSourceError extends Error {
  /** Stable error code. */
  static readonly code: ChallengeSourceErrorCode = "ERR_PROXY_CHALLENGE_SOURCE_CONFIG";
  /** Whether errors of this class are worth retrying later. */
  static readonly retryable: boolean = false;
  /** Stable error code. */
  readonly code: ChallengeSourceErrorCode;
  /** Whether the same fetch may succeed later without a configuration change. */
  readonly retryable: boolean;

  constructor(message: string, options: ChallengeSourceErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = (new.target as typeof ChallengeSourceError).code;
    this.retryable = (new.target as typeof ChallengeSourceError).retryable;
  }
}

/**
 * The {@link CaConfig} lacks the settings of its source (`ndes` for an NDES CA,
 * `smallstep` for a Smallstep CA), has a malformed URL, or is of a type the
 * source does not serve.
 *
 * @group Errors
 */
export class ChallengeSourceConfigError extends ChallengeSourceError {
  static override readonly code: ChallengeSourceErrorCode = "ERR_PROXY_CHALLENGE_SOURCE_CONFIG";
}

/**
 * The server's NTLM CHALLENGE message (MS-NLMP §2.2.1.2) is malformed: wrong
 * signature or type, a field or AV pair outside the message.
 *
 * @group Errors
 */
export class NtlmMessageError extends ChallengeSourceError {
  static override readonly code: ChallengeSourceErrorCode = "ERR_PROXY_NTLM_MESSAGE";
}

/**
 * NDES answered "The password cache is full": it already holds its maximum of
 * unused challenges (5 by default, each kept 60 minutes). Retryable: back off
 * and fetch again later (or raise NDES's `PasswordMax`), do not mark the
 * device failed.
 *
 * @group Errors
 */
export class NdesPasswordCacheFullError extends ChallengeSourceError {
  static override readonly code: ChallengeSourceErrorCode = "ERR_PROXY_NDES_CACHE_FULL";
  static override readonly retryable: boolean = true;
}

/**
 * NDES answered "You do not have sufficient permission to enroll with SCEP":
 * the account authenticated but lacks Enroll on the NDES certificate
 * templates (or is not a member of the NDES administrators' group).
 *
 * @group Errors
 */
export class NdesPermissionError extends ChallengeSourceError {
  static override readonly code: ChallengeSourceErrorCode = "ERR_PROXY_NDES_PERMISSION";
}

/**
 * The admin page refused the credentials: HTTP 401 after a complete NTLM
 * handshake, or to a Basic `Authorization`.
 *
 * @group Errors
 */
export class NdesAuthError extends ChallengeSourceError {
  static override readonly code: ChallengeSourceErrorCode = "ERR_PROXY_NDES_AUTH";
}

/**
 * The admin page asked for authentication this client cannot give: no NTLM,
 * Negotiate or Basic challenge, or Basic only over plain HTTP while
 * `allowBasicOverHttp` is off (the password would cross the network in clear).
 *
 * @group Errors
 */
export class NdesAuthSchemeError extends ChallengeSourceError {
  static override readonly code: ChallengeSourceErrorCode = "ERR_PROXY_NDES_AUTH_SCHEME";
}

/**
 * The admin page answered 200 with an empty body (or only whitespace).
 *
 * @group Errors
 */
export class NdesEmptyPageError extends ChallengeSourceError {
  static override readonly code: ChallengeSourceErrorCode = "ERR_PROXY_NDES_EMPTY";
}

/**
 * The admin page answered 200 with a page that holds no challenge and is
 * neither the cache-full nor the permission page (a login portal, a
 * localised NDES, a page larger than the limit…). The message gives its
 * length and encoding, never its text.
 *
 * @group Errors
 */
export class NdesUnknownPageError extends ChallengeSourceError {
  static override readonly code: ChallengeSourceErrorCode = "ERR_PROXY_NDES_UNKNOWN_PAGE";
}

/**
 * The admin page answered with an HTTP status other than 200 and 401 (404 for
 * a wrong admin URL, 5xx…). Retryable for 5xx and 429.
 *
 * @group Errors
 */
export class NdesHttpStatusError extends ChallengeSourceError {
  static override readonly code: ChallengeSourceErrorCode = "ERR_PROXY_NDES_HTTP_STATUS";
  /** The HTTP status received. */
  readonly status: number;
  override readonly retryable: boolean;

  constructor(message: string, status: number, options: ChallengeSourceErrorOptions = {}) {
    super(message, options);
    this.status = status;
    this.retryable = status >= 500 || status === 429;
  }
}

/**
 * The admin page did not answer within the timeout (whole exchange, handshake
 * included). Retryable.
 *
 * @group Errors
 */
export class NdesTimeoutError extends ChallengeSourceError {
  static override readonly code: ChallengeSourceErrorCode = "ERR_PROXY_NDES_TIMEOUT";
  static override readonly retryable: boolean = true;
}

/**
 * The connection to the admin page failed ({@link TransportFailure}). Retryable.
 *
 * @group Errors
 */
export class NdesTransportError extends ChallengeSourceError {
  static override readonly code: ChallengeSourceErrorCode = "ERR_PROXY_NDES_TRANSPORT";
  static override readonly retryable: boolean = true;
  /** What failed. */
  readonly reason: TransportFailure;

  constructor(message: string, reason: TransportFailure, options: ChallengeSourceErrorOptions = {}) {
    super(message, options);
    this.reason = reason;
  }
}

/**
 * The Smallstep challenge webhook refused the Basic credentials (HTTP 401 or 403).
 *
 * @group Errors
 */
export class SmallstepAuthError extends ChallengeSourceError {
  static override readonly code: ChallengeSourceErrorCode = "ERR_PROXY_SMALLSTEP_AUTH";
}

/**
 * The Smallstep challenge webhook answered with a status other than 200, 401
 * and 403. Retryable for 5xx and 429.
 *
 * @group Errors
 */
export class SmallstepHttpStatusError extends ChallengeSourceError {
  static override readonly code: ChallengeSourceErrorCode = "ERR_PROXY_SMALLSTEP_HTTP_STATUS";
  /** The HTTP status received. */
  readonly status: number;
  override readonly retryable: boolean;

  constructor(message: string, status: number, options: ChallengeSourceErrorOptions = {}) {
    super(message, options);
    this.status = status;
    this.retryable = status >= 500 || status === 429;
  }
}

/**
 * The Smallstep challenge webhook answered 200 with an empty body.
 *
 * @group Errors
 */
export class SmallstepEmptyError extends ChallengeSourceError {
  static override readonly code: ChallengeSourceErrorCode = "ERR_PROXY_SMALLSTEP_EMPTY";
}

/**
 * The Smallstep challenge webhook answered 200 with a body that cannot be a
 * challengePassword: longer than 255 characters (PKCS#9
 * `ub-challenge-password`), not UTF-8, or holding control characters.
 *
 * @group Errors
 */
export class SmallstepInvalidChallengeError extends ChallengeSourceError {
  static override readonly code: ChallengeSourceErrorCode = "ERR_PROXY_SMALLSTEP_INVALID";
}

/**
 * The Smallstep challenge webhook did not answer within the timeout. Retryable.
 *
 * @group Errors
 */
export class SmallstepTimeoutError extends ChallengeSourceError {
  static override readonly code: ChallengeSourceErrorCode = "ERR_PROXY_SMALLSTEP_TIMEOUT";
  static override readonly retryable: boolean = true;
}

/**
 * The connection to the Smallstep challenge webhook failed ({@link TransportFailure}). Retryable.
 *
 * @group Errors
 */
export class SmallstepTransportError extends ChallengeSourceError {
  static override readonly code: ChallengeSourceErrorCode = "ERR_PROXY_SMALLSTEP_TRANSPORT";
  static override readonly retryable: boolean = true;
  /** What failed. */
  readonly reason: TransportFailure;

  constructor(message: string, reason: TransportFailure, options: ChallengeSourceErrorOptions = {}) {
    super(message, options);
    this.reason = reason;
  }
}

/**
 * True for any {@link ChallengeSourceError}, also across duplicate copies of
 * the package (checks the shape, not only `instanceof`).
 *
 * @example
 * ```ts
 * import { isChallengeSourceError } from "@scep/proxy";
 *
 * function backOff(e: unknown): boolean {
 *   return isChallengeSourceError(e) && e.code === "ERR_PROXY_NDES_CACHE_FULL";
 * }
 * ```
 * @group Errors
 */
export function isChallengeSourceError(value: unknown): value is ChallengeSourceError {
  if (value instanceof ChallengeSourceError) return true;
  if (!(value instanceof Error)) return false;
  const v = value as Partial<ChallengeSourceError>;
  return typeof v.code === "string" && v.code.startsWith("ERR_PROXY_") && typeof v.retryable === "boolean";
}
