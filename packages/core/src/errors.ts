/**
 * Typed errors. Every error the SDK throws is a {@link ScepError} with a stable
 * string `code`; protocol failures also carry the SCEP `failInfo` the server
 * answers with (RFC 8894 §3.2.1.4.5). Only the HTTP layer decides whether an
 * error becomes a FAILURE CertRep or an HTTP status.
 *
 * @module
 */

/** SCEP failInfo values (RFC 8894 §3.2.1.4.5). @group Errors */
export type FailInfo = "badAlg" | "badMessageCheck" | "badRequest" | "badTime" | "badCertId";

/** Stable codes of every {@link ScepError}. @group Errors */
export type ScepErrorCode =
  | "ERR_ASN1"
  | "ERR_MESSAGE_MALFORMED"
  | "ERR_UNSUPPORTED_ALGORITHM"
  | "ERR_ALGORITHM_NOT_ALLOWED"
  | "ERR_SIGNATURE_INVALID"
  | "ERR_DIGEST_MISMATCH"
  | "ERR_DECRYPT_FAILED"
  | "ERR_NO_RECIPIENT"
  | "ERR_CSR_INVALID"
  | "ERR_MESSAGE_TYPE"
  | "ERR_KEY"
  | "ERR_KEY_PASSPHRASE"
  | "ERR_KEY_UNAVAILABLE"
  | "ERR_CERTREP"
  | "ERR_TRANSPORT"
  | "ERR_CA_PIN_MISMATCH"
  | "ERR_INVALID_ARGUMENT"
  | "ERR_TRANSACTION_STATE"
  | "ERR_ISSUE_HOOK"
  | "ERR_STORE_UNAVAILABLE"
  | "ERR_WEBHOOK_TIMEOUT"
  | "ERR_WEBHOOK_TRANSPORT"
  | "ERR_WEBHOOK_RESPONSE"
  | "ERR_BODY_ALREADY_READ"
  | "ERR_CA_NOT_VALID"
  | "ERR_CRL_NUMBER_EXHAUSTED";

/** What a decoder learned about a request before it failed: enough to answer with a FAILURE CertRep. @group Errors */
export interface PartialRequest {
  /** messageType of the request, when read. */
  messageType?: number;
  /** transactionID, when read. */
  transactionId?: string;
  /** senderNonce, when read. */
  senderNonce?: Uint8Array;
  /** The digest algorithm the request was signed with. */
  digestAlgorithm?: string;
  /** Whether the request's signature was verified before the failure. */
  signatureVerified?: boolean;
}

/** Options of every {@link ScepError} constructor. @group Errors */
export interface ScepErrorOptions {
  /** The underlying error. */
  cause?: unknown;
  /** Overrides the class's default failInfo. */
  failInfo?: FailInfo;
  /** What was known about the request when decoding failed. */
  request?: PartialRequest;
}

/**
 * Base class of every error thrown by `@scep/*`.
 *
 * @example
 * ```ts
 * import { readFileSync } from "node:fs";
 * import { LocalKey, decodePkiMessage, isScepError } from "@scep/core";
 *
 * const ca = LocalKey.fromPem(readFileSync("ca.pem", "utf8"), readFileSync("ca.key", "utf8"));
 * const body = readFileSync("request.p7"); // a PKIOperation message (DER)
 * try { await decodePkiMessage(body, { decrypters: [ca] }) }
 * catch (e) { if (isScepError(e)) console.log(e.code, e.failInfo, e.message) }
 * ```
 * @group Errors
 */
export class ScepError extends Error {
  /** Stable error code. */
  static readonly code: ScepErrorCode = "ERR_MESSAGE_MALFORMED";
  /** Stable error code. */
  readonly code: ScepErrorCode;
  /** SCEP failInfo a server answers this error with. */
  readonly failInfo: FailInfo;
  /** What was known about the request when decoding failed. */
  request?: PartialRequest;

  constructor(message: string, options: ScepErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = (new.target as typeof ScepError).code;
    this.failInfo = options.failInfo ?? (new.target as unknown as { failInfo: FailInfo }).failInfo ?? "badRequest";
    if (options.request) this.request = options.request;
  }

  /** Default failInfo of this class. */
  static readonly failInfo: FailInfo = "badRequest";
}

/** Bytes that are not valid BER/DER, or a structure that does not match its ASN.1 definition. @group Errors */
export class Asn1Error extends ScepError {
  static override readonly code: ScepErrorCode = "ERR_ASN1";
  static override readonly failInfo: FailInfo = "badRequest";
}

