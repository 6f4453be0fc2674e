/**
 * The HTTP {@link Upstream}: RFC 8894 §4 over `fetch`, with the upstream's
 * caps cached, a timeout, and size limits both ways (PROXY.md "Forwarding").
 *
 * @module
 */
import { CA_CERT_CONTENT_TYPE, CA_RA_CERT_CONTENT_TYPE, PKI_MESSAGE_CONTENT_TYPE, parseCaCaps, peekCertRepStatus, scepRequestUrl, toBase64 } from "@scep/core";
import type { CaConfig } from "../cas/ca-config.js";
import { ProxyConfigError, UpstreamError } from "../errors.js";
import { deadline } from "../lib/deadline.js";
import { NOT_FIELD_VALUE } from "../lib/text.js";
import { type UrlCredentials, urlCredentials } from "../lib/url-credentials.js";
import { BODY_BYTES, TIMER_MS, functionOption, integerOption } from "../lib/options.js";
import { CONNECT_TIMEOUT_CODE, errorCode, failedToConnect, isDnsCode, isResetCode, isTlsHandshakeCode, isUnreachableCode } from "../lib/net-errors.js";
import { abortable, capsTextIsMarkup, parseRetryAfter, postFollowingRedirects, readCapped } from "@scep/core/internal";
import type { GetCACapsOptions, Upstream, UpstreamCallOptions, UpstreamResponse } from "./upstream.js";

/** Options of {@link HttpUpstream}. @group Upstream */
export interface HttpUpstreamOptions {
  /** Longest a call may take, connection to last body byte, in milliseconds (default 30 000). Then: reason `timeout`. An integer from 1 to 2 147 483 647 (ms), else `ProxyConfigError` (`ERR_PROXY_CONFIG`) from the constructor. */
  timeoutMs?: number;
  /** How long an upstream's GetCACaps answer is reused to choose POST or GET, in milliseconds (default 600 000). An integer from 1 to 2 147 483 647 (ms), else `ProxyConfigError` (`ERR_PROXY_CONFIG`) from the constructor. */
  capsTtlMs?: number;
  /** Largest response body accepted, in bytes (default 2 MiB). A larger one: reason `other`, never truncated. An integer from 1 to 1 073 741 824 (bytes), else `ProxyConfigError` (`ERR_PROXY_CONFIG`) from the constructor. */
  maxResponseBytes?: number;
  /** Largest PKIOperation message sent, in bytes (default 2 MiB). An integer from 1 to 1 073 741 824 (bytes), else `ProxyConfigError` (`ERR_PROXY_CONFIG`) from the constructor. */
  maxRequestBytes?: number;
  /** The `fetch` to use (default the global one), e.g. one with a custom TLS dispatcher. */
  fetch?: typeof fetch;
  /** Clock deciding caps expiry and what an HTTP-date `Retry-After` is in seconds from now (default `() => new Date()`). */
  now?: () => Date;
  /**
   * `User-Agent` sent upstream (default `scep-sdk @scep/proxy`). An HTTP field value (RFC 9110 §5.5): ASCII or
   * Latin-1 characters (up to U+00FF), no control character but a tab; else `ProxyConfigError` (`ERR_PROXY_CONFIG`)
   * from the constructor (`fetch` cannot send it, so every call would fail).
   */
  userAgent?: string;
}

interface CachedCaps {
  post: boolean;
  expires: number;
}

const MiB = 1024 * 1024;

const mediaType = (contentType: string | null): string => (contentType ?? "").split(";")[0]!.trim().toLowerCase();

