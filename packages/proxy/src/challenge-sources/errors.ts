/**
 * Typed errors of the challenge sources (NDES admin page, Smallstep webhook)
 * and of the NTLM client: subclasses of {@link ChallengeSourceError}, each
 * with its own `ERR_PROXY_*` code and `retryable`. Every message is one line
 * and never holds a password, a challenge, a page's text or a header value:
 * only status codes, byte counts and fixed reasons.
 *
 * @module
 */
import { ChallengeSourceError, type ProxyErrorCode, type ProxyErrorOptions } from "../errors.js";

/**
 * Why a connection failed, for {@link NdesTransportError} and
 * {@link SmallstepTransportError}, from the error's code (on it or its
 * `cause` chain): `ECONNREFUSED`; `ECONNRESET`/`EPIPE`/`UND_ERR_SOCKET`;
 * `ENOTFOUND`/`EAI_AGAIN`/`EAI_NONAME`/`EAI_FAIL`; `ERR_TLS_*`/`ERR_SSL_*`/certificate codes. Not the
 * upstream's {@link UpstreamFailureReason} labels (`connection_refused`, `dns`…).
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
 * The {@link CaConfig} lacks the settings of its source (`ndes` for an NDES CA,
 * `smallstep` for a Smallstep CA), has a malformed URL, or is of a type the
 * source does not serve.
 *
 * @example
 * ```ts
 * import { NdesChallengeSource } from "@scep/proxy";
 *
 * // rejects with ERR_PROXY_CHALLENGE_SOURCE_CONFIG: a custom CA has no NDES admin page
 * await new NdesChallengeSource().fetchChallenge({ name: "corp", type: "custom", url: "https://ca.example/scep" }).catch((e) => console.log(e.code));
 * ```
 * @group Errors
 */
export class ChallengeSourceConfigError extends ChallengeSourceError {
  static override readonly code: ProxyErrorCode = "ERR_PROXY_CHALLENGE_SOURCE_CONFIG";
}

/**
 * The server's NTLM CHALLENGE message (MS-NLMP §2.2.1.2) is malformed: wrong
 * signature or type, a field or AV pair outside the message.
 *
 * @example
 * ```ts
 * import { NtlmMessageError, decodeChallengeMessage } from "@scep/proxy";
 *
 * try { decodeChallengeMessage(new Uint8Array(16)) }
 * catch (e) { if (e instanceof NtlmMessageError) console.log(e.code) } // "ERR_PROXY_NTLM_MESSAGE"
 * ```
 * @group Errors
 */
export class NtlmMessageError extends ChallengeSourceError {
  static override readonly code: ProxyErrorCode = "ERR_PROXY_NTLM_MESSAGE";
}

/**
 * NDES answered "The password cache is full": it already holds its maximum of
 * unused challenges (5 by default, each kept 60 minutes). Retryable: back off
 * and fetch again later (or raise NDES's `PasswordMax`), do not mark the
 * device failed.
 *
 * @example
 * ```ts
 * import { NdesChallengeSource, NdesPasswordCacheFullError, type CaConfig } from "@scep/proxy";
 *
 * declare const ndesCa: CaConfig;
 * try { await new NdesChallengeSource().fetchChallenge(ndesCa) }
 * catch (e) { if (e instanceof NdesPasswordCacheFullError) console.log("NDES cache full: retry in a few minutes") }
 * ```
 * @group Errors
 */
export class NdesPasswordCacheFullError extends ChallengeSourceError {
  static override readonly code: ProxyErrorCode = "ERR_PROXY_NDES_CACHE_FULL";
  static override readonly retryable: boolean = true;
}

/**
 * NDES answered "You do not have sufficient permission to enroll with SCEP":
 * the account authenticated but lacks Enroll on the NDES certificate
 * templates (or is not a member of the NDES administrators' group).
 *
 * @example
 * ```ts
 * import { NdesPermissionError, parseNdesAdminPage } from "@scep/proxy";
 *
 * const page = new TextEncoder().encode("<P> You do not have sufficient permission to enroll with SCEP. </P>");
 * try { parseNdesAdminPage(page) } catch (e) { console.log(e instanceof NdesPermissionError) } // true
 * ```
 * @group Errors
 */
export class NdesPermissionError extends ChallengeSourceError {
  static override readonly code: ProxyErrorCode = "ERR_PROXY_NDES_PERMISSION";
}

/**
 * The admin page refused the credentials: HTTP 401 after a complete NTLM
 * handshake, or to a Basic `Authorization`.
 *
 * @example
 * ```ts
 * import { NdesAuthError, NdesChallengeSource, type CaConfig } from "@scep/proxy";
 *
 * declare const ndesCa: CaConfig;
 * try { await new NdesChallengeSource().fetchChallenge(ndesCa) }
 * catch (e) { if (e instanceof NdesAuthError) console.log("fix the NDES service account's password") }
 * ```
 * @group Errors
 */