/** A well-formed ASN.1 structure that is not a valid SCEP message (missing attribute, wrong content type…). @group Errors */
export class MessageMalformedError extends ScepError {
  static override readonly code: ScepErrorCode = "ERR_MESSAGE_MALFORMED";
  static override readonly failInfo: FailInfo = "badRequest";
}

/** An algorithm the SDK does not implement. @group Errors */
export class UnsupportedAlgorithmError extends ScepError {
  static override readonly code: ScepErrorCode = "ERR_UNSUPPORTED_ALGORITHM";
  static override readonly failInfo: FailInfo = "badAlg";
}

/** An algorithm the configured {@link AlgorithmPolicy} refuses (MD5 by default). @group Errors */
export class AlgorithmNotAllowedError extends ScepError {
  static override readonly code: ScepErrorCode = "ERR_ALGORITHM_NOT_ALLOWED";
  static override readonly failInfo: FailInfo = "badAlg";
}

/** A CMS or PKCS#10 signature that does not verify. @group Errors */
export class SignatureInvalidError extends ScepError {
  static override readonly code: ScepErrorCode = "ERR_SIGNATURE_INVALID";
  static override readonly failInfo: FailInfo = "badMessageCheck";
}

/** The messageDigest signed attribute does not match the content. @group Errors */
export class DigestMismatchError extends ScepError {
  static override readonly code: ScepErrorCode = "ERR_DIGEST_MISMATCH";
  static override readonly failInfo: FailInfo = "badMessageCheck";
}

/**
 * The envelope could not be opened. Deliberately one error for a wrong key, a
 * bad RSA padding, a bad CBC padding and content that is no CSR whose signature
 * verifies (no padding oracle; the content's own error is the `cause`).
 * @group Errors
 */
export class DecryptError extends ScepError {
  static override readonly code: ScepErrorCode = "ERR_DECRYPT_FAILED";
  static override readonly failInfo: FailInfo = "badMessageCheck";
}

/** No configured decryption key matches the envelope's RecipientInfos. @group Errors */
export class NoRecipientError extends ScepError {
  static override readonly code: ScepErrorCode = "ERR_NO_RECIPIENT";
  static override readonly failInfo: FailInfo = "badMessageCheck";
}

/** The PKCS#10 request inside the envelope is malformed or its self-signature fails. @group Errors */
export class CsrInvalidError extends ScepError {
  static override readonly code: ScepErrorCode = "ERR_CSR_INVALID";
  static override readonly failInfo: FailInfo = "badRequest";
}

/** A message type that is not valid where it was received. @group Errors */
export class MessageTypeError extends ScepError {
  static override readonly code: ScepErrorCode = "ERR_MESSAGE_TYPE";
  static override readonly failInfo: FailInfo = "badRequest";
}

/** A key or certificate that cannot be used (wrong type, mismatch, unreadable PEM). @group Errors */
export class KeyError extends ScepError {
  static override readonly code: ScepErrorCode = "ERR_KEY";
  static override readonly failInfo: FailInfo = "badRequest";
}

/**
 * An encrypted PEM private key (PKCS#8 `ENCRYPTED PRIVATE KEY` or legacy
 * `Proc-Type: 4,ENCRYPTED`) that could not be opened: no passphrase was given
 * and the empty one does not open it, or the given passphrase is wrong. The
 * message says which, never the passphrase.
 *
 * @example
 * ```ts
 * import { readFileSync } from "node:fs";
 * import { LocalKey, isScepError } from "@scep/core";
 *
 * // ca.key is an encrypted PKCS#8 key and no passphrase is given
 * try { LocalKey.fromPem(readFileSync("ca.pem", "utf8"), readFileSync("ca.key", "utf8")) }
 * catch (e) { if (isScepError(e) && e.code === "ERR_KEY_PASSPHRASE") console.error(`${e.message}: set CA_KEY_PASSPHRASE`) }
 * ```
 * @group Errors
 */
export class KeyPassphraseError extends KeyError {
  static override readonly code: ScepErrorCode = "ERR_KEY_PASSPHRASE";
}

