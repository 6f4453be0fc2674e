/**
 * Client side: talk to a SCEP server over HTTP (fetch): GetCACaps, GetCACert,
 * PKIOperation by POST (or GET when the server lacks POSTPKIOperation), and a
 * whole enrollment with CertPoll while PENDING.
 *
 * @module
 */
import { toBase64 } from "../encoding.js";
import { scepRequestUrl } from "./request-url.js";
import { typeOf } from "../number-option.js";
import { Asn1Error, CertRepError, InvalidArgumentError, MessageMalformedError, TransportError, type TransportOperation } from "../errors.js";
import { redactUrlsInText } from "../redact-url.js";
import type { ContentCipher, DigestAlgorithm } from "../algorithms.js";
import type { LocalKey } from "../keys/key.js";
import { Certificate } from "../x509/certificate.js";
import { CertificationRequest } from "../x509/certification-request.js";
import { type CaCaps, capsTextIsMarkup, parseCaCaps } from "../message/ca-caps.js";
import { PKI_MESSAGE_CONTENT_TYPE, parseGetCaCertResponse } from "../message/ca-cert.js";
import { selectIssuerName, selectRecipient } from "../message/certificate-roles.js";
import { type BuiltRequest, buildCertPoll, buildPkcsReq } from "./requests.js";
import { type CaPin, type CaPinOptions, checkCaPin, compileCaPin } from "./ca-pin.js";
import { type CertRep, readCertRep } from "./read-cert-rep.js";
import { readCapped } from "../lib/read-capped.js";
import { postFollowingRedirects } from "../lib/post-redirect.js";
import { parseRetryAfter } from "../lib/retry-after.js";
import { peekCertRepStatus } from "../message/pki-message.js";
import { clip } from "../lib/clip.js";
import { ignoreRejection } from "../ignore-rejection.js";

/** The longest delay a timer keeps (2^31 − 1 ms): a longer one fires at once. */
const MAX_TIMER_MS = 2_147_483_647;

/** Options of {@link ScepClient}. @group Client */
export interface ScepClientOptions extends CaPinOptions {
  /**
   * The SCEP URL (RFC 8894 §4.1), e.g. `http://127.0.0.1:8080/scep`: an absolute URL without credentials, else
   * `ERR_INVALID_ARGUMENT` from the constructor (a `user:password@` or `user@`, deprecated by RFC 3986 §3.2.1, is
   * refused by fetch on every request; a server that wants HTTP authentication gets its header from a `fetch` of
   * yours). Its own query is sent byte for byte, in order, before `operation`
   * (and `message`), on every request, GET and POST (`https://ca.example/scep?profile=a%20b&flag` →
   * `…?profile=a%20b&flag&operation=GetCACaps`); a pair of its query named `operation` (or `message`, when the request
   * sends one), compared case-insensitively, is replaced by the request's own; the fragment is not sent. See
   * {@link scepRequestUrl}.
   */
  url: string;
  /**
   * Per-request timeout in milliseconds, the whole exchange: connection, headers and body (default 180 000). The
   * default outlasts what commonly sits between a client and a CA and gives up first (a SCEP proxy's upstream
   * timeout, e.g. `@scep/proxy`'s 30 s; IIS in front of NDES, 120 s), so their own answer (a 504, a FAILURE) reaches
   * the caller instead of this client giving up at the same moment. A positive integer of at most 2 147 483 647 (the
   * longest timer there is, about 24.8 days): anything else is `ERR_INVALID_ARGUMENT` from the constructor.
   */
  timeoutMs?: number;
  /**
   * Largest response body read, in bytes (default 32 MiB: a GetCRL answer of a large CA's CRL fits); a larger one is
   * a {@link TransportError} `ERR_TRANSPORT`, and the rest of it is not read. A positive integer: anything else is
   * `ERR_INVALID_ARGUMENT` from the constructor.
   */
  maxResponseBytes?: number;
  /** A fetch implementation (default the global fetch); not a function: `ERR_INVALID_ARGUMENT` from the constructor. */
  fetch?: typeof fetch;
  /**
   * The CA identifier sent as the `message` of GetCACaps and GetCACert (RFC 8894 §3.5.1, §4.2): a CA-administrator
   * string naming one CA of a server that hosts several (EJBCA in CA mode answers 404 without it). Default: no
   * `message` at all (a made-up default such as sscep's "CAIdentifier" names no CA and is refused by such servers).
   * A non-empty, well-formed string (no lone surrogate): anything else is `ERR_INVALID_ARGUMENT` from the constructor.
   */
  caIdentifier?: string;
}

