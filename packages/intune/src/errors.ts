/**
 * Typed errors of @scep/intune. Validators never throw for a bad challenge
 * (that is a verdict with a reason label); these errors are for
 * configuration mistakes, trust-anchor bundles and the Intune API client. An
 * unavailable store is @scep/core's `StoreUnavailableError`
 * (`ERR_STORE_UNAVAILABLE`), which a server answers with 503.
 *
 * @module
 */
import type { FailInfo } from "@scep/core";

/**
 * Stable codes of every {@link IntuneError}.
 *
 * @group Errors
 */
export type IntuneErrorCode =
  | "ERR_INTUNE"
  | "ERR_INTUNE_CONFIG"
  | "ERR_TRUST_ANCHORS"
  | "ERR_INTUNE_AUTH"
  | "ERR_INTUNE_DISCOVERY"
  | "ERR_INTUNE_TRANSPORT"
  | "ERR_INTUNE_TIMEOUT"
  | "ERR_INTUNE_RESPONSE"
  | "ERR_INTUNE_REJECTED";

/**
 * Options of every {@link IntuneError} constructor.
 *
 * @group Errors
 */
export interface IntuneErrorOptions {
  /** The underlying error. */
  cause?: unknown;
}

/**
 * Base class of every error thrown by `@scep/intune`.
 *
 * @example
 * ```ts
 * try { await TrustAnchorPool.fromFile("/etc/scep/intune-anchors.pem") }
 * catch (e) { if (isIntuneError(e)) console.error(e.code, e.message) }
 * ```
 *
 * @group Errors
 */
export class IntuneError extends Error {
  /** Stable error code. */
  static readonly code: IntuneErrorCode = "ERR_INTUNE";
  /** Default failInfo of this class. */
  static readonly failInfo: FailInfo = "badRequest";
  /** Stable error code. */
  readonly code: IntuneErrorCode;
  /** SCEP failInfo a server answers with when this error ends an enrollment (RFC 8894 §3.2.1.4.5). */
  readonly failInfo: FailInfo;

  constructor(message: string, options: IntuneErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = (new.target as typeof IntuneError).code;
    this.failInfo = (new.target as typeof IntuneError).failInfo;
  }
}

/**
 * An option is missing or invalid (for example a replay TTL of 0, or a rate limit of 0 per window).
 *
 * @group Errors
 */
export class IntuneConfigError extends IntuneError {
  static override readonly code: IntuneErrorCode = "ERR_INTUNE_CONFIG";
}

/**
 * A trust-anchor bundle was refused: empty, an unparsable certificate, an
 * expired one, or a key the signed-token validator cannot use (RSA under 2048
 * bits, EC other than P-256). The whole bundle is refused; a reload keeps the
 * previous pool.
 *
 * @group Errors
 */
export class TrustAnchorError extends IntuneError {
  static override readonly code: IntuneErrorCode = "ERR_TRUST_ANCHORS";
}

/**
 * Entra ID refused or failed the client-credentials token request.
 *
 * @group Errors
 */
export class IntuneAuthError extends IntuneError {
  static override readonly code: IntuneErrorCode = "ERR_INTUNE_AUTH";
}

/**
 * Graph endpoint discovery failed or did not list the Intune service.
 *
 * @group Errors
 */
export class IntuneDiscoveryError extends IntuneError {
  static override readonly code: IntuneErrorCode = "ERR_INTUNE_DISCOVERY";
}

/**
 * A call to Entra ID, Graph or Intune failed at the transport level or with a non-2xx HTTP status.
 *
 * @group Errors
 */
export class IntuneTransportError extends IntuneError {
  static override readonly code: IntuneErrorCode = "ERR_INTUNE_TRANSPORT";
  /** HTTP status, when a response was received. */
  readonly status?: number;
  /**
   * The answer's `Retry-After` (RFC 9110 §10.2.3), in whole **seconds** from when it arrived, on an HTTP 429 or 503
   * that carried a readable one (delay-seconds, or an HTTP-date counted from the answer's `Date` header; a date in the
   * past is 0; capped at 86,400). Undefined otherwise. The clients wait this long before their next attempt when it
   * fits in `timeoutMs`; when it does not, they throw this error at once, so a caller (a SCEP server answering 503)
   * can pass the value on as its own `Retry-After`.
   */
  readonly retryAfterSeconds?: number;

  constructor(message: string, options: IntuneErrorOptions & { status?: number; retryAfterSeconds?: number } = {}) {
    super(message, options);
    if (options.status !== undefined) this.status = options.status;
    if (options.retryAfterSeconds !== undefined) this.retryAfterSeconds = options.retryAfterSeconds;
  }
}

/**
 * A call to Entra ID, Graph or Intune did not answer within its timeout.
 *
 * @group Errors
 */
export class IntuneTimeoutError extends IntuneError {
  static override readonly code: IntuneErrorCode = "ERR_INTUNE_TIMEOUT";
}

/**
 * An answer that is not what the API documents (not JSON, missing `code`, wrong types).
 *
 * @group Errors
 */
export class IntuneResponseError extends IntuneError {
  static override readonly code: IntuneErrorCode = "ERR_INTUNE_RESPONSE";
}

/**
 * Intune answered a call with a `code` other than `Success` (a
 * successNotification or failureNotification it did not accept, or a
 * validateRequest refusal when called through {@link IntuneScepClient} directly).
 *
 * @group Errors
 */
export class IntuneRejectedError extends IntuneError {
  static override readonly code: IntuneErrorCode = "ERR_INTUNE_REJECTED";
  /** The `code` Intune answered (e.g. `ChallengeExpired`). */
  readonly intuneCode: string;
  /** Intune's `errorDescription`, as received. */
  readonly errorDescription: string;

  constructor(message: string, options: IntuneErrorOptions & { intuneCode: string; errorDescription?: string }) {
    super(message, options);
    this.intuneCode = options.intuneCode;
    this.errorDescription = options.errorDescription ?? "";
  }
}

/**
 * True for any error thrown by `@scep/intune`, even across duplicate copies of
 * the package (checks the shape, not only `instanceof`).
 *
 * @example
 * ```ts
 * declare const pool: TrustAnchorPool;
 * try {
 *   await pool.reload();
 * } catch (e) {
 *   if (isIntuneError(e) && e.code === "ERR_TRUST_ANCHORS") console.error("kept the old trust anchors:", e.message);
 * }
 * ```
 *
 * @group Errors
 */
export function isIntuneError(value: unknown): value is IntuneError {
  if (value instanceof IntuneError) return true;
  if (!(value instanceof Error)) return false;
  const v = value as Partial<IntuneError>;
  return typeof v.code === "string" && /^ERR_(INTUNE|TRUST_ANCHORS)/.test(v.code) && typeof v.failInfo === "string";
}