/**
 * A private-key operation could not run, for a reason of the server's and not
 * of the request: the {@link KeyWorkerPool} thread running it exited or crashed
 * (the pool starts a new one for the next call), its queue is full, or the pool
 * is closed. A {@link Decrypter} or {@link Signer} backed by an HSM or a KMS
 * may throw it too when the backend is unreachable. The SCEP server answers it
 * with HTTP 503 and `Retry-After` (reason `key_unavailable`), never a FAILURE
 * CertRep: the request was not at fault and may be sent again.
 *
 * @example
 * ```ts
 * import { readFileSync } from "node:fs";
 * import { KeyWorkerPool, LocalKey, decodePkiMessage, isScepError } from "@scep/core";
 *
 * const ca = LocalKey.fromPem(readFileSync("ca.pem", "utf8"), readFileSync("ca.key", "utf8"), { workerPool: new KeyWorkerPool() });
 * try { await decodePkiMessage(readFileSync("request.p7"), { decrypters: [ca] }) }
 * catch (e) { if (isScepError(e) && e.code === "ERR_KEY_UNAVAILABLE") console.error("retry later:", e.message) }
 * ```
 * @group Errors
 */
export class KeyUnavailableError extends KeyError {
  static override readonly code: ScepErrorCode = "ERR_KEY_UNAVAILABLE";
  /** Seconds a client should wait before retrying (the HTTP `Retry-After`). Default 1. */
  readonly retryAfterSeconds: number;

  constructor(message: string, options: ScepErrorOptions & { retryAfterSeconds?: number } = {}) {
    super(message, options);
    this.retryAfterSeconds = options.retryAfterSeconds ?? 1;
  }
}

/** A CertRep that is invalid or reports FAILURE (client side). @group Errors */
export class CertRepError extends ScepError {
  static override readonly code: ScepErrorCode = "ERR_CERTREP";
  static override readonly failInfo: FailInfo = "badRequest";
}

/**
 * HTTP transport failure talking to a SCEP server (client side). Its message starts with the operation's name
 * (`PKIOperation: HTTP 502 (…)`); decide on `operation` and `status`, not on the text.
 *
 * @example
 * ```ts
 * import { ScepClient, TransportError, type EnrollOptions } from "@scep/core";
 *
 * declare const client: ScepClient;
 * declare const options: EnrollOptions;
 * try {
 *   await client.enroll(options);
 * } catch (e) {
 *   // No answer (no status: it may have been sent) or a 5xx: the CA may have processed it. A 503 or 429 (busy or
 *   // rate-limited: RFC 9110 §15.6.4, RFC 6585 §4) says it did not: send it again later.
 *   const maybeProcessed = e instanceof TransportError && e.operation === "PKIOperation" && (e.status === undefined || (e.status >= 500 && e.status !== 503));
 *   if (maybeProcessed) console.error("sent, unanswered: re-send with the same key (RFC 8894 §3.3.3)");
 * }
 * ```
 * @group Errors
 */
export class TransportError extends ScepError {
  static override readonly code: ScepErrorCode = "ERR_TRANSPORT";
  static override readonly failInfo: FailInfo = "badRequest";
  /** HTTP status, when a response was received. */
  status?: number;
  /**
   * The error response's `Retry-After` (RFC 9110 §10.2.3) in whole seconds, as {@link ScepClient} read it: its
   * delta-seconds, or an HTTP-date counted from the response's own `Date` header (so the client's clock plays no
   * part; 0 for a date not after it), at most 86 400 (a day: a larger value reads as that). Unset when there was no response, no such header, or one that does not parse
   * (an HTTP-date without a `Date` header included). A 503 or 429 sends it (busy, rate-limited); `@scep/proxy` sends
   * it with a 502 or 504 when the same request, sent again after it, passes the proxy.
   */
  retryAfterSeconds?: number;
  /** The SCEP operation of the failed request (RFC 8894 §4), as {@link ScepClient} sent it; unset on one built by hand. */
  operation?: TransportOperation;
}

/**
 * The operations {@link ScepClient} sends (RFC 8894 §4: §4.2 GetCACaps, §4.3 GetCACert, §4.4 PKIOperation carrying
 * PKCSReq, RenewalReq, CertPoll, GetCert or GetCRL): the `operation` of a {@link TransportError} it throws.
 *
 * @example
 * ```ts
 * import { ScepClient, TransportError, type TransportOperation } from "@scep/core";
 *
 * // GetCACaps and GetCACert change nothing on the server: one that failed can simply be sent again. A PKIOperation
 * // may have been received: re-send it as RFC 8894 §3.3.3 says (same key, same transactionID).
 * const resendable = (operation: TransportOperation | undefined): boolean => operation === "GetCACaps" || operation === "GetCACert";
 *
 * declare const client: ScepClient;
 * try {
 *   await client.getCaCert();
 * } catch (e) {
 *   if (e instanceof TransportError && resendable(e.operation)) console.error(`${e.operation} failed (HTTP ${e.status ?? "none"}): retry`);
 * }
 * ```
 * @group Errors
 */