/**
 * An {@link Upstream} over HTTP(S) with `fetch`.
 *
 * - PKIOperation is POSTed (`Content-Type: application/x-pki-message`, the
 *   raw DER body with `Content-Length`: IIS refuses chunked bodies) when the
 *   upstream's GetCACaps lists `POSTPKIOperation` or `SCEPStandard`, else
 *   sent by GET with the message in standard base64 (RFC 8894 §4.1). The
 *   caps are fetched once per CA URL (and `caIdentifier`) and reused for `capsTtlMs`. Every GetCACaps names the
 *   CA as GetCACert does (RFC 8894 §3.5.1): the CA's `caIdentifier` as its `message`, else the device's
 *   (`options.message`), else none. A GetCACaps forwarded for a device refreshes the cached caps only when it names
 *   the CA they were asked for: always for a CA with a `caIdentifier` (sent instead of the device's), else only
 *   when the device sent no `message`; the answer for a device's own identifier is passed on, not remembered. GetCACaps answered with
 *   an HTTP error means GET, remembered for `capsTtlMs`, or for 30 s only when
 *   the error is transient (5xx but 501, 429, 408). Concurrent callers
 *   share one caps request.
 * - A POST answered with a redirect (301, 302, 307, 308) is sent again, body
 *   and all, to the new location (at most 5 times; another origin gets no
 *   Authorization); a 303 or a sixth redirect fails as an HTTP status.
 * - A PKIOperation answered with an error status whose body is a CertRep
 *   (AWS Private CA's Connector for SCEP answers a refused request 400 so)
 *   resolves to that CertRep with status 200, the RFC 8894 reply.
 * - Every call has a deadline of `timeoutMs` (the whole exchange, body
 *   included) and honours the caller's `AbortSignal`.
 * - A 2xx answer with the wrong content type (HTML from a gateway instead of
 *   `application/x-pki-message`, or a GetCACert that is neither
 *   `application/x-x509-ca-cert` nor `application/x-x509-ca-ra-cert`) is a
 *   failure, reason `other`. A GetCACaps is passed on as the upstream answered
 *   it (PROXY.md: passed through), an HTML (or XML) page too. The GetCACaps
 *   asked before a PKIOperation takes such a page (whatever its content type)
 *   as "no capabilities" (GET), except for a `custom` CA, whose one-time
 *   challenge the proxy consumed: there it is a failure, reason `other`, and
 *   the PKIOperation is not sent (`beforeRequest`, so the challenge goes back).
 *   A device's GetCACaps answered with a page is then not remembered as a
 *   `custom` CA's caps.
 * - User info in a CA URL (`https://user:pass@host/…`) is percent-decoded
 *   (UTF-8) and sent as HTTP Basic authentication, never in the URL. User info
 *   that does not decode (a stray `%`, escapes that are not UTF-8) fails the
 *   call before anything is sent: reason `other`, `beforeRequest`, a
 *   `ProxyConfigError` as `cause` ({@link MemoryCaRegistry} refuses such a CA
 *   when built).
 * - A failure before any byte of the request went out has
 *   `UpstreamError.beforeRequest`: connection refused, DNS, a TLS handshake
 *   failure, a socket error of `connect()` (`EHOSTUNREACH`, `ENETUNREACH`,
 *   `EHOSTDOWN`, `ENETDOWN`, `EADDRNOTAVAIL`: reason `other`; `ETIMEDOUT`:
 *   `timeout`), undici's connect timeout (`UND_ERR_CONNECT_TIMEOUT`, reason
 *   `timeout`), and for `pkiOperation` any failure of the GetCACaps asked
 *   first (reason and status its own). Not a timeout waiting for the answer,
 *   nor the same codes from an established socket (`read EHOSTUNREACH`).
 *
 * Errors never name the URL or credentials.
 *
 * In-process upstream: pass a `fetch` that hands the request to a
 * `FetchHandler` (`fetch: (input, init) => server.fetch(new Request(input, init))`)
 * to proxy to a `@scep/core` server in the same process without a socket.
 *
 * @example
 * ```ts
 * import { HttpUpstream, type CaConfig } from "@scep/proxy";
 *
 * const upstream = new HttpUpstream({ timeoutMs: 10_000 });
 * const ca: CaConfig = { name: "corp", type: "custom", url: "https://ca.corp.example/scep" };
 * const cert = await upstream.getCACert(ca, undefined); // contentType "application/x-x509-ca-ra-cert", body DER/PKCS#7
 * ```
 *
 * @throws {@link ProxyConfigError} (`ERR_PROXY_CONFIG`) from the constructor for a limit that is not a positive integer,
 * or a `userAgent` that is no HTTP field value.
 *
 * @group Upstream
 */
export class HttpUpstream implements Upstream {
  readonly #timeoutMs: number;
  readonly #capsTtlMs: number;
  readonly #maxResponse: number;
  readonly #maxRequest: number;
  readonly #fetch: typeof fetch;
  readonly #now: () => number;
  readonly #userAgent: string;
  readonly #caps = new Map<string, CachedCaps>();
  readonly #capsInFlight = new Map<string, Promise<boolean>>();

