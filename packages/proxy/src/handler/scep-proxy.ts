/**
 * The proxy handler: web-standard `Request` → `Response`, mountable like the
 * `@scep/core` server (PROXY.md).
 *
 * @module
 */
import { MessageType, clientAddressOf, ignoreRejection, isScepPathSuffix, isStoreUnavailable, peekCertRepStatus, peekMessageType, pkiMessageFromGetParam, pkiMessageFromPostBody, rawQueryParam, readBody, type ChallengeStore, type ConnectionInfo, type FetchHandler } from "@scep/core";
import { CA_TYPES, type CaConfig } from "../cas/ca-config.js";
import type { CaRegistry } from "../cas/ca-registry.js";
import { IdentifierError, ProxyConfigError, UpstreamError } from "../errors.js";
import { parseIdentifier, type ProxyIdentifier } from "../identifier.js";
import { deadline } from "../lib/deadline.js";
import { unusableAnswer, wireAnswer } from "../lib/upstream-answer.js";
import { BODY_BYTES, TIMER_MS, booleanOption, functionOption, integerOption, objectOption } from "../lib/options.js";
import type { ProfileKey, ProfileRecord, ProfileStore } from "../stores/profile-store.js";
import { HttpUpstream } from "../upstream/http-upstream.js";
import type { Upstream, UpstreamResponse } from "../upstream/upstream.js";
import { checkChallenge } from "./challenge-lifecycle.js";
import { resendBinding } from "./resend-binding.js";
import type { ProxyCaStats, ProxyEvent, ProxyEventSink, ProxyOperation, ProxyStats } from "./events.js";
import {
  ProxyReply,
  UPSTREAM_RETRY_AFTER_SECONDS,
  bodyAlreadyRead,
  internalError,
  methodNotAllowed,
  notDer,
  notFound,
  notPending,
  reject,
  storeUnavailable,
  tooLarge,
  unknownCaIdentifier,
  uriTooLong,
  upstreamFailed,
  upstreamRefused,
  upstreamStatusIsOurs,
  upstreamTimeout,
} from "./replies.js";
import { abortable } from "@scep/core/internal";

/**
 * Where the proxy writes what it does not tell the device (a store's error
 * behind a 500, a sink that threw). `details` never holds a challenge, a
 * password or an upstream URL.
 *
 * @group Proxy
 */
export interface ProxyLogger {
  /** Logs one failure. */
  error(message: string, details?: Record<string, unknown>): void;
}

/**
 * Options of {@link createScepProxy}.
 *
 * @group Proxy
 */
export interface ScepProxyOptions {
  /**
   * URL path the proxy serves under: `{basePath}/{identifier}`, and the same with a suffix clients append
   * (`…/pkiclient.exe`, `…/cgi-bin`: `isScepPathSuffix` of @scep/core) (default `/scep`; `""` for the root; a trailing
   * `/` is dropped). Compared with the request's path as sent, so it may hold only characters a path carries
   * unencoded (letters, digits, `/` and `- . _ ~ ! $ & ' ( ) * + , ; = : @`), starts with `/`, and has no `.` or `..`
   * segment; anything else (a space, a non-ASCII character, `%`, `?`, `#`, `\`) is `ProxyConfigError`
   * (`ERR_PROXY_CONFIG`) from `createScepProxy`, since no request could ever match it.
   */
  basePath?: string;
  /** The profile records (checks 2 and 3; requeues). */
  profiles: ProfileStore;
  /** The configured CAs (check 4). */
  cas: CaRegistry;
  /**
   * Where proxy-issued one-time challenges live (`@scep/core`'s `ChallengeStore`, profile = CA name); required for CAs
   * of type `custom`. When it has `release`, a challenge consumed for a message the upstream provably did not
   * process (nothing of it sent: connection refused, DNS, host or network unreachable, connect timeout, TLS handshake,
   * the GetCACaps asked first failing, `UpstreamError.beforeRequest`; or HTTP 503 or 429) is given back; without it,
   * it stays spent.
   * When it has `isSpentBy`, the re-send of the PKCSReq that spent a challenge (same transactionID and signer key,
   * signature verified; RFC 8894 §3.3.1, §3.3.3) is forwarded for as long as the challenge lives, and once one was
   * forwarded the challenge is not given back (the store records the match); without it, it is refused and requeued
   * like any other use of a spent challenge.
   */
  challenges?: ChallengeStore;
  /**
   * Whether the re-send of the PKCSReq that spent a `custom` CA's one-time challenge is forwarded (default true; RFC
   * 8894 §3.3.1, §3.3.3: a device answered PENDING, or whose reply was lost, sends the same request again). The proxy
   * cannot read the CSR (it is encrypted to the CA), so while the challenge lives the holder of the first PKCSReq's
   * key may also send other CSRs under its transactionID, and a CA that takes them as new enrollments issues each:
   * `false` keeps the one-time URL to one PKCSReq (its re-send is refused and requeued like any use of a spent
   * challenge, and no signature is checked to bind it), at the cost of those devices' re-sends. Needs a `challenges`
   * store with `isSpentBy` to have any effect when true. Anything but a boolean is `ProxyConfigError`
   * (`ERR_PROXY_CONFIG`) from `createScepProxy`.
   */
  forwardResends?: boolean;
  /** How upstreams are called (default an {@link HttpUpstream} with `upstreamTimeoutMs` and `maxBodyBytes`). */
  upstream?: Upstream;
  /**
   * Longest an upstream call may take, in milliseconds (default 30 000); then the device gets 504, whatever the
   * `upstream` does. An integer from 1 to 2 147 483 647 (ms), else `ProxyConfigError` (`ERR_PROXY_CONFIG`) from
   * `createScepProxy`.
   */
  upstreamTimeoutMs?: number;
  /**
   * Largest PKIOperation message read from a device (POST body, or GET `message` once decoded), in bytes (default
   * 2 MiB); larger: 413 `request too large` for a POST body, 414 `request URI too long` for a GET `message` (RFC 9110
   * §15.5.15; its base64 is refused unread past 4/3 of it plus 1 KiB). An integer from 1 to 1 073 741 824 (bytes),
   * else `ProxyConfigError` (`ERR_PROXY_CONFIG`) from `createScepProxy`.
   */
  maxBodyBytes?: number;
  /** Clock of the challenge lifecycles, of the events' `time`, and of the default `upstream`'s caps expiry and HTTP-date `Retry-After` (default `() => new Date()`). A clock that throws fails the requests that read it (a challenge check: 500, logged); an event's `time` then falls back to the system clock. */
  now?: () => Date;
  /** Event sink(s), called once per request. */
  onEvent?: ProxyEventSink | readonly ProxyEventSink[];
  /**
   * Where failures behind a 500 go (default `console.error`, with the error's name, code and message). A logger that
   * throws, or an async one that rejects, is ignored: the device still gets its answer.
   */
  logger?: ProxyLogger;
}