export type TransportOperation = "GetCACaps" | "GetCACert" | "PKIOperation";

/**
 * Client side: the GetCACert reply does not match the pinned CA (RFC 8894
 * §2.2 leaves authenticating the CA certificate to the client): no CA
 * certificate of the set has a pinned SHA-256 fingerprint or is a trusted CA
 * certificate, or the certificate requests would be encrypted to does not
 * chain to one. Thrown before any PKIOperation is sent. The message names the
 * expected and the actual fingerprints (`sha256:<hex>`).
 * @group Errors
 */
export class CaPinMismatchError extends ScepError {
  static override readonly code: ScepErrorCode = "ERR_CA_PIN_MISMATCH";
  static override readonly failInfo: FailInfo = "badCertId";
  /** The pinned fingerprints, `sha256:<64 lower-case hex>`. */
  expected: string[] = [];
  /** The fingerprints of the certificates the CA sent, `sha256:<64 lower-case hex>`. */
  actual: string[] = [];
}

/** An argument passed by the caller is invalid. @group Errors */
export class InvalidArgumentError extends ScepError {
  static override readonly code: ScepErrorCode = "ERR_INVALID_ARGUMENT";
  static override readonly failInfo: FailInfo = "badRequest";
}

/**
 * `approve`/`reject` of a transaction that is not (or no longer) waiting for a
 * decision: unknown, expired, already ISSUED or REJECTED, or being issued by a
 * concurrent `approve` (RFC 8894 §3.3.3). Extends {@link InvalidArgumentError}
 * so callers that caught that before keep working; match on `code`.
 *
 * @example
 * ```ts
 * async function approveOnce(transactionId: string): Promise<number> {
 *   try {
 *     await server.approve("corp", transactionId);
 *     return 200;
 *   } catch (e) {
 *     if (isScepError(e) && e.code === "ERR_TRANSACTION_STATE") return 409; // already decided, or not pending
 *     throw e;
 *   }
 * }
 * ```
 * @group Errors
 */
export class TransactionStateError extends InvalidArgumentError {
  static override readonly code: ScepErrorCode = "ERR_TRANSACTION_STATE";
}

/**
 * The profile's issue hook answered something the server cannot deliver: anything but SUCCESS to an approved
 * request (`approve`), a certificate that does not certify the request's public key (the client would find no
 * certificate for its key, RFC 8894 §3.3.2), or bytes that are no certificate (the parse error is the `cause`).
 * A fault of the server's own code, not the client's: an immediate enrollment answers HTTP 500 (the one-time
 * challenge is given back), and `approve` puts the transaction back to PENDING and rethrows it.
 *
 * @example
 * ```ts
 * async function approveOrExplain(transactionId: string): Promise<string> {
 *   try {
 *     await server.approve("corp", transactionId);
 *     return "issued";
 *   } catch (e) {
 *     if (isScepError(e) && e.code === "ERR_ISSUE_HOOK") return `the CA hook misbehaved: ${e.message}`; // still PENDING
 *     throw e;
 *   }
 * }
 * ```
 * @group Errors
 */
export class IssueHookError extends ScepError {
  static override readonly code: ScepErrorCode = "ERR_ISSUE_HOOK";
  /**
   * The certificate the hook issued, when it parsed but is not for the request's key: it exists and is not
   * delivered, so the profile's `onUndelivered` is told (reason `wrong_key`) to revoke it. DER.
   */
  issued?: Uint8Array;
}

/**
 * A shared store (transactions, one-time challenges…) could not be reached or
 * did not answer in time. Not the client's fault: the server answers HTTP 503
 * with `Retry-After: retryAfterSeconds` and never a FAILURE CertRep, so
 * `failInfo` is not used. Store implementations throw it for connection
 * errors and timeouts, with the driver's error as `cause`.
 *
 * @example
 * ```ts
 * async function storeCall<T>(call: () => Promise<T>): Promise<T> {
 *   try {
 *     return await call();
 *   } catch (e) {
 *     throw new StoreUnavailableError("my-db: connection refused", { cause: e, retryAfterSeconds: 10 });
 *   }
 * }
 * ```
 * @group Errors
 */