  constructor(options: HttpUpstreamOptions = {}) {
    this.#timeoutMs = integerOption("timeoutMs", options.timeoutMs, 30_000, TIMER_MS);
    this.#capsTtlMs = integerOption("capsTtlMs", options.capsTtlMs, 600_000, TIMER_MS);
    this.#maxResponse = integerOption("maxResponseBytes", options.maxResponseBytes, 2 * MiB, BODY_BYTES);
    this.#maxRequest = integerOption("maxRequestBytes", options.maxRequestBytes, 2 * MiB, BODY_BYTES);
    functionOption("fetch", options.fetch);
    functionOption("now", options.now);
    this.#fetch = options.fetch ?? ((input, init) => fetch(input, init));
    const now = options.now;
    this.#now = now ? () => now().getTime() : () => Date.now();
    if (options.userAgent !== undefined && (typeof options.userAgent !== "string" || NOT_FIELD_VALUE.test(options.userAgent))) {
      throw new ProxyConfigError("userAgent must be an HTTP field value: ASCII or Latin-1 characters (up to U+00FF), no control character but a tab (RFC 9110 section 5.5)");
    }
    this.#userAgent = options.userAgent ?? "scep-sdk @scep/proxy";
  }

  /** {@inheritDoc Upstream.getCACaps} */
  async getCACaps(ca: CaConfig, options: GetCACapsOptions = {}): Promise<UpstreamResponse> {
    // The CA identifier, as GetCACert sends it (RFC 8894 §3.5.1): EJBCA in CA mode answers 404 without one.
    const message = ca.caIdentifier ?? options.message;
    const res = await this.#call(ca, "GET", capsQuery(message), undefined, options.signal);
    // The caps of another CA than the one #supportsPost asks about (a device's own identifier) are not remembered.
    if (message !== ca.caIdentifier) return res;
    const text = new TextDecoder().decode(res.body);
    // Passed on unchanged, whatever it is. A page is no caps of a `custom` CA: forgotten, so its next PKIOperation
    // asks GetCACaps itself (and is not sent behind the page, see #supportsPost).
    if (ca.type === "custom" && capsTextIsMarkup(text)) this.#caps.delete(capsKey(ca));
    else this.#remember(capsKey(ca), text);
    return res;
  }

  /** {@inheritDoc Upstream.getCACert} */
  async getCACert(ca: CaConfig, message: string | undefined, options: UpstreamCallOptions = {}): Promise<UpstreamResponse> {
    const query: { operation: string; message?: string } = { operation: "GetCACert" };
    if (message !== undefined) query.message = message;
    const res = await this.#call(ca, "GET", query, undefined, options.signal);
    const type = mediaType(res.contentType);
    if (type !== CA_CERT_CONTENT_TYPE && type !== CA_RA_CERT_CONTENT_TYPE) throw new UpstreamError("other", "upstream answered GetCACert with an unexpected content type");
    return res;
  }