/**
 * A running proxy: a `FetchHandler` (so `@scep/express` and `@scep/hono` mount
 * it like the SCEP server) with per-CA stats.
 *
 * @group Proxy
 */
export interface ScepProxy extends FetchHandler {
  /** The normalised base path (no trailing `/`). */
  readonly basePath: string;
  /** True for `{basePath}` and every path under it. */
  owns(pathname: string): boolean;
  /**
   * Answers one device request; never rejects. `info.remoteAddress`, the device's IP address as the adapter saw it,
   * becomes the event's `clientAddress` (a web `Request` carries none).
   */
  fetch(request: Request, info?: ConnectionInfo): Promise<Response>;
  /** Counters since the proxy was created (a snapshot). */
  stats(): ProxyStats;
}

const MiB = 1024 * 1024;
const OPERATIONS: readonly ProxyOperation[] = ["GetCACaps", "GetCACert", "PKIOperation"];

const consoleLogger: ProxyLogger = { error: (message, details) => console.error(`@scep/proxy: ${message}`, details ?? {}) };

/**
 * The operator's logger, made harmless: a `logger.error` that throws, or an async one that rejects, is dropped. The
 * proxy logs from its catch blocks, so an unguarded throw there turned the device's answer into a rejected `fetch`,
 * and a rejection became an unhandled rejection (which ends a Node process by default).
 */
function guardLogger(logger: ProxyLogger): ProxyLogger {
  return {
    error(message, details) {
      try {
        ignoreRejection(logger.error(message, details));
      } catch {
        // a broken logger must not change the answer
      }
    },
  };
}

function describeError(e: unknown): Record<string, unknown> {
  if (e instanceof Error) {
    const code = (e as Error & { code?: unknown }).code;
    return { name: e.name, ...(typeof code === "string" ? { code } : {}), message: e.message };
  }
  return { error: typeof e };
}

/**
 * Whether an upstream failure proves the CA issued nothing for the message, so a one-time challenge consumed for it
 * may be given back: the request never reached the CA ({@link UpstreamError.beforeRequest}: the connection refused,
 * the host name unresolved, the host or network unreachable, undici's connect timeout, a failed TLS handshake, or the
 * GetCACaps asked before the PKIOperation failed so the PKIOperation was never sent; and reasons
 * `connection_refused`, `dns`, `tls` from any `Upstream`) or the CA answered that it did not process it (HTTP 503
 * busy, 429 rate-limited: RFC 9110 §15.6.4, RFC 6585 §4). Not a timeout waiting for the answer (the CA may have
 * issued and answered late), a reset or another failure mid-exchange, nor a 500, 502 or 504 (a CA that failed after
 * signing, a gateway that gave up on a CA still working): those keep it spent.
 */
function provesNotIssued(error: UpstreamError): boolean {
  if (error.beforeRequest === true) return true;
  if (error.reason === "connection_refused" || error.reason === "dns" || error.reason === "tls") return true;
  return error.reason === "http" && (error.status === 503 || error.status === 429);
}

/** 16 random bytes in hex (WebCrypto): the id of one consume. */
function randomId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * A character a request's path carries as it is (RFC 3986 §3.3 pchar, without `%`, and `/`): what a WHATWG URL parse
 * leaves unchanged. @scep/core's `targetPath` reads a path the same way.
 */