export class StoreUnavailableError extends ScepError {
  static override readonly code: ScepErrorCode = "ERR_STORE_UNAVAILABLE";
  /** Seconds a client should wait before retrying (the HTTP `Retry-After`). Default 30. */
  readonly retryAfterSeconds: number;
  /**
   * Set when a bounded in-process store (`MemoryChallengeStore`, `MemoryTransactionStore`, `MemoryRevocationStore`)
   * refused a write because it already holds its `maxEntries`: that limit, a count of entries. Retrying helps only
   * once entries expire or are used up; a larger `maxEntries` or a shared store (`@scep/redis`) helps at once.
   * Undefined for a store that is down or slow.
   */
  readonly capacity: number | undefined;

  constructor(message: string, options: ScepErrorOptions & { retryAfterSeconds?: number; capacity?: number } = {}) {
    super(message, options);
    this.retryAfterSeconds = options.retryAfterSeconds ?? 30;
    this.capacity = options.capacity;
  }
}

/**
 * A challenge webhook ({@link webhookChallenge}) gave no complete answer within its `timeoutMs`. The request gets
 * FAILURE badRequest (reason `webhook_unavailable`); nothing is issued. The message names the endpoint by origin and
 * path only (never its query, a header or the secret).
 * @group Errors
 */
export class WebhookTimeoutError extends ScepError {
  static override readonly code: ScepErrorCode = "ERR_WEBHOOK_TIMEOUT";
}

/**
 * A challenge webhook could not be reached, refused the connection, redirected, or answered an HTTP status outside
 * 2xx (`status`). Handled like {@link WebhookTimeoutError}.
 * @group Errors
 */
export class WebhookTransportError extends ScepError {
  static override readonly code: ScepErrorCode = "ERR_WEBHOOK_TRANSPORT";
  /** The HTTP status, when the webhook answered one. */
  readonly status: number | undefined;

  constructor(message: string, options: ScepErrorOptions & { status?: number } = {}) {
    super(message, options);
    this.status = options.status;
  }
}

/**
 * A challenge webhook answered 2xx with a body that is not the expected JSON (not JSON, not an object, `allow` not
 * a boolean, a bad `failInfo`) or is larger than `maxResponseBytes`. Handled like {@link WebhookTimeoutError}.
 * @group Errors
 */
export class WebhookResponseError extends ScepError {
  static override readonly code: ScepErrorCode = "ERR_WEBHOOK_RESPONSE";
}

/**
 * Server side: the request's body was already read by something else before the SCEP handler asked for it (a body
 * parser mounted before it: `express.urlencoded()`, `express.json()`, `express.text()`, multer, or a web `Request`
 * whose body was used). An adapter rejects the body promise it hands to `ScepServer.handle` with it (or errors the
 * body stream with it); the server then answers a PKIOperation POST HTTP 400 {@link BODY_ALREADY_READ_TEXT}, event
 * reason `body_already_read`, instead of reading an empty body as an empty message. Recognised by `code`, also from
 * a duplicate copy of the package.
 * @example
 * ```ts
 * import { BodyAlreadyReadError } from "@scep/core";
 *
 * declare const req: import("node:http").IncomingMessage;
 * const body = req.readableEnded ? Promise.reject(new BodyAlreadyReadError("read by another middleware")) : undefined;
 * ```
 * @group Errors
 */
export class BodyAlreadyReadError extends ScepError {
  static override readonly code: ScepErrorCode = "ERR_BODY_ALREADY_READ";
}

/**
 * Server side: a profile's issuing CA certificate is outside its validity period (RFC 5280 §4.1.2.5) at the server's
 * clock: expired, or not yet valid. Nothing it issued now would validate (RFC 5280 §6.1.3 checks the whole path at one
 * time), so nothing is issued. The operator's problem, never the client's:
 * - {@link createScepServer} throws it for a CA that is not valid when the server is created;
 * - a CA that expires while the server runs: a PKCSReq or RenewalReq gets HTTP 503 with `Retry-After` (event reason
 *   `ca_not_valid`, and this error passed to `onError`) before any challenge is spent or hook is asked, never a
 *   FAILURE CertRep (RFC 8894 §3.2.1.4.5 has no failInfo for a CA that cannot issue, and a FAILURE would end the
 *   device's transaction for good); `approve` throws it and the transaction stays PENDING.
 *
 * The message is one line naming the profile, the CA's subject and the date: `profile /scep: the issuing CA
 * certificate (CN=Corp CA) expired at 2026-05-29T13:47:08.000Z: nothing can be issued under it until it is renewed`.
 *
 * @example
 * ```ts
 * import { createScepServer, isScepError, type ScepProfile } from "@scep/core";
 *
 * declare const profile: ScepProfile;
 * try {
 *   createScepServer({ profiles: [profile] });
 * } catch (e) {
 *   if (isScepError(e) && e.code === "ERR_CA_NOT_VALID") console.error(e.message); // one line, no stack needed
 *   else throw e;
 * }
 * ```
 * @group Errors
 */