  /** {@inheritDoc Upstream.pkiOperation} */
  async pkiOperation(ca: CaConfig, message: Uint8Array, options: UpstreamCallOptions = {}): Promise<UpstreamResponse> {
    if (message.byteLength > this.#maxRequest) throw new UpstreamError("other", `PKIOperation message larger than ${this.#maxRequest} bytes`, { beforeRequest: true });
    let post: boolean;
    try {
      post = await this.#supportsPost(ca, options.signal);
    } catch (e) {
      // The GetCACaps asked to choose POST or GET failed (reset, timeout, aborted…): the PKIOperation was never sent.
      throw capsFailedFirst(e);
    }
    const res = post
      ? await this.#call(ca, "POST", { operation: "PKIOperation" }, message, options.signal, true)
      : await this.#call(ca, "GET", { operation: "PKIOperation", message: toBase64(message) }, undefined, options.signal, true);
    if (mediaType(res.contentType) !== PKI_MESSAGE_CONTENT_TYPE) throw new UpstreamError("other", "upstream answered PKIOperation with an unexpected content type");
    return res;
  }

  /** Whether PKIOperation goes by POST for this CA: from the cached caps, else one (shared) GetCACaps. */
  async #supportsPost(ca: CaConfig, signal: AbortSignal | undefined): Promise<boolean> {
    const cached = this.#caps.get(capsKey(ca));
    if (cached && cached.expires > this.#now()) return cached.post;
    if (signal?.aborted) throw new UpstreamError("other", "upstream call aborted by the caller", { cause: signal.reason });
    // A `custom` CA's caller reads a page otherwise than an ndes/smallstep one: they share no request.
    const pageFails = ca.type === "custom";
    const key = `${pageFails ? "custom" : "other"} ${capsKey(ca)}`;
    let inFlight = this.#capsInFlight.get(key);
    if (!inFlight) {
      inFlight = this.#call(ca, "GET", capsQuery(ca.caIdentifier), undefined, undefined)
        .then(
          (res) => {
            const text = new TextDecoder().decode(res.body);
            // A login or error page (a gateway in front of the CA, a URL that is no SCEP endpoint) holds no caps, and
            // says nothing reached the CA. For a `custom` CA, whose one-time challenge is at stake, the PKIOperation is
            // not sent (capsFailedFirst: beforeRequest, the challenge goes back); for ndes/smallstep it is "no
            // capabilities" (GET), as any other text without POSTPKIOperation.
            if (pageFails && capsTextIsMarkup(text)) throw htmlCaps();
            return this.#remember(capsKey(ca), text);
          },
          (e: unknown) => {
            // An upstream that answers GetCACaps with an HTTP error has no caps (RFC 8894 §3.5.2: GET only). A
            // transient one (5xx but 501, 429 Too Many Requests, 408 Request Timeout) says nothing about the caps:
            // GET is remembered for TRANSIENT_CAPS_TTL_MS only, not for capsTtlMs.
            if (e instanceof UpstreamError && e.reason === "http") return this.#remember(capsKey(ca), "", isTransientStatus(e.status) ? Math.min(TRANSIENT_CAPS_TTL_MS, this.#capsTtlMs) : this.#capsTtlMs);
            throw e;
          },
        )
        .finally(() => this.#capsInFlight.delete(key));
      this.#capsInFlight.set(key, inFlight);
      // Every caller may abort before it settles: its failure must never be an unhandled rejection.
      inFlight.catch(() => undefined);
    }
    if (!signal) return inFlight;
    try {
      return await abortable(inFlight, signal);
    } catch (e) {
      if (signal.aborted && e === signal.reason) throw new UpstreamError("other", "upstream call aborted by the caller", { cause: e });
      throw e;
    }
  }

  #remember(key: string, capsText: string, ttlMs = this.#capsTtlMs): boolean {
    const caps = parseCaCaps(capsText);
    const post = caps.has("POSTPKIOperation") || caps.has("SCEPStandard");
    this.#caps.set(key, { post, expires: this.#now() + ttlMs });
    return post;
  }

  /**
   * One HTTP exchange with the CA. `certRepOnError` (PKIOperation): an error status whose body is a CertRep is that
   * CertRep, passed on as the RFC 8894 reply (200, `application/x-pki-message`).
   */
  async #call(ca: CaConfig, method: "GET" | "POST", query: { operation: string; message?: string }, body: Uint8Array | undefined, signal: AbortSignal | undefined, certRepOnError = false): Promise<UpstreamResponse> {
    let url: URL;
    try {
      // The CA URL's own query as written, then operation and message (as ScepClient sends them; see scepRequestUrl).
      url = scepRequestUrl(ca.url, query);
    } catch (e) {
      throw new UpstreamError("other", "the CA's URL is not a valid URL", { cause: e, beforeRequest: true });
    }
    const headers: Record<string, string> = { "user-agent": this.#userAgent, accept: "*/*" };
    let credentials: UrlCredentials | undefined;
    try {
      credentials = urlCredentials(url, "the CA's url");
    } catch (e) {
      // A CA from a registry that did not check its URL (MemoryCaRegistry refuses it): nothing was sent.
      throw new UpstreamError("other", (e as Error).message, { cause: e, beforeRequest: true });
    }
    if (credentials) {
      headers.authorization = `Basic ${toBase64(new TextEncoder().encode(`${credentials.username}:${credentials.password}`))}`;
      url.username = "";
      url.password = "";
    }
    if (body) headers["content-type"] = PKI_MESSAGE_CONTENT_TYPE;

    const timeout = deadline(this.#timeoutMs, signal);
    const fail = (e: unknown): never => {
      if (e instanceof UpstreamError) throw e;
      if (timeout.expired) throw new UpstreamError("timeout", `upstream did not answer within ${this.#timeoutMs} ms`, { cause: e });
      if (signal?.aborted) throw new UpstreamError("other", "upstream call aborted by the caller", { cause: e });
      const code = errorCode(e);
      if (code === "ECONNREFUSED") throw new UpstreamError("connection_refused", "upstream refused the connection", { cause: e });
      if (isDnsCode(code)) throw new UpstreamError("dns", "upstream host name did not resolve", { cause: e });
      if (isTlsHandshakeCode(code)) throw new UpstreamError("tls", `upstream TLS handshake failed (${code})`, { cause: e });
      // The connection was never established (undici's connect timeout; a socket error of connect(), such as an
      // unreachable host): no byte of the request went out. The same code from an established socket (`read
      // EHOSTUNREACH` once Linux gives up retransmitting, a response timeout) proves nothing.
      const beforeRequest = failedToConnect(e);
      if (isResetCode(code)) throw new UpstreamError("other", "upstream connection reset", { cause: e, beforeRequest });
      if (code === CONNECT_TIMEOUT_CODE || code === "ETIMEDOUT") throw new UpstreamError("timeout", "upstream connection timed out", { cause: e, beforeRequest });
      if (isUnreachableCode(code)) throw new UpstreamError("other", `upstream host unreachable (${code})`, { cause: e, beforeRequest });
      throw new UpstreamError("other", `upstream request failed${code ? ` (${code})` : ""}`, { cause: e, beforeRequest });
    };

    let response: Response;
    try {
      // A POST follows a redirect with its body (fetch's own follow would re-send it as a GET without one); a
      // redirect to another origin drops the Authorization header, as fetch does for a GET.
      response = body
        ? (await postFollowingRedirects(this.#fetch, url, body, { headers, signal: timeout.signal })).response
        : await this.#fetch(url, { method, headers, signal: timeout.signal, redirect: "follow" });
    } catch (e) {
      timeout.clear();
      return fail(e);
    }
    try {
      if (response.status < 200 || response.status > 299) {
        // RFC 8894 §3.3.2: a CertRep is the answer whatever status carries it. AWS Private CA's Connector for SCEP
        // answers a refused PKIOperation 400 with the FAILURE CertRep as its body; the device gets that CertRep (and the
        // event its FAILURE) as from any CA, not a bare 400.
        if (certRepOnError) {
          const bytes = await readCapped(response.body, this.#maxResponse, timeout.signal);
          if (bytes !== "too-large" && peekCertRepStatus(bytes) !== undefined) return { status: 200, contentType: PKI_MESSAGE_CONTENT_TYPE, body: bytes };
        } else await response.body?.cancel().catch(() => undefined);
        const retryAfterSeconds = response.status === 503 || response.status === 429 ? parseRetryAfter(response.headers.get("retry-after"), this.#now()) : undefined;
        throw new UpstreamError("http", `upstream answered HTTP ${response.status}`, { status: response.status, ...(retryAfterSeconds === undefined ? {} : { retryAfterSeconds }) });
      }
      const declared = Number(response.headers.get("content-length") ?? NaN);
      if (declared > this.#maxResponse) {
        await response.body?.cancel().catch(() => undefined);
        throw new UpstreamError("other", `upstream response larger than ${this.#maxResponse} bytes`);
      }
      const bytes = await readCapped(response.body, this.#maxResponse, timeout.signal);
      if (bytes === "too-large") throw new UpstreamError("other", `upstream response larger than ${this.#maxResponse} bytes`);
      return { status: response.status, contentType: response.headers.get("content-type"), body: bytes };
    } catch (e) {
      return fail(e);
    } finally {
      timeout.clear();
    }
  }
}

/**
 * The failure of the GetCACaps `pkiOperation` asks before its PKIOperation, as the PKIOperation's: its reason and
 * status, `beforeRequest` true (the PKIOperation never went out, whatever became of the GetCACaps).
 */
function capsFailedFirst(e: unknown): UpstreamError {
  if (e instanceof UpstreamError && e.beforeRequest) return e;
  const reason = e instanceof UpstreamError ? e.reason : "other";
  const message = e instanceof UpstreamError ? e.message : "upstream call failed";
  const status = e instanceof UpstreamError && e.status !== undefined ? { status: e.status } : {};
  return new UpstreamError(reason, `GetCACaps before the PKIOperation: ${message}`, { cause: e, ...status, beforeRequest: true });
}

/** The caps cache's key of a CA: its URL and CA identifier (one server may host CAs of different caps). */
function capsKey(ca: CaConfig): string {
  return ca.caIdentifier === undefined ? ca.url : `${ca.url}\n${ca.caIdentifier}`;
}

/** The query of a GetCACaps: with the CA identifier as its `message` when there is one (RFC 8894 §3.5.1). */
function capsQuery(message: string | undefined): { operation: string; message?: string } {
  return message === undefined ? { operation: "GetCACaps" } : { operation: "GetCACaps", message };
}

/** The GetCACaps asked before a `custom` CA's PKIOperation answered a markup page: reason `other`. */
const htmlCaps = (): UpstreamError => new UpstreamError("other", "upstream answered GetCACaps with an HTML page, not capabilities");

/** How long "no caps" is remembered after a transient HTTP error on GetCACaps, in ms (at most `capsTtlMs`). */
const TRANSIENT_CAPS_TTL_MS = 30_000;

/** An HTTP status that says the server cannot answer now (5xx but 501 Not Implemented, 429, 408), not that it lacks the operation. */
function isTransientStatus(status: number | undefined): boolean {
  return status === undefined || (status >= 500 && status !== 501) || status === 429 || status === 408;
}