const PLAIN_PATH_CHARACTER = /[\w\-.~!$&'()*+,;=:@/]/;

/**
 * The base path, checked: a string starting with `/` (or `""`), trailing `/` removed, that some request path can
 * equal. The router compares it with the request's path as the URL parser leaves it (`new URL(request.url).pathname`,
 * percent-encoded), while adapters ask {@link ScepProxy.owns} with a path that may be decoded (Hono's `c.req.path`):
 * a space, a non-ASCII character, `%`, `\\` and the like reach the two in different spellings, `?` and `#` never
 * reach the path, and the parser removes `.` and `..` segments, so such a base answered every request 404. Refused,
 * not rewritten to one of the spellings.
 */
function normaliseBase(basePath: unknown): string {
  if (basePath !== undefined && typeof basePath !== "string") throw new ProxyConfigError(`basePath must be a string (got ${basePath === null ? "null" : typeof basePath})`);
  const base = (basePath ?? "/scep").replace(/\/+$/, "");
  if (base !== "" && !base.startsWith("/")) throw new ProxyConfigError("basePath must start with /");
  const at = [...base].findIndex((c) => !PLAIN_PATH_CHARACTER.test(c));
  if (at >= 0) {
    const c = [...base][at]!;
    const shown = /^[\x21-\x7e]$/.test(c) ? c : `U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")}`;
    throw new ProxyConfigError(
      `basePath must hold only letters, digits, / and - . _ ~ ! $ & ' ( ) * + , ; = : @ (got ${shown} at character ${at + 1}): a request path carries any other character percent-encoded, or not at all (RFC 3986 section 3.3), so no request would match`,
    );
  }
  if (base.split("/").some((segment) => segment === "." || segment === "..")) {
    throw new ProxyConfigError("basePath must not hold a . or .. segment: URL parsing removes them from every request path, so no request would match");
  }
  return base;
}

/**
 * Creates the SCEP proxy handler.
 *
 * For each request under `basePath`, in PROXY.md's order:
 * 1. parse the identifier (`{basePath}/{identifier}` or `…/pkiclient.exe`) → 400 `invalid identifier`;
 *    then the operation (`GetCACaps`, `GetCACert`, `PKIOperation`; POST only for PKIOperation) → 400 / 405;
 * 2. look the record up → 400 `unknown identifier`;
 * 3. status `pending` (unless the CA exempts the record's platform) → 400 `profile status is not pending: <status>`;
 *    at `none` (requeued), a `custom` CA's PKIOperation that is the PKCSReq which spent the URL's challenge sent again,
 *    or a CertPoll of it (signature verified, binding matched by `ChallengeStore.isSpentBy`, with `forwardResends`),
 *    is forwarded (event `resend: true`), so a device left PENDING upstream still collects its certificate after
 *    another use of its URL requeued the profile;
 * 4. resolve the CA by name (the registry's default when the identifier has none) and type → 400
 *    `SCEP proxy is not configured`; before any challenge is consumed;
 * 5. PKIOperation: read the message (413 over `maxBodyBytes`, for a GET `message` 414 URI Too Long, RFC 9110
 *    §15.5.15; 400 `invalid message`; a POST body that is not the DER
 *    PKIMessage nor its base64 or PEM text, RFC 8894 §4.1: 400 saying so), then the challenge
 *    lifecycle of the CA type; an expired or invalid challenge requeues the profile (only while its record is still
 *    the one read in step 2: `ProfileStore.requeue` with `expected`, so a re-registration made meanwhile stays
 *    pending) → 400 `challenge password has expired` / `challenge failed`; a `custom` CA's challenge other than the one the record's
 *    `challengeHash` names (an earlier URL of a re-registered profile) → 400 `challenge superseded`, nothing consumed,
 *    no requeue. A CertPoll (messageType 20, RFC 8894 §3.3.3: polling a PENDING enrollment) skips the challenge
 *    check: it carries none, spends none, and the CA answers it from its own transaction. A `custom` CA's PKCSReq
 *    (messageType 19) whose signature verifies (`verifyRequestSigner`: messageDigest and signature by the key of the
 *    certificate its SignerInfo names, checked here, not left to the CA) consumes the challenge with a binding of its
 *    transactionID and signer key; a later PKCSReq through the spent challenge whose signature verifies and whose
 *    binding is that one is its re-send (RFC 8894 §3.3.1, §3.3.3: after PENDING or a lost reply) and is forwarded
 *    without requeue and without consuming (`ChallengeStore.isSpentBy`; event `resend: true`), while the challenge
 *    lives. The exact bytes replayed by someone else are harmless (the CA answers its own transaction, to the
 *    device's key); another transactionID, another key or a message whose signature does not verify is refused as
 *    above. A RenewalReq spends its challenge as before, without a binding;
 * 6. forward, and return the upstream's status, bytes and content type unchanged (a PKIOperation's CertRep status and
 *    failInfo go to the event as `certRep`, read without a key); a 2xx no SCEP client can use, a PKIOperation or
 *    GetCACert with an empty body or a GetCACert PKCS#7 without certificates (RFC 8894 §4.2.1.2), is a failure of the
 *    upstream (reason `other`): 502 `upstream failed`, never passed on; so is an answer HTTP cannot carry, from an
 *    `Upstream` of one's own (a status that is no integer 200–599, a Content-Type holding CR, LF or another control
 *    character or a character past U+00FF, a body that is no `Uint8Array`, content with a 204 or 205), while a
 *    resolved status 300–599 is taken as the upstream's HTTP error (as if rejected with reason `http`); 504 `upstream
 *    timed out`, 502 `upstream failed` (for an upstream 503 or 429 with `Retry-After`: the upstream's, rounded up to
 *    whole seconds and clamped to 1–3600 s, 30 s when it sent none or no number (NaN); not when a `custom` CA's
 *    one-time challenge stays consumed by a request whose re-send cannot pass: a RenewalReq, `forwardResends: false`, a store without `isSpentBy`). When the challenge stays
 *    consumed by a PKCSReq whose re-send is forwarded (its consume recorded a binding, or it is that re-send), every
 *    502 and the 504 carry `Retry-After` (the upstream's for a 503/429, else 30 s). An upstream 413 stays 413, a 414
 *    is 414 `request URI too long` to a device's GET (413 to its POST); a 401, 403, 404, 405, 407, 408, 411, 415 or
 *    429 (the proxy's credentials, URL, method or request, or a rate limit) is a 502 `upstream failed` as above;
 *    any other upstream 4xx → 400 `upstream refused the request`: the
 *    device's message is what was refused, so the device gets a 4xx, never a 5xx. GetCACert sends the CA's
 *    `caIdentifier` when it has one, else the device's `message`. A GetCACert whose `message` (the CA
 *    identifier the device chose, RFC 8894 §4.2; not a configured `caIdentifier`) the upstream answered 404 is asked once more without it: when the
 *    upstream serves its CA certificate then, the identifier was unknown → 404 `unknown CA identifier` (event reason
 *    `upstream_refused`); else the 502 stays (the CA's configured URL is wrong, or the upstream needs an identifier). A `custom` CA's challenge is
 *    given back (`ChallengeStore.release`, bound to this request's consume; event `challengeReleased`) when the
 *    failure proves the CA issued nothing: nothing of the request was sent (`UpstreamError.beforeRequest`: connection
 *    refused, DNS, host or network unreachable, connect timeout, TLS handshake, the GetCACaps asked before the
 *    PKIOperation failing), or HTTP 503 or 429; the store
 *    refuses once the request's re-send was forwarded (`isSpentBy` records the match atomically), since the CA may
 *    have issued for that re-send. After a timeout waiting for the answer, a reset, a 500/502/504 or another failure it stays spent (the
 *    CA may have issued).
 *
 * A store that throws `StoreUnavailableError` (`ERR_STORE_UNAVAILABLE`) → 503 `service unavailable` with
 * `Retry-After`; any other failure of the proxy → 500 `internal error` (details to `logger`). Bodies are fixed
 * `text/plain` strings: no input is echoed, no upstream URL or credential leaks. Paths outside `basePath`: 404.
 *
 * @throws {@link ProxyConfigError} (`ERR_PROXY_CONFIG`) for a `basePath` that is not a string starting with `/`, or
 * that holds a character a request path carries percent-encoded or not at all (a space, a non-ASCII character, `%`,
 * `?`, `#`, `\`) or a `.` or `..` segment (no request could match it), a limit that is not a positive integer, or a CA
 * of type `custom` in `cas` without `challenges`.
 *
 * @example
 * ```ts
 * import { MemoryChallengeStore } from "@scep/core";
 * import { MemoryCaRegistry, MemoryProfileStore, createScepProxy } from "@scep/proxy";
 *
 * const proxy = createScepProxy({
 *   basePath: "/scep",
 *   profiles: new MemoryProfileStore(),
 *   cas: new MemoryCaRegistry([{ name: "corp", type: "custom", url: "https://ca.corp.example/scep" }]),
 *   challenges: new MemoryChallengeStore(),
 *   upstreamTimeoutMs: 10_000,
 *   onEvent: (e) => console.log(e.operation, e.hostId, e.outcome, e.reason, e.upstream?.reason),
 * });
 * const res = await proxy.fetch(new Request("http://localhost/scep/host-42,wifi,corp?operation=GetCACaps"));
 * ```
 *
 * @group Proxy
 */
export function createScepProxy(options: ScepProxyOptions): ScepProxy {
  const base = normaliseBase(options.basePath);
  const { profiles, cas, challenges } = options;
  objectOption("profiles", profiles, "ProfileStore", ["get", "put", "requeue", "markFailed", "delete", "list"]);
  objectOption("cas", cas, "CaRegistry", ["get", "list"]);
  if (challenges !== undefined) objectOption("challenges", challenges, "ChallengeStore", ["issue", "consume"]);
  if (options.upstream !== undefined) objectOption("upstream", options.upstream, "Upstream", ["getCACaps", "getCACert", "pkiOperation"]);
  if (options.logger !== undefined) objectOption("logger", options.logger, "ProxyLogger", ["error"]);
  functionOption("now", options.now);
  if (options.onEvent !== undefined && typeof options.onEvent !== "function") {
    if (!Array.isArray(options.onEvent)) throw new ProxyConfigError("onEvent must be a function or an array of functions");
    (options.onEvent as readonly unknown[]).forEach((sink, i) => functionOption(`onEvent[${i}]`, sink, false));
  }
  const forwardResends = booleanOption("forwardResends", options.forwardResends, true);
  const upstreamTimeoutMs = integerOption("upstreamTimeoutMs", options.upstreamTimeoutMs, 30_000, TIMER_MS);
  const maxBody = integerOption("maxBodyBytes", options.maxBodyBytes, 2 * MiB, BODY_BYTES);
  const now = options.now ?? (() => new Date());
  // The default upstream reads caps expiry and HTTP-date Retry-After values with the proxy's clock.
  const upstream = options.upstream ?? new HttpUpstream({ timeoutMs: upstreamTimeoutMs, maxRequestBytes: maxBody, maxResponseBytes: maxBody, now });
  const logger = guardLogger(options.logger ?? consoleLogger);
  const sinks: readonly ProxyEventSink[] = options.onEvent === undefined ? [] : typeof options.onEvent === "function" ? [options.onEvent] : [...options.onEvent];
  if (!challenges && cas.list().some((ca) => ca.type === "custom")) throw new ProxyConfigError("a CA of type custom needs the challenges option (a ChallengeStore)");

  // `cas` has no prototype: a CA may be named `constructor` or `__proto__` (structuredClone hands out plain copies).
  const stats: ProxyStats = { requests: 0, cas: Object.create(null) as ProxyStats["cas"], unattributed: {} };

  const owns = (pathname: string): boolean => base === "" || pathname === base || pathname.startsWith(`${base}/`);

  /** Runs a store call: StoreUnavailableError → 503, anything else → 500 (logged). */
  async function store<T>(what: string, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (e) {
      if (isStoreUnavailable(e)) {
        logger.error(`${what}: store unavailable`, describeError(e));
        // A duplicate copy's may be anything: storeUnavailable sends whole seconds, 1 s to a day, 30 s for no number.
        throw storeUnavailable(e.retryAfterSeconds as unknown);
      }
      logger.error(`${what} failed`, describeError(e));
      throw internalError();
    }
  }

  /**
   * One upstream call under the proxy's own deadline (whatever the `Upstream` does with the signal). `spent`: the
   * request's one-time challenge was consumed (or, for a re-send, is spent by its first send); when the upstream's
   * failure proves it issued nothing ({@link provesNotIssued}), `spent.release()` gives it back so the device's retry
   * of the same URL passes (the store refuses once a re-send of it was forwarded). A challenge still spent after a
   * failure means a retry of the same URL passes only as this PKCSReq's re-send: when `spent.bound` it does, and the
   * 502/504 carries Retry-After (the upstream's for a 503/429, else 30 s); when not, no Retry-After invites one.
   */
  async function forward(
    call: (signal: AbortSignal) => Promise<UpstreamResponse>,
    request: Request,
    event: Partial<ProxyEvent>,
    spent?: { release: (() => Promise<boolean>) | undefined; bound: boolean },
  ): Promise<Response | ProxyReply> {
    const limit = deadline(upstreamTimeoutMs, request.signal);
    try {
      // abortable: the deadline holds even for an Upstream that ignores the signal.
      // What goes on the wire, as HTTP can carry it: an Upstream of one's own may resolve with a status, Content-Type or
      // body a Response refuses (UpstreamError `other`), or with an HTTP error status (UpstreamError `http`).
      const res = wireAnswer(await abortable(call(limit.signal), limit.signal));
      // A 2xx no client can use (an empty CertRep or CA certificate, a PKCS#7 without certificates): the upstream
      // failed, not a reply to pass on. Reason `other`; a consumed challenge stays spent (the CA may have issued).
      const unusable = unusableAnswer(event.operation, res.body ?? new Uint8Array(0));
      if (unusable !== undefined) throw new UpstreamError("other", unusable);
      const headers: Record<string, string> = {};
      if (res.contentType !== undefined) headers["content-type"] = res.contentType;
      event.status = res.status;
      // The CA's verdict inside its 200 (RFC 8894 §3.3.2): a FAILURE CertRep is an enrollment that failed upstream.
      if (event.operation === "PKIOperation" && res.body) {
        const rep = peekCertRepStatus(res.body);
        if (rep) event.certRep = rep;
      }
      return new Response(res.body as Uint8Array<ArrayBuffer> | null, { status: res.status, headers });
    } catch (e) {
      let error: UpstreamError;
      if (limit.signal.aborted && e === limit.signal.reason) {
        error = limit.expired
          ? new UpstreamError("timeout", `upstream did not answer within ${upstreamTimeoutMs} ms`)
          : new UpstreamError("other", "upstream call aborted: the device went away");
      } else if (e instanceof UpstreamError) error = e;
      else {
        logger.error("upstream call threw a non-UpstreamError", describeError(e));
        error = new UpstreamError(limit.expired ? "timeout" : "other", "upstream call failed", { cause: e });
      }
      event.upstream = { reason: error.reason, ...(error.status !== undefined ? { status: error.status } : {}) };
      let stillSpent = spent !== undefined;
      if (spent?.release && provesNotIssued(error)) {
        stillSpent = !(await releaseChallenge(spent.release));
        if (!stillSpent) event.challengeReleased = true;
      }
      // Busy (503) or rate-limited (429): not the device's mistake, and worth retrying: 502 with the upstream's
      // Retry-After, when the retry can pass (no challenge spent, or the spent one is bound to this PKCSReq).
      const retryPasses = !stillSpent || spent?.bound === true;
      const busy = error.reason === "http" && (error.status === 503 || error.status === 429);
      if (busy && retryPasses) return upstreamFailed({ retryAfterSeconds: error.retryAfterSeconds });
      // A 4xx about the device's message tells it so; one about the proxy's side is a 502 like any upstream failure.
      const status = error.reason === "http" ? error.status : undefined;
      if (status !== undefined && status >= 400 && status <= 499 && !upstreamStatusIsOurs(status)) return upstreamRefused(status, request.method);
      // Any other failure that leaves a bound challenge spent: the re-send passes, so say when to send it.
      // Not after an upstream 4xx about the proxy's configuration (its credentials, URL, method, request): the re-send
      // would meet the same refusal until an operator acts, and a Retry-After would only invite a retry loop.
      const configRefusal = status !== undefined && status >= 400 && status <= 499 && status !== 408 && status !== 429;
      const resendPasses = stillSpent && spent?.bound === true && !configRefusal;
      if (error.reason === "timeout") return upstreamTimeout(resendPasses ? UPSTREAM_RETRY_AFTER_SECONDS.default : undefined);
      return upstreamFailed(resendPasses ? { retryAfterSeconds: undefined } : undefined);
    } finally {
      limit.clear();
    }
  }

  /**
   * Whether the upstream answers GetCACert without a CA identifier (RFC 8894 §4.2: `message` optional), under a
   * deadline of its own (`upstreamTimeoutMs`). Asked only after it answered 404 to the device's identifier: then the CA's
   * configured URL is right and the identifier was unknown. Any failure (the URL 404s too, the upstream needs an
   * identifier, a timeout) is false: the proxy cannot tell, and keeps its 502.
   */
  async function servesWithoutIdentifier(ca: CaConfig, request: Request): Promise<boolean> {
    const limit = deadline(upstreamTimeoutMs, request.signal);
    try {
      const res = wireAnswer(await abortable(upstream.getCACert(ca, undefined, { signal: limit.signal }), limit.signal));
      return unusableAnswer("GetCACert", res.body ?? new Uint8Array(0)) === undefined;
    } catch {
      return false;
    } finally {
      limit.clear();
    }
  }

  /** Gives a consumed challenge back; false (logged, never thrown) when the store refused or failed. */
  async function releaseChallenge(release: () => Promise<boolean>): Promise<boolean> {
    try {
      if (await release()) return true;
      logger.error("challenge release refused: the challenge stays spent", {});
    } catch (e) {
      logger.error("challenge release failed: the challenge stays spent", describeError(e));
    }
    return false;
  }

  async function readMessage(request: Request, url: URL): Promise<Uint8Array | ProxyReply> {
    if (request.method === "POST") {
      const body = await readBody(request, maxBody);
      if (body === "too-large") return tooLarge();
      if (body === "already-read") return bodyAlreadyRead();
      if (body === "aborted" || body.byteLength === 0) return reject("bad_message");
      // Checked before the challenge: a body no CA can read must not spend a one-time challenge.
      return pkiMessageFromPostBody(body) ?? notDer();
    }
    const der = pkiMessageFromGetParam(url.search, maxBody);
    if (der === "too-large") return uriTooLong();
    // Missing, not base64, or not a PKIMessage (empty, or not a SEQUENCE): no challenge spent on it.
    return typeof der === "string" ? reject("bad_message") : der;
  }

  /**
   * A PKIOperation through a `custom` CA's one-time URL whose profile was requeued (status `none`): forwarded when it is
   * the PKCSReq that spent the URL's challenge sent again, or a CertPoll of it (RFC 8894 §3.3.1, §3.3.3), i.e. its
   * signature verifies and its transactionID and signer key are the binding that PKCSReq's consume recorded
   * (`ChallengeStore.isSpentBy`, while the challenge lives). A requeue follows any other use of a spent URL (Fleet's
   * rule, PROXY.md check 5); without this, the device whose enrollment went PENDING upstream could never collect its
   * certificate once anything else touched its URL. Undefined (the caller answers `not pending`) for anything else,
   * for another CA type (nothing binds a request to its device there), with `forwardResends: false` or a store
   * without `isSpentBy`, and for a message that cannot be read (nothing is consumed or requeued either way).
   */
  async function resumeSpent(ca: CaConfig, id: ProxyIdentifier, request: Request, url: URL, event: Partial<ProxyEvent>): Promise<Response | ProxyReply | undefined> {
    const challenge = id.challenge;
    if (ca.type !== "custom" || !forwardResends || !challenges?.isSpentBy || challenge === undefined || challenge === "") return undefined;
    const message = await readMessage(request, url);
    if (message instanceof ProxyReply) return undefined;
    const binding = await resendBinding(message, { certPoll: true });
    if (binding === undefined) return undefined;
    if (!(await store("challenge check", () => challenges.isSpentBy!(challenge, { profile: ca.name, binding })))) return undefined;
    event.caType = ca.type;
    event.resend = true;
    return forward((signal) => upstream.pkiOperation(ca, message, { signal }), request, event, { release: undefined, bound: true });
  }

  async function handle(request: Request, event: Partial<ProxyEvent>, read: { record?: ProfileRecord }): Promise<Response | ProxyReply> {
    let url: URL;
    try {
      url = new URL(request.url);
    } catch {
      return notFound();
    }
    if (!owns(url.pathname)) return notFound();
    if (request.method !== "GET" && request.method !== "POST" && request.method !== "HEAD") return methodNotAllowed(rawQueryParam(url.search, "operation"));

    // 1. The identifier: one segment, optionally followed by a suffix clients append (/pkiclient.exe, /cgi-bin, …).
    const rest = url.pathname.slice(base.length);
    const slash = rest.indexOf("/", 1);
    const segment = !rest.startsWith("/") ? undefined : slash < 0 ? rest.slice(1) : isScepPathSuffix(rest.slice(slash + 1)) ? rest.slice(1, slash) : undefined;
    let id: ProxyIdentifier;
    try {
      if (segment === undefined) throw new IdentifierError("field_count");
      id = parseIdentifier(segment);
    } catch (e) {
      if (e instanceof IdentifierError) return reject("invalid_identifier");
      throw e;
    }
    event.hostId = id.hostId;
    event.profileId = id.profileId;

    const op = rawQueryParam(url.search, "operation");
    const operation = OPERATIONS.find((o) => o === op);
    if (!operation) return reject("bad_operation");
    event.operation = operation;
    if (request.method === "POST" && operation !== "PKIOperation") return methodNotAllowed(operation);
    // HEAD is safe (RFC 9110 §9.2.1): GetCACaps and GetCACert as GET (their bodies dropped in `fetch`), never a
    // PKIOperation, which would spend a challenge or requeue the profile for a reply HEAD throws away.
    if (request.method === "HEAD" && operation === "PKIOperation") return methodNotAllowed(operation);

    // 2. The record. Without a caName and without a default CA there is no key to look up.
    const caName = id.caName ?? cas.defaultName;
    if (caName === undefined) return reject("not_configured");
    event.caName = caName;
    const key: ProfileKey = { hostId: id.hostId, profileId: id.profileId, caName };
    const record = await store("profile lookup", () => profiles.get(key));
    if (!record) return reject("unknown_identifier");
    read.record = record;

    // 3. Status (a CA may exempt a platform), 4. the CA, before any challenge is consumed.
    const ca: CaConfig | undefined = cas.get(caName);
    const exempt = ca?.exemptPlatforms !== undefined && record.platform !== undefined && ca.exemptPlatforms.includes(record.platform);
    const configured = ca !== undefined && CA_TYPES.includes(ca.type) && (ca.type !== "custom" || challenges !== undefined);
    if (record.status !== "pending" && !exempt) {
      // Requeued (`none`) while its device waited on a PENDING enrollment: that device's poll or re-send still passes.
      if (record.status === "none" && configured && operation === "PKIOperation") {
        const resumed = await resumeSpent(ca, id, request, url, event);
        if (resumed) return resumed;
      }
      return notPending(record.status);
    }
    if (!configured) return reject("not_configured");
    event.caType = ca.type;

    if (operation === "GetCACaps") {
      // Named as GetCACert names it (RFC 8894 §3.5.1): the CA's configured identifier, else the device's `message`
      // (an upstream serving several CAs, EJBCA in CA mode, answers a GetCACaps without one 404).
      const message = ca.caIdentifier ?? rawQueryParam(url.search, "message");
      return forward((signal) => upstream.getCACaps(ca, message === undefined ? { signal } : { signal, message }), request, event);
    }
    if (operation === "GetCACert") {
      // The CA's configured identifier, when it has one, replaces the device's (Windows always sends `default`).
      const message = ca.caIdentifier ?? rawQueryParam(url.search, "message");
      const answer = await forward((signal) => upstream.getCACert(ca, message, { signal }), request, event);
      // A 404 to the CA identifier the device chose, from an upstream that serves its CA without one: the device's.
      const notFound = event.upstream?.reason === "http" && event.upstream.status === 404;
      if (notFound && ca.caIdentifier === undefined && message !== undefined && message !== "" && (await servesWithoutIdentifier(ca, request))) return unknownCaIdentifier();
      return answer;
    }

    // 5. PKIOperation: the message first (an oversize body must not burn a challenge), then the challenge.
    const message = await readMessage(request, url);
    if (message instanceof ProxyReply) return message;
    // A CertPoll (RFC 8894 §3.3.3) asks for the outcome of the enrollment whose PKCSReq passed the challenge here: it
    // carries no challenge, spends none, and the CA answers it from the transaction it holds (PENDING, or the
    // certificate once approved). Checking the URL's challenge again refused every poll after a PENDING.
    if (peekMessageType(message) === MessageType.CertPoll) return forward((signal) => upstream.pkiOperation(ca, message, { signal }), request, event);
    // This request's consume of a one-time challenge, so a release puts back this consume and no later one.
    const consumption = randomId();
    // A custom CA's PKCSReq whose signature verifies records who spent the challenge, so its re-send passes (RFC 8894
    // §3.3.1, §3.3.3; see resend-binding.ts for what this lets through and what it does not). Computed (a signature
    // verified) only once a consume is due, only for a store that can match it (`isSpentBy`), and not at all with
    // `forwardResends: false`.
    const binding = ca.type === "custom" && forwardResends && challenges?.isSpentBy ? () => resendBinding(message) : undefined;
    const verdict = await store("challenge check", () => checkChallenge(ca, record, id, { nowMs: now().getTime(), challenges, consumption, binding }));
    if (!verdict.ok) {
      // A superseded challenge is an earlier URL of a profile the MDM registered again: the current URL is out
      // there, pending; a requeue would set it to none and make the current URL fail too.
      if (verdict.reason === "challenge_superseded") return reject(verdict.reason);
      // Only the registration this verdict is about: the MDM may have registered the profile again (new challenge,
      // status pending) while the challenge was checked (a store round trip for a custom CA), and requeuing that would
      // break the URL it just handed out. The store compares the record with the one read above, atomically.
      if ((await store("requeue", () => profiles.requeue(key, record))) !== false) event.requeued = true;
      return reject(verdict.reason);
    }
    // 6. Forward, bytes unchanged.
    // The re-send of the PKCSReq that spent the challenge consumed nothing: nothing to give back, and its own re-send
    // passes again (so a 503/429 keeps its Retry-After).
    if (verdict.resend) {
      event.resend = true;
      return forward((signal) => upstream.pkiOperation(ca, message, { signal }), request, event, { release: undefined, bound: true });
    }
    // A custom CA's one-time challenge was consumed by the check above: given back only when the upstream provably
    // issued nothing, else the same URL cannot be retried (but the same PKCSReq can: its re-send matches the binding).
    const challenge = id.challenge!;
    const release = challenges?.release?.bind(challenges);
    const spent = ca.type === "custom" ? { release: release && (() => release(challenge, { profile: ca.name, consumption })), bound: verdict.bound === true } : undefined;
    return forward((signal) => upstream.pkiOperation(ca, message, { signal }), request, event, spent);
  }

  function count(event: ProxyEvent): void {
    stats.requests++;
    const ca = event.caName !== undefined ? cas.get(event.caName) : undefined;
    if (!ca) {
      stats.unattributed[event.reason] = (stats.unattributed[event.reason] ?? 0) + 1;
      return;
    }
    const s: ProxyCaStats = (stats.cas[ca.name] ??= {
      caName: ca.name,
      caType: ca.type,
      requests: 0,
      outcomes: {},
      reasons: {},
      requeues: 0,
      challengeReleases: 0,
      resends: 0,
      upstreamFailures: {},
      upstreamHttpStatuses: {},
    });
    s.requests++;
    s.outcomes[event.outcome] = (s.outcomes[event.outcome] ?? 0) + 1;
    s.reasons[event.reason] = (s.reasons[event.reason] ?? 0) + 1;
    if (event.requeued) s.requeues++;
    if (event.challengeReleased) s.challengeReleases++;
    if (event.resend) s.resends++;
    if (event.upstream) {
      s.upstreamFailures[event.upstream.reason] = (s.upstreamFailures[event.upstream.reason] ?? 0) + 1;
      if (event.upstream.status !== undefined) s.upstreamHttpStatuses[String(event.upstream.status)] = (s.upstreamHttpStatuses[String(event.upstream.status)] ?? 0) + 1;
    }
  }

  return {
    basePath: base,
    owns,
    async fetch(request: Request, info?: ConnectionInfo): Promise<Response> {
      // The event's time. A `now` that throws fails the requests that read the clock (a challenge check: 500, logged),
      // not every request: GetCACaps and a refused identifier never needed it.
      let time: Date;
      try {
        time = now();
      } catch {
        time = new Date();
      }
      const started = performance.now();
      const partial: Partial<ProxyEvent> = { operation: "unknown", method: request.method };
      const read: { record?: ProfileRecord } = {};
      let result: Response | ProxyReply;
      try {
        result = await handle(request, partial, read);
      } catch (e) {
        if (e instanceof ProxyReply) result = e;
        else {
          logger.error("request failed", describeError(e));
          result = internalError();
        }
      }
      const reply = result instanceof ProxyReply ? result : undefined;
      const event: ProxyEvent = {
        ...partial,
        operation: partial.operation ?? "unknown",
        method: request.method,
        outcome: reply ? reply.outcome : "forwarded",
        reason: reply ? reply.reason : "forwarded",
        status: reply ? reply.status : (result as Response).status,
        latencyMs: performance.now() - started,
        time,
      };
      const clientAddress = clientAddressOf(info);
      if (clientAddress !== undefined) event.clientAddress = clientAddress;
      // For a sink's conditional markFailed; not enumerable, so log lines built from the event do not carry it.
      if (read.record) Object.defineProperty(event, "record", { value: Object.freeze({ ...read.record }), enumerable: false });
      count(event);
      for (const sink of sinks) {
        try {
          const returned: unknown = sink(event);
          // An async sink that rejects is logged like one that throws, not left an unhandled rejection.
          if (typeof (returned as PromiseLike<unknown> | undefined)?.then === "function") Promise.resolve(returned).catch((e: unknown) => logger.error("event sink threw", describeError(e)));
        } catch (e) {
          logger.error("event sink threw", describeError(e));
        }
      }
      const response = reply ? reply.toResponse() : (result as Response);
      if (request.method !== "HEAD") return response;
      // HEAD: the GET's status and header fields, Content-Length included, and no content (RFC 9110 §9.3.2).
      const headers = new Headers(response.headers);
      headers.set("content-length", String((await response.arrayBuffer()).byteLength));
      return new Response(null, { status: response.status, headers });
    },
    stats(): ProxyStats {
      return structuredClone(stats);
    },
  };
}