export class CaNotValidError extends ScepError {
  static override readonly code: ScepErrorCode = "ERR_CA_NOT_VALID";
  /** The CA certificate's notBefore. */
  readonly notBefore: Date;
  /** The CA certificate's notAfter. */
  readonly notAfter: Date;
  /** The time it was checked at (the server's clock). */
  readonly at: Date;
  /** Seconds a client is asked to wait before sending again (the 503's `Retry-After`): 3600. */
  readonly retryAfterSeconds = 3600;

  constructor(message: string, options: ScepErrorOptions & { notBefore: Date; notAfter: Date; at: Date }) {
    super(message, options);
    this.notBefore = options.notBefore;
    this.notAfter = options.notAfter;
    this.at = options.at;
  }
}

/**
 * Server side: a {@link RevocationStore}'s CRL numbers are used up. RFC 5280 §5.2.3 limits a cRLNumber to 20 octets
 * (at most {@link MAX_CRL_NUMBER}, 2^159 - 1) and asks that it only grow, so once the store handed out that number
 * (or when its counter holds more) `nextCrlNumber` throws this instead of wrapping around or answering a larger
 * number, and changes nothing. The operator's problem, never the client's, and
 * not a store that is down: retrying does not help (not {@link StoreUnavailableError}, no 503). Only a new CA (a new
 * issuer name or key, whose CRLs are numbered afresh) can publish CRLs again. The CRL endpoints of the example servers
 * answer HTTP 500 with a one-line reason naming this code; a GetCRL (RFC 8894 §3.3.5) whose hook throws it is HTTP 500
 * `internal error` (event reason `crl_number_exhausted`).
 *
 * @example
 * ```ts
 * import { MAX_CRL_NUMBER, MemoryRevocationStore, isScepError } from "@scep/core";
 *
 * const revocations = new MemoryRevocationStore();
 * await revocations.nextCrlNumber({ atLeast: MAX_CRL_NUMBER }); // MAX_CRL_NUMBER, the last one
 * try {
 *   await revocations.nextCrlNumber();
 * } catch (e) {
 *   if (isScepError(e) && e.code === "ERR_CRL_NUMBER_EXHAUSTED") console.error(e.message); // a new CA is needed
 * }
 * ```
 * @group Errors
 */
export class CrlNumberExhaustedError extends ScepError {
  static override readonly code: ScepErrorCode = "ERR_CRL_NUMBER_EXHAUSTED";
}

/** The message of a thrown value: an Error's `message`, anything else as a string (internal: not exported by the package). */
export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * True for any error thrown by `@scep/*`, even across duplicate copies of the
 * package (checks the shape, not only `instanceof`).
 * @group Errors
 */
export function isScepError(value: unknown): value is ScepError {
  if (value instanceof ScepError) return true;
  if (!(value instanceof Error)) return false;
  const v = value as Partial<ScepError>;
  return typeof v.code === "string" && v.code.startsWith("ERR_") && typeof v.failInfo === "string";
}

/**
 * True when `value` says a store is unavailable ({@link StoreUnavailableError}, code `ERR_STORE_UNAVAILABLE`: a store
 * that failed, timed out or is full), also when it comes from a duplicate copy of the package (checked by code, as
 * {@link isScepError} does). The SCEP server answers such a failure HTTP 503 with `Retry-After`; an admin API or a
 * CRL endpoint should too.
 *
 * @param value - Anything caught.
 * @returns Whether it is a store-unavailable error; never throws.
 * @example
 * ```ts
 * import { MemoryTransactionStore, isStoreUnavailable } from "@scep/core";
 *
 * const transactions = new MemoryTransactionStore();
 * try {
 *   await transactions.get("default", "tx-1");
 * } catch (e) {
 *   if (isStoreUnavailable(e)) console.log(503, "retry after", e.retryAfterSeconds, "s");
 *   else throw e;
 * }
 * ```
 * @group Errors
 */
export function isStoreUnavailable(value: unknown): value is StoreUnavailableError {
  return value instanceof StoreUnavailableError || (isScepError(value) && value.code === "ERR_STORE_UNAVAILABLE");
}