/** Options of {@link ScepClient.enroll}. @group Client */
export interface EnrollOptions {
  /** The PKCS#10 request (DER or PEM). */
  csr: Uint8Array | string;
  /** The requester key with its (self-signed or old) certificate. */
  signer: LocalKey;
  /**
   * Content cipher (default: aes128 when the CA advertises AES or SCEPStandard, else des3). RFC 8894 §3.5.2's `AES`
   * promises AES-128-CBC only (SCEPStandard implies AES), so AES-192 and AES-256 go only to a CA known to take them.
   */
  cipher?: ContentCipher | undefined;
  /** Digest (default: sha256 when the CA advertises SHA-256 or SCEPStandard, else sha512 when it advertises SHA-512, else sha1). */
  digest?: DigestAlgorithm | undefined;
  /**
   * PKIOperation by POST (default: when the CA advertises POSTPKIOperation or SCEPStandard) or GET. When left to the
   * default, a GET refused as too long (HTTP 414 or 431: NDES behind IIS, nginx) is sent again by POST, and a POST
   * refused as a method the server does not take (HTTP 405 or 501, whatever its caps said) is sent again by GET: such
   * an answer means the request was not processed. Later CertPolls use the method that worked. Given explicitly, it is
   * used as given.
   */
  post?: boolean | undefined;
  /**
   * The CA's capabilities, when already fetched (otherwise GetCACaps is asked; an HTTP error there, or a markup page
   * that {@link ScepClient.getCaCaps} refuses, means none).
   */
  caps?: CaCaps | undefined;
  /** Send RenewalReq instead of PKCSReq. */
  renewal?: boolean | undefined;
  /**
   * Poll interval while PENDING in milliseconds (default 5000): when `maxPollMs` is over 0, a positive integer of at
   * most 2 147 483 647, else `ERR_INVALID_ARGUMENT` before anything is sent (0 or a negative number polled a CA that
   * stays PENDING without end).
   */
  pollIntervalMs?: number | undefined;
  /**
   * Keep polling while PENDING for this many milliseconds of intervals (default 0: return the PENDING reply; Infinity:
   * until the CA answers): a number >= 0, else `ERR_INVALID_ARGUMENT` before anything is sent.
   */
  maxPollMs?: number | undefined;
  /** Called with each PENDING reply before waiting `pollIntervalMs` to poll again. */
  onPending?: ((rep: CertRep, pollIntervalMs: number) => void) | undefined;
  /** Waits between polls (default a timer; tests pass their own clock). */
  sleep?: ((ms: number) => Promise<void>) | undefined;
}

/**
 * A minimal SCEP client.
 *
 * @example
 * ```ts
 * const client = new ScepClient({ url: "http://127.0.0.1:8080/scep" });
 * const keys = await generateRsaKeyPair();
 * const signer = await createSelfSignedSigner({ keys, subject: "CN=device-42" });
 * const csr = await generateCsr({ keys, subject: "CN=device-42", challengePassword: "secret" });
 * const rep = await client.enroll({ csr, signer });
 * if (rep.status === "SUCCESS") console.log(rep.certificate!.toPem());
 * ```
 *
 * @example Pin the CA (RFC 8894 §2.2): GetCACert must hold a CA certificate
 * with this SHA-256 fingerprint (root or issuing CA), or the client throws
 * `CaPinMismatchError` (`ERR_CA_PIN_MISMATCH`) before sending anything.
 * ```ts
 * const pinned = new ScepClient({ url: "http://127.0.0.1:8080/scep", caFingerprints: ["sha256:5abeea1243d2c195461ddb65692f561bd45edb66d7c4e0e02deef0ad047e8362"] });
 * ```
 * @group Client
 */