export class NdesAuthError extends ChallengeSourceError {
  static override readonly code: ProxyErrorCode = "ERR_PROXY_NDES_AUTH";
}

/**
 * The admin page asked for authentication this client cannot give: no NTLM,
 * Negotiate or Basic challenge, or Basic only over plain HTTP while
 * `allowBasicOverHttp` is off (the password would cross the network in clear).
 *
 * @example
 * ```ts
 * import { NdesChallengeSource } from "@scep/proxy";
 *
 * // a Basic-only front end over plain http is refused unless allowed explicitly
 * const ndes = new NdesChallengeSource({ allowBasicOverHttp: true });
 * ```
 * @group Errors
 */
export class NdesAuthSchemeError extends ChallengeSourceError {
  static override readonly code: ProxyErrorCode = "ERR_PROXY_NDES_AUTH_SCHEME";
}

/**
 * The admin page answered 200 with an empty body (or only whitespace).
 *
 * @example
 * ```ts
 * import { NdesEmptyPageError, parseNdesAdminPage } from "@scep/proxy";
 *
 * try { parseNdesAdminPage(new Uint8Array(0)) } catch (e) { console.log(e instanceof NdesEmptyPageError) } // true
 * ```
 * @group Errors
 */
export class NdesEmptyPageError extends ChallengeSourceError {
  static override readonly code: ProxyErrorCode = "ERR_PROXY_NDES_EMPTY";
}

/**
 * The admin page answered 200 with a page that holds no challenge and is
 * neither the cache-full nor the permission page (a login portal, a
 * localised NDES, a page larger than the limit…). The message gives its
 * length and encoding, never its text.
 *
 * @example
 * ```ts
 * import { NdesUnknownPageError, parseNdesAdminPage } from "@scep/proxy";
 *
 * try { parseNdesAdminPage(new TextEncoder().encode("<html><body>Sign in</body></html>")) }
 * catch (e) { if (e instanceof NdesUnknownPageError) console.log(e.message) } // "… (33 bytes, utf-8)"
 * ```
 * @group Errors
 */
export class NdesUnknownPageError extends ChallengeSourceError {
  static override readonly code: ProxyErrorCode = "ERR_PROXY_NDES_UNKNOWN_PAGE";
}

/**
 * The admin page answered with an HTTP status other than 200 and 401 (404 for
 * a wrong admin URL, 5xx…). Retryable for 5xx and 429.
 *
 * @example
 * ```ts
 * import { NdesChallengeSource, NdesHttpStatusError, type CaConfig } from "@scep/proxy";
 *
 * declare const ndesCa: CaConfig;
 * try { await new NdesChallengeSource().fetchChallenge(ndesCa) }
 * catch (e) { if (e instanceof NdesHttpStatusError && e.status === 404) console.log("check ndes.adminUrl") }
 * ```
 * @group Errors
 */
export class NdesHttpStatusError extends ChallengeSourceError {
  static override readonly code: ProxyErrorCode = "ERR_PROXY_NDES_HTTP_STATUS";
  /** The HTTP status received. */
  readonly status: number;
  override readonly retryable: boolean;

  constructor(message: string, status: number, options: ProxyErrorOptions = {}) {
    super(message, options);
    this.status = status;
    this.retryable = status >= 500 || status === 429;
  }
}

/**
 * The admin page did not answer within the timeout (whole exchange, handshake
 * included). Retryable.
 *
 * @example
 * ```ts
 * import { NdesChallengeSource } from "@scep/proxy";
 *
 * // NdesTimeoutError (ERR_PROXY_NDES_TIMEOUT) after 10 s instead of the default 30 s
 * const ndes = new NdesChallengeSource({ timeoutMs: 10_000 });
 * ```
 * @group Errors
 */
export class NdesTimeoutError extends ChallengeSourceError {
  static override readonly code: ProxyErrorCode = "ERR_PROXY_NDES_TIMEOUT";
  static override readonly retryable: boolean = true;
}

/**
 * The connection to the admin page failed ({@link TransportFailure}). Retryable.
 *
 * @example
 * ```ts
 * import { NdesChallengeSource, NdesTransportError, type CaConfig } from "@scep/proxy";
 *
 * declare const ndesCa: CaConfig;
 * try { await new NdesChallengeSource().fetchChallenge(ndesCa) }
 * catch (e) { if (e instanceof NdesTransportError) console.log(e.reason) } // e.g. "connection refused"
 * ```
 * @group Errors
 */
export class NdesTransportError extends ChallengeSourceError {
  static override readonly code: ProxyErrorCode = "ERR_PROXY_NDES_TRANSPORT";
  static override readonly retryable: boolean = true;
  /** What failed. */
  readonly reason: TransportFailure;

  constructor(message: string, reason: TransportFailure, options: ProxyErrorOptions = {}) {
    super(message, options);
    this.reason = reason;
  }
}

/**
 * The Smallstep challenge webhook refused the Basic credentials (HTTP 401 or 403).
 *
 * @example
 * ```ts
 * import { SmallstepAuthError, SmallstepChallengeSource, type CaConfig } from "@scep/proxy";
 *
 * declare const smallstepCa: CaConfig;
 * try { await new SmallstepChallengeSource().fetchChallenge(smallstepCa) }
 * catch (e) { if (e instanceof SmallstepAuthError) console.log("fix the webhook credentials") }
 * ```
 * @group Errors
 */
export class SmallstepAuthError extends ChallengeSourceError {
  static override readonly code: ProxyErrorCode = "ERR_PROXY_SMALLSTEP_AUTH";
}

/**
 * The Smallstep challenge webhook answered with a status other than 200, 401
 * and 403. Retryable for 5xx and 429.
 *
 * @example
 * ```ts
 * import { SmallstepChallengeSource, SmallstepHttpStatusError, type CaConfig } from "@scep/proxy";
 *
 * declare const smallstepCa: CaConfig;
 * try { await new SmallstepChallengeSource().fetchChallenge(smallstepCa) }
 * catch (e) { if (e instanceof SmallstepHttpStatusError) console.log(e.status, e.retryable) }
 * ```
 * @group Errors
 */
export class SmallstepHttpStatusError extends ChallengeSourceError {
  static override readonly code: ProxyErrorCode = "ERR_PROXY_SMALLSTEP_HTTP_STATUS";
  /** The HTTP status received. */
  readonly status: number;
  override readonly retryable: boolean;

  constructor(message: string, status: number, options: ProxyErrorOptions = {}) {
    super(message, options);
    this.status = status;
    this.retryable = status >= 500 || status === 429;
  }
}

/**
 * The Smallstep challenge webhook answered 200 with an empty body.
 *
 * @example
 * ```ts
 * import { SmallstepChallengeSource, SmallstepEmptyError, type CaConfig } from "@scep/proxy";
 *
 * declare const smallstepCa: CaConfig;
 * await new SmallstepChallengeSource().fetchChallenge(smallstepCa).catch((e) => console.log(e instanceof SmallstepEmptyError));
 * ```
 * @group Errors
 */
export class SmallstepEmptyError extends ChallengeSourceError {
  static override readonly code: ProxyErrorCode = "ERR_PROXY_SMALLSTEP_EMPTY";
}

/**
 * The Smallstep challenge webhook answered 200 with a body that cannot be a
 * challengePassword: longer than 255 characters (PKCS#9
 * `ub-challenge-password`), not UTF-8, holding control characters, or an
 * HTML page (an access gateway's login page in front of the webhook).
 *
 * @example
 * ```ts
 * import { SmallstepChallengeSource } from "@scep/proxy";
 *
 * // a body over 4 KiB is refused with ERR_PROXY_SMALLSTEP_INVALID without reading further
 * const smallstep = new SmallstepChallengeSource({ maxBodyBytes: 4096 });
 * ```
 * @group Errors
 */
export class SmallstepInvalidChallengeError extends ChallengeSourceError {
  static override readonly code: ProxyErrorCode = "ERR_PROXY_SMALLSTEP_INVALID";
}

/**
 * The Smallstep challenge webhook did not answer within the timeout. Retryable.
 *
 * @example
 * ```ts
 * import { SmallstepChallengeSource } from "@scep/proxy";
 *
 * // SmallstepTimeoutError (ERR_PROXY_SMALLSTEP_TIMEOUT) after 5 s
 * const smallstep = new SmallstepChallengeSource({ timeoutMs: 5_000 });
 * ```
 * @group Errors
 */
export class SmallstepTimeoutError extends ChallengeSourceError {
  static override readonly code: ProxyErrorCode = "ERR_PROXY_SMALLSTEP_TIMEOUT";
  static override readonly retryable: boolean = true;
}

/**
 * The connection to the Smallstep challenge webhook failed ({@link TransportFailure}). Retryable.
 *
 * @example
 * ```ts
 * import { SmallstepChallengeSource, SmallstepTransportError, type CaConfig } from "@scep/proxy";
 *
 * declare const smallstepCa: CaConfig;
 * await new SmallstepChallengeSource().fetchChallenge(smallstepCa).catch((e) => {
 *   if (e instanceof SmallstepTransportError) console.log(e.reason); // "DNS", "TLS"…
 * });
 * ```
 * @group Errors
 */
export class SmallstepTransportError extends ChallengeSourceError {
  static override readonly code: ProxyErrorCode = "ERR_PROXY_SMALLSTEP_TRANSPORT";
  static override readonly retryable: boolean = true;
  /** What failed. */
  readonly reason: TransportFailure;

  constructor(message: string, reason: TransportFailure, options: ProxyErrorOptions = {}) {
    super(message, options);
    this.reason = reason;
  }
}