export class ScepClient {
  readonly #url: string;
  readonly #timeout: number;
  readonly #maxResponse: number;
  readonly #fetch: typeof fetch;
  readonly #pin: CaPin | undefined;
  readonly #caIdentifier: string | undefined;

  /**
   * @throws InvalidArgumentError `ERR_INVALID_ARGUMENT` for a malformed
   * `caFingerprints` entry or `trustedCaCertificates` certificate, and for a
   * `timeoutMs` or `maxResponseBytes` that is not a positive integer (NaN would lift the cap or the deadline), and for a
   * `timeoutMs` above 2 147 483 647 (a timer that long fires at once), and for a `caIdentifier` that is not a
   * non-empty string or has a lone surrogate, and for a `url` that does not parse as an absolute URL or holds
   * credentials (`user:password@`; the URL is not echoed).
   */
  constructor(options: ScepClientOptions) {
    // Checked here: every request builds on it, and a URL that does not parse made each one throw a bare TypeError.
    // Not echoed: a proxy's one-time URL holds its challenge.
    if (!parsesAsUrl(options.url)) throw new InvalidArgumentError("url must be an absolute URL (http:// or https://)");
    // fetch refuses such a URL on every request (a TypeError wrapped as ERR_TRANSPORT, which callers retry): say so once.
    if (hasCredentials(options.url)) {
      throw new InvalidArgumentError("url must not include credentials (user:password@): fetch refuses such a URL; send HTTP authentication from the fetch option");
    }
    this.#url = options.url;
    const timeout = options.timeoutMs ?? 180_000;
    if (!Number.isSafeInteger(timeout) || timeout < 1) throw new InvalidArgumentError(`timeoutMs must be a positive integer, got ${String(timeout)}`);
    // AbortSignal.timeout runs on a timer: above 2^31 − 1 ms Node fires it after 1 ms (TimeoutOverflowWarning), above
    // 2^32 − 1 it throws, and browsers fire it at once.
    if (timeout > MAX_TIMER_MS) throw new InvalidArgumentError(`timeoutMs must be at most ${MAX_TIMER_MS} (about 24.8 days, the longest timer Node and browsers keep), got ${timeout}`);
    this.#timeout = timeout;
    const maxResponse = options.maxResponseBytes ?? 32 * 1024 * 1024;
    if (!Number.isSafeInteger(maxResponse) || maxResponse < 1) throw new InvalidArgumentError(`maxResponseBytes must be a positive integer, got ${String(maxResponse)}`);
    this.#maxResponse = maxResponse;
    if (options.fetch !== undefined && typeof options.fetch !== "function") throw new InvalidArgumentError(`fetch must be a function (got ${typeOf(options.fetch)})`);
    this.#fetch = options.fetch ?? fetch;
    this.#pin = compileCaPin(options);
    if (options.caIdentifier !== undefined && (typeof options.caIdentifier !== "string" || options.caIdentifier === "")) {
      throw new InvalidArgumentError("caIdentifier must be a non-empty string");
    }
    // A lone surrogate has no UTF-8, so no percent-encoding of its own: it would reach the CA as U+FFFD, another name.
    if (options.caIdentifier !== undefined && !wellFormed(options.caIdentifier)) {
      throw new InvalidArgumentError("caIdentifier must be well-formed UTF-16 (it has a lone surrogate)");
    }
    this.#caIdentifier = options.caIdentifier;
  }

  async #request(operation: TransportOperation, init: { method?: string; body?: Uint8Array; message?: string } = {}): Promise<{ body: Uint8Array; contentType: string }> {
    // The CA URL's own query as written, then operation and message (see scepRequestUrl).
    const u = scepRequestUrl(this.#url, { operation, message: init.message });
    let res: Response;
    let body: Uint8Array;
    try {
      const signal = AbortSignal.timeout(this.#timeout);
      // A POST follows a redirect with its body (fetch's own follow would re-send it as a GET without one).
      res = init.body
        ? (await postFollowingRedirects(this.#fetch, u, init.body, { headers: { "content-type": PKI_MESSAGE_CONTENT_TYPE }, signal })).response
        : await this.#fetch(u, { method: init.method ?? "GET", signal });
      // The body is read under the same deadline, and no further than maxResponseBytes. An error answer's body is only
      // quoted (its first line), so a large one is not read at all: its status is what the caller learns.
      const read = await readCapped(res.body, res.ok ? this.#maxResponse : Math.min(this.#maxResponse, ERROR_BODY_MAX), signal);
      if (read === "too-large" && res.ok) throw transportError(operation, `the response is larger than ${this.#maxResponse} bytes (maxResponseBytes)`);
      body = read === "too-large" ? new Uint8Array() : read;
    } catch (cause) {
      if (cause instanceof TransportError) throw cause;
      throw transportError(operation, transportDetail(cause, this.#timeout), { cause: withoutUrlSecrets(cause) });
    }
    if (!res.ok) {
      // RFC 8894 §3.3.2: a CertRep is the answer to a PKIOperation, whatever HTTP status carries it. AWS Private CA's
      // Connector for SCEP answers a refused request with HTTP 400 and the FAILURE CertRep as its body: the caller
      // gets that FAILURE (failInfo, failInfoText) from readCertRep, which verifies it as for a 200.
      if (operation === "PKIOperation" && peekCertRepStatus(body) !== undefined) return { body, contentType: res.headers.get("content-type") ?? "" };
      const text = errorBodyText(body, res.headers.get("content-type") ?? "");
      const err = transportError(operation, `HTTP ${res.status}${text ? ` (${text})` : ""}`);
      err.status = res.status;
      const retryAfter = retryAfterSeconds(res.headers);
      if (retryAfter !== undefined) err.retryAfterSeconds = retryAfter;
      throw err;
    }
    return { body, contentType: res.headers.get("content-type") ?? "" };
  }

  /**
   * GetCACaps (RFC 8894 §3.5.1, with `caIdentifier` as its `message` when set): the capabilities, one keyword per line
   * (§3.5.2), read from the body whatever its content type (CAs send them as text/plain, text/html or none).
   *
   * @throws TransportError `ERR_TRANSPORT` for an HTTP or network failure.
   * @throws MessageMalformedError `ERR_MESSAGE_MALFORMED` when a 2xx reply is markup, not keywords: its first character
   *   after white space (and a byte-order mark) is `<` (an HTML login or error page: the URL is not a SCEP endpoint, or
   *   a gateway stands in front of it). The message names its content type, size and first text.
   */
  async getCaCaps(): Promise<CaCaps> {
    const { body, contentType } = await this.#request("GetCACaps", this.#caIdentifier === undefined ? {} : { message: this.#caIdentifier });
    const text = new TextDecoder().decode(body);
    // No capability keyword starts with `<`: such a body is a page, and its words (a page may well say "AES") are no caps.
    if (capsTextIsMarkup(text)) throw notCaCaps(body, contentType);
    return parseCaCaps(text);
  }

  /**
   * GetCACert (with `caIdentifier` as its `message` when set): the CA (and RA) certificates, in the order the server
   * sent them. With `caFingerprints` or `trustedCaCertificates`, the set is checked
   * against the pin first (see {@link checkCaPin}).
   *
   * @throws CaPinMismatchError `ERR_CA_PIN_MISMATCH` when the set does not match the pin.
   * @throws TransportError `ERR_TRANSPORT` for an HTTP or network failure.
   * @throws MessageMalformedError `ERR_MESSAGE_MALFORMED` when a 2xx reply holds no certificate (e.g. an HTML page: the
   *   URL is not a SCEP endpoint; the message names its content type and size), or a certificate that does not parse.
   */
  async getCaCert(): Promise<Certificate[]> {
    return (await this.#caCertificates()).certificates;
  }

  async #caCertificates(): Promise<{ certificates: Certificate[]; trusted?: Certificate[] }> {
    const { body, contentType } = await this.#request("GetCACert", this.#caIdentifier === undefined ? {} : { message: this.#caIdentifier });
    const certificates = parseGetCaCertResponse(body, contentType);
    return this.#pin ? { certificates, trusted: checkCaPin(certificates, this.#pin) } : { certificates };
  }

  /**
   * Sends a PKIOperation and returns the raw reply. A POST answered with a redirect (301, 302, 307, 308) is sent again,
   * body and all, to the new location, at most 5 times; a 303 or a sixth redirect is an `ERR_TRANSPORT` with its status.
   * An HTTP error status whose body is a CertRep (AWS Private CA's Connector for SCEP sends its FAILURE with a 400) is
   * returned as the reply, for {@link readCertRep} to verify; any other error status is an `ERR_TRANSPORT`.
   */
  async pkiOperation(message: Uint8Array, options: { post?: boolean } = {}): Promise<Uint8Array> {
    return (await this.#pkiRequest(message, options.post ?? true)).body;
  }

  #pkiRequest(message: Uint8Array, post: boolean): Promise<{ body: Uint8Array; contentType: string }> {
    return post ? this.#request("PKIOperation", { method: "POST", body: message }) : this.#request("PKIOperation", { message: toBase64(message) });
  }

  /**
   * A PKIOperation by POST (`post`) or GET; with `fallback`, a refusal that means the request was not processed (a GET
   * answered 414 or 431, a POST answered 405 or 501: see {@link EnrollOptions.post}) is sent once again by the other
   * method. Returns the reply and the method it came by (`post`).
   *
   * @throws TransportError `ERR_TRANSPORT` as {@link ScepClient.pkiOperation} throws it; after a fallback, one that names
   *   both tries (`HTTP 414 (…) by GET, then HTTP 405 (…) by POST`, or `…, then timed out after N ms by POST`): with the
   *   second answer's `status` and `retryAfterSeconds` when it had one, else (no answer: a timeout, a reset) no status
   *   and the second failure's own `cause` (the socket's error, the timer's TimeoutError).
   */
  async #pkiRequestWithFallback(message: Uint8Array, post: boolean, fallback: boolean): Promise<{ body: Uint8Array; contentType: string; post: boolean }> {
    let refused: TransportError;
    try {
      return { ...(await this.#pkiRequest(message, post)), post };
    } catch (error) {
      if (!fallback || !refusedUnprocessed(error, post)) throw error;
      refused = error;
    }
    try {
      return { ...(await this.#pkiRequest(message, !post)), post: !post };
    } catch (second) {
      throw refusedThenFailed(refused, post, second);
    }
  }

  /**
   * GetCACaps, where an HTTP error answer (old CAs send 404 or 500) or a page instead of caps means no capabilities
   * (GetCACert, asked next at the same URL, then tells whether it is a SCEP endpoint); other failures throw.
   */
  async #capsOrNone(): Promise<CaCaps> {
    try {
      return await this.getCaCaps();
    } catch (error) {
      if (error instanceof TransportError && error.status !== undefined) return parseCaCaps("");
      // getCaCaps throws it for a markup body only.
      if (error instanceof MessageMalformedError) return parseCaCaps("");
      throw error;
    }
  }

  /**
   * Enrolls: GetCACaps, GetCACert, PKCSReq (or RenewalReq), and CertPoll while
   * PENDING as long as `maxPollMs` allows. Returns the final CertRep; FAILURE
   * and PENDING are replies, not exceptions.
   *
   * Requests are encrypted to {@link selectRecipient}'s pick; a CertPoll names
   * {@link selectIssuerName}'s issuer (RFC 8894 §3.3.3), whatever the order of
   * the GetCACert set. With a CA pin, the set is checked before anything is
   * sent and every CertRep must be signed by a certificate chaining to it.
   *
   * @throws CaPinMismatchError `ERR_CA_PIN_MISMATCH` when GetCACert does not match the pin (nothing was sent).
   * @throws TransportError `ERR_TRANSPORT` for an HTTP or network failure.
   * @throws MessageMalformedError `ERR_MESSAGE_MALFORMED` when GetCACert's reply holds no certificate (see
   *   {@link getCaCert}; nothing was sent).
   * @throws CsrInvalidError `ERR_CSR_INVALID` when `csr` is not a PKCS#10 request (nothing was sent).
   * @throws CertRepError `ERR_CERTREP` for a reply that does not verify or match the request, or is no CertRep at all (an
   *   HTML page, JSON or an empty body with a 200: the message names its content type and size).
   * @throws InvalidArgumentError `ERR_INVALID_ARGUMENT` for a `pollIntervalMs` or `maxPollMs` out of range (nothing was sent).
   */
  async enroll(options: EnrollOptions): Promise<CertRep & { request: BuiltRequest; caCertificates: Certificate[]; caps: CaCaps }> {
    checkPolling(options);
    const caps = options.caps ?? (await this.#capsOrNone());
    const { certificates: caCertificates, trusted } = await this.#caCertificates();
    const recipient = selectRecipient(caCertificates);
    const standard = caps.has("SCEPStandard"); // RFC 8894 §3.5.2: implies AES, POSTPKIOperation and SHA-256
    // RFC 8894 §3.5.2: `AES` is AES128-CBC; a CA may decrypt no longer AES key (jscep#61, #64).
    const cipher = options.cipher ?? (standard || caps.has("AES") ? "aes128" : "des3");
    const digest = options.digest ?? (standard || caps.has("SHA-256") ? "sha256" : caps.has("SHA-512") ? "sha512" : "sha1");
    // The method left to the default may change once (see `post`): later CertPolls use the one that worked.
    let post = options.post ?? (standard || caps.has("POSTPKIOperation"));
    const interval = options.pollIntervalMs ?? 5000;
    const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
    const csr = CertificationRequest.from(options.csr);
    const common = { signer: options.signer, recipient, cipher, digest };
    const exchange = async (built: BuiltRequest): Promise<CertRep> => {
      const sent = await this.#pkiRequestWithFallback(built.der, post, options.post === undefined);
      post = sent.post;
      const { body, contentType } = sent;
      try {
        return await readCertRep(body, { decrypter: options.signer, caCertificates, request: built, requestedKey: csr.spki, ...(trusted ? { trustedSigners: trusted } : {}) });
      } catch (e) {
        // Bytes that are no DER at all (a proxy's or IIS's HTML page, JSON, an empty body, all with a 200): say what
        // came, as GetCACert does, not a bare "ASN.1 length exceeds the data".
        if (e instanceof Asn1Error) throw notCertRep(body, contentType, e);
        throw e;
      }
    };

    const request = await buildPkcsReq({ ...common, csr: csr.der, renewal: options.renewal ?? false });
    let rep = await exchange(request);
    const issuerName = selectIssuerName(caCertificates);
    for (let waited = 0; rep.status === "PENDING" && waited < (options.maxPollMs ?? 0); waited += interval) {
      // An async onPending (its `=> void` type admits one) that rejects must not become an unhandled rejection.
      ignoreRejection(options.onPending?.(rep, interval));
      await sleep(interval);
      rep = await exchange(await buildCertPoll({ ...common, issuerName, subject: csr.subjectDer, transactionId: request.transactionId }));
    }
    if (rep.status === "SUCCESS" && !rep.certificate) throw new CertRepError("SUCCESS CertRep without a certificate");
    return { ...rep, request, caCertificates, caps };
  }
}

/** Whether `s` has no lone surrogate (what `encodeURIComponent` needs; String.prototype.isWellFormed is ES2024). */
function wellFormed(s: string): boolean {
  try {
    encodeURIComponent(s);
    return true;
  } catch {
    return false;
  }
}

/** Statuses to a GET PKIOperation that mean its URL was too long to be taken (RFC 9110 §15.5.15; RFC 6585 §5). */
const URL_TOO_LONG: ReadonlySet<number> = new Set([414, 431]);
/** Statuses to a POST PKIOperation that mean the server does not take the method (RFC 9110 §15.5.6, §15.6.2). */
const METHOD_REFUSED: ReadonlySet<number> = new Set([405, 501]);

/** Whether `error` is a refusal of a PKIOperation sent by POST (`post`) or GET that means it was not processed. */
function refusedUnprocessed(error: unknown, post: boolean): error is TransportError {
  return error instanceof TransportError && error.status !== undefined && (post ? METHOD_REFUSED : URL_TOO_LONG).has(error.status);
}

/**
 * The error of a PKIOperation refused by one method (`first`, sent by POST when `firstPost`) whose resend by the other
 * failed with `second`: a TransportError naming both. With the second answer's status (and Retry-After) when it had
 * one, its cause the first refusal; without one (a timeout, a reset: no answer), no status and the second failure's
 * own cause, which is what tells a timeout from a reset. Anything but a TransportError is `second` as it is.
 */
function refusedThenFailed(first: TransportError, firstPost: boolean, second: unknown): unknown {
  if (!(second instanceof TransportError)) return second;
  const detail = (e: TransportError): string => e.message.replace(/^PKIOperation: /, "");
  const message = `${detail(first)} by ${firstPost ? "POST" : "GET"}, then ${detail(second)} by ${firstPost ? "GET" : "POST"}`;
  if (second.status === undefined) return transportError("PKIOperation", message, second.cause === undefined ? undefined : { cause: second.cause });
  const both = transportError("PKIOperation", message, { cause: first });
  both.status = second.status;
  if (second.retryAfterSeconds !== undefined) both.retryAfterSeconds = second.retryAfterSeconds;
  return both;
}

/** InvalidArgumentError `ERR_INVALID_ARGUMENT` unless the polling options are integers a timer can wait. */
function checkPolling(options: EnrollOptions): void {
  const interval = options.pollIntervalMs ?? 5000;
  const max = options.maxPollMs ?? 0;
  // Read only when it polls (maxPollMs > 0): with the default 0 the first PENDING reply is returned, no interval waited.
  if (!(max === 0) && (!Number.isSafeInteger(interval) || interval < 1 || interval > MAX_TIMER_MS)) {
    throw new InvalidArgumentError(`pollIntervalMs must be an integer from 1 to ${MAX_TIMER_MS}, got ${String(interval)}`);
  }
  // Infinity is a budget too: poll until the CA answers SUCCESS or FAILURE.
  if (typeof max !== "number" || Number.isNaN(max) || max < 0) throw new InvalidArgumentError(`maxPollMs must be a number >= 0 (Infinity: no limit), got ${String(max)}`);
}

/**
 * CertRepError `ERR_CERTREP` for a PKIOperation reply that does not parse as a CertRep: its content type, its size,
 * the ASN.1 reason, and for a reply that is no DER at all (an HTML or text page) its first line of text.
 */
function notCertRep(body: Uint8Array, contentType: string, cause: Asn1Error): CertRepError {
  const text = body.length > 0 && body[0] !== 0x30 ? firstText(body, contentType) : "";
  return new CertRepError(`PKIOperation reply (${replyShape(body, contentType)}) is not a CertRep: ${cause.message}${text ? ` (${text})` : ""}`, { cause });
}

/**
 * MessageMalformedError `ERR_MESSAGE_MALFORMED` for a GetCACaps reply that is markup, not RFC 8894 §3.5.2 keywords: its
 * content type, its size and its first line of text.
 */
function notCaCaps(body: Uint8Array, contentType: string): MessageMalformedError {
  const text = firstText(body, contentType);
  return new MessageMalformedError(`GetCACaps reply (${replyShape(body, contentType)}) is a markup page, not a capability list: is the URL a SCEP endpoint?${text ? ` (${text})` : ""}`);
}

/** A reply's content type (printable, at most 100 characters) and size: `content-type text/html, 1234 bytes`. */
function replyShape(body: Uint8Array, contentType: string): string {
  return `${contentType ? `content-type ${clip(contentType.replace(/[^\x20-\x7e]/g, "?"), 100)}, ` : ""}${body.length} bytes`;
}

/** A reply's first text, markup removed ({@link errorBodyText}), control characters as `?`. */
function firstText(body: Uint8Array, contentType: string): string {
  return errorBodyText(body, contentType).replace(/[^\x20-\x7e\u00a0-\uffff]/g, "?");
}

/** A {@link TransportError} for `operation`: its message `<operation>: <detail>`, its `operation` field set. */
function transportError(operation: TransportOperation, detail: string, options?: { cause: unknown }): TransportError {
  const err = new TransportError(`${operation}: ${detail}`, options);
  err.operation = operation;
  return err;
}

/**
 * The error a fetch failed with, as a TransportError's `cause`: itself, unless its message quotes a URL's credentials
 * (a `?token=`; the constructor refuses a `user:password@`), then an error of the same name whose message has
 * them masked ({@link redactUrlsInText}) and whose own `cause` is the original's: a logger that prints the cause chain
 * then prints no password either.
 */
function withoutUrlSecrets(cause: unknown): unknown {
  if (!(cause instanceof Error)) return cause;
  const masked = redactUrlsInText(cause.message);
  if (masked === cause.message) return cause;
  const copy = new Error(masked, cause.cause === undefined ? undefined : { cause: cause.cause });
  copy.name = cause.name;
  return copy;
}

/**
 * A response's `Retry-After` (RFC 9110 §10.2.3) in whole seconds ({@link parseRetryAfter}: delta-seconds as given, at
 * most a day); an HTTP-date counted from the response's `Date` header (both the server's clock), 0 when not after it;
 * undefined when absent, unreadable, or a date without a `Date` header.
 */
function retryAfterSeconds(headers: Headers): number | undefined {
  return parseRetryAfter(headers.get("retry-after"), Date.parse(headers.get("date") ?? ""));
}

/** The most of an error answer's body read to quote it (a TransportError's message shows 200 characters of it). */
const ERROR_BODY_MAX = 64 * 1024;

/**
 * Why a fetch (or the read of its body) failed, for a TransportError's message: our own deadline firing (the
 * `TimeoutError` of `AbortSignal.timeout`) is a timeout; an `AbortError` (a caller's `fetch` that aborted for its own
 * reasons) is not; otherwise the socket error's code (fetch says "fetch failed" and puts ECONNREFUSED … in `cause`).
 */
function transportDetail(cause: unknown, timeoutMs: number): string {
  const name = cause instanceof Error || cause instanceof DOMException ? cause.name : undefined;
  if (name === "TimeoutError") return `timed out after ${timeoutMs} ms`;
  if (name === "AbortError") return `the request was aborted (${(cause as Error).message})`;
  const inner = (cause as { cause?: { code?: string; message?: string } } | undefined)?.cause;
  // A fetch error may quote the request URL whole, a ?token= included (userinfo is refused at construction).
  return redactUrlsInText(inner?.code ? `${inner.code}${inner.message ? ` (${inner.message})` : ""}` : String((cause as Error | undefined)?.message ?? cause));
}

/**
 * An HTTP error body as one short line for a TransportError's message: an HTML page (a web server's or a framework's
 * 404, `<!DOCTYPE html>…<pre>Cannot GET /scpe</pre>…`) by its text without the markup, line breaks and runs of spaces
 * as one space, at most 200 characters.
 */
function errorBodyText(body: Uint8Array, contentType: string): string {
  let text = new TextDecoder().decode(body.subarray(0, 4096));
  if (/^text\/html\b/i.test(contentType) || /^\s*</.test(text)) {
    text = text.replace(/<(script|style|head)\b[\s\S]*?<\/\1\s*>/gi, " ").replace(/<[^>]*>?/g, " ");
  }
  text = text.replace(/\s+/g, " ").trim();
  return text.length > 200 ? `${text.slice(0, 199)}…` : text;
}

/** Whether an absolute URL has userinfo (`user:password@` or `user@`), which fetch refuses. */
function hasCredentials(url: string): boolean {
  const parsed = new URL(url);
  return parsed.username !== "" || parsed.password !== "";
}

/** Whether `url` is a string that parses as an absolute URL. */
function parsesAsUrl(url: unknown): boolean {
  if (typeof url !== "string") return false;
  try {
    new URL(url);
    return true;
  } catch {
    return false;
  }
}
