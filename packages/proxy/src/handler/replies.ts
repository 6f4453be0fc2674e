/**
 * The proxy's own answers: fixed, short `text/plain` bodies (PROXY.md "What
 * is checked, in order"). None holds request input beyond a delivery status
 * from a fixed list, an upstream URL or a credential.
 *
 * @module
 */
import { BODY_ALREADY_READ_TEXT, POST_BODY_NOT_DER_TEXT } from "@scep/core";
import { MAX_RETRY_AFTER_SECONDS, retryAfterDelaySeconds } from "@scep/core/internal";
import { DELIVERY_STATUSES } from "../stores/profile-store.js";
import type { ProxyOutcome, ProxyReason } from "./events.js";

/** An answer of the proxy with its event labels. */
export class ProxyReply {
  constructor(
    readonly status: number,
    readonly body: string,
    readonly outcome: ProxyOutcome,
    readonly reason: ProxyReason,
    readonly headers: Record<string, string> = {},
  ) {}

  toResponse(): Response {
    return new Response(this.body, {
      status: this.status,
      headers: { "content-type": "text/plain; charset=utf-8", "cache-control": "no-store", ...this.headers },
    });
  }
}

/** The fixed bodies, by reason. */
export const REPLY_TEXT = {
  not_found: "not found",
  method_not_allowed: "method not allowed",
  bad_operation: "missing or unsupported operation",
  bad_message: "invalid message",
  invalid_identifier: "invalid identifier",
  unknown_identifier: "unknown identifier",
  not_configured: "SCEP proxy is not configured",
  too_large: "request too large",
  challenge_expired: "challenge password has expired",
  challenge_failed: "challenge failed",
  challenge_superseded: "challenge superseded",
  upstream_timeout: "upstream timed out",
  upstream_failed: "upstream failed",
  upstream_refused: "upstream refused the request",
  store_unavailable: "service unavailable",
  internal_error: "internal error",
} as const;

export const reject = (reason: Exclude<keyof typeof REPLY_TEXT, "not_found" | "method_not_allowed" | "too_large" | "upstream_timeout" | "upstream_failed" | "upstream_refused" | "store_unavailable" | "internal_error">): ProxyReply =>
  new ProxyReply(400, REPLY_TEXT[reason], "rejected", reason);

/**
 * A PKIOperation POST body that is neither the DER PKIMessage (RFC 8894 §4.1) nor its base64 or PEM text: 400, event
 * reason `bad_message`, with a text that says what the body must be (ASCII, as every reply text of the proxy).
 */
export const notDer = (): ProxyReply => new ProxyReply(400, POST_BODY_NOT_DER_TEXT, "rejected", "bad_message");
/**
 * A PKIOperation POST whose body something before the proxy already read (a body parser mounted first): 400, event
 * reason `body_already_read`, with `@scep/core`'s text naming the fix (the same answer as its server's).
 */
export const bodyAlreadyRead = (): ProxyReply => new ProxyReply(400, BODY_ALREADY_READ_TEXT, "rejected", "body_already_read");
export const notFound = (): ProxyReply => new ProxyReply(404, REPLY_TEXT.not_found, "rejected", "not_found");
/**
 * 405, event reason `method_not_allowed`, with the methods the target answers in `Allow` (RFC 9110 §15.5.6, §10.2.1):
 * GET and POST for a PKIOperation (never HEAD: it has effects), GET and HEAD for any other operation.
 */
export const methodNotAllowed = (operation: string | undefined): ProxyReply =>
  new ProxyReply(405, REPLY_TEXT.method_not_allowed, "rejected", "method_not_allowed", { allow: operation === "PKIOperation" ? "GET, POST" : "GET, HEAD" });
export const tooLarge = (): ProxyReply => new ProxyReply(413, REPLY_TEXT.too_large, "rejected", "too_large");
/** The text of {@link uriTooLong}. */
export const URI_TOO_LONG_TEXT = "request URI too long";
/**
 * A GET PKIOperation whose `message` (in the target URI) is over `maxBodyBytes`: 414 URI Too Long (RFC 9110 §15.5.15),
 * not 413, which is about content; event reason `too_large`, as for a POST body over it.
 */
export const uriTooLong = (): ProxyReply => new ProxyReply(414, URI_TOO_LONG_TEXT, "rejected", "too_large");
/**
 * 504 `upstream timed out`. `retryAfterSeconds`: sent as `Retry-After` (whole seconds, at least 1) when the device's
 * re-send would pass (a `custom` CA's challenge stays spent, but bound to this PKCSReq); else none.
 */
export const upstreamTimeout = (retryAfterSeconds?: number): ProxyReply => {
  const seconds = retryAfterDelaySeconds(retryAfterSeconds, 1, MAX_RETRY_AFTER_SECONDS);
  return new ProxyReply(504, REPLY_TEXT.upstream_timeout, "upstream_error", "upstream_timeout", seconds === undefined ? {} : { "retry-after": String(seconds) });
};
/**
 * Upstream 4xx statuses that are about the proxy's side, not the device's message: its credentials or access (401,
 * 403, 407), its configured URL (404), the method it chose (405), its request (408, 411, 415) or the upstream's rate
 * limit (429, when its Retry-After cannot be passed on). The device can do nothing about them.
 */
const UPSTREAM_STATUSES_OUR_SIDE: ReadonlySet<number> = new Set([401, 403, 404, 405, 407, 408, 411, 415, 429]);

/** Whether an upstream 4xx is about the proxy's side ({@link UPSTREAM_STATUSES_OUR_SIDE}): answered 502 `upstream failed`. */
export const upstreamStatusIsOurs = (upstreamStatus: number): boolean => UPSTREAM_STATUSES_OUR_SIDE.has(upstreamStatus);

/**
 * The answer to an upstream 4xx about the device's message (not {@link upstreamStatusIsOurs}): 413 → 413 `request
 * too large`; 414 URI Too Long (the proxy sends a PKIOperation by GET to an upstream without POSTPKIOperation) → to
 * the device's GET 414 `request URI too long` (RFC 9110 §15.5.15, as for the proxy's own limit: send it by POST), to
 * its POST 413 `request too large` (its message is too large for this upstream either way); any other (400, …) → 400
 * `upstream refused the request`. Event reason `upstream_refused`. Never a 5xx for the device's mistake.
 *
 * @param upstreamStatus - the upstream's HTTP status, 400–499.
 * @param deviceMethod - the device's request method (`GET` or `POST`).
 */
export function upstreamRefused(upstreamStatus: number, deviceMethod: string): ProxyReply {
  if (upstreamStatus === 414 && deviceMethod === "GET") return new ProxyReply(414, URI_TOO_LONG_TEXT, "rejected", "upstream_refused");
  if (upstreamStatus === 413 || upstreamStatus === 414) return new ProxyReply(413, REPLY_TEXT.too_large, "rejected", "upstream_refused");
  return new ProxyReply(400, REPLY_TEXT.upstream_refused, "rejected", "upstream_refused");
}
/** The text of {@link unknownCaIdentifier}. */
export const UNKNOWN_CA_IDENTIFIER_TEXT = "unknown CA identifier";
/**
 * A GetCACert whose `message` (the CA identifier the device chose, RFC 8894 §4.2) the upstream answered 404 while it
 * serves its CA certificate without one: 404 `unknown CA identifier`, event reason `upstream_refused` (as
 * {@link upstreamRefused}: the device's request is what was refused, so a 4xx, never a 5xx).
 */
export const unknownCaIdentifier = (): ProxyReply => new ProxyReply(404, UNKNOWN_CA_IDENTIFIER_TEXT, "rejected", "upstream_refused");
/** Bounds of the `Retry-After` passed on from an upstream 503 or 429 (seconds): its own value clamped, else `default`. */
export const UPSTREAM_RETRY_AFTER_SECONDS = { default: 30, min: 1, max: 3600 } as const;
/**
 * 502 `upstream failed` (refused, DNS, reset, 5xx, other non-2xx). With `busy`, `Retry-After` is sent: the
 * upstream's own value when it was busy or rate-limited (503, 429), rounded up to whole seconds and clamped to 1–3600 s,
 * and the default 30 s when it sent none (or no number: an `Upstream` of one's own giving `NaN` or a string) or the
 * failure was another. The handler passes `busy` only when the device's retry would pass: an
 * upstream 503/429 with no challenge spent (none, or given back), and any failure after which a `custom` CA's
 * challenge stays spent but bound to this PKCSReq (its re-send is forwarded). The status stays the gateway's.
 */
export const upstreamFailed = (busy?: { retryAfterSeconds: number | undefined }): ProxyReply => {
  if (!busy) return new ProxyReply(502, REPLY_TEXT.upstream_failed, "upstream_error", "upstream_failed");
  const { default: fallback, min, max } = UPSTREAM_RETRY_AFTER_SECONDS;
  const seconds = retryAfterDelaySeconds(busy.retryAfterSeconds, min, max) ?? fallback;
  return new ProxyReply(502, REPLY_TEXT.upstream_failed, "upstream_error", "upstream_failed", { "retry-after": String(seconds) });
};
export const internalError = (): ProxyReply => new ProxyReply(500, REPLY_TEXT.internal_error, "error", "internal_error");
/**
 * 503 `service unavailable` with `Retry-After`: the store's `retryAfterSeconds` rounded up and clamped to 1 s –
 * `MAX_RETRY_AFTER_SECONDS` (one day; a store of one's own may give `Infinity` or 1e21), 30 s when it gave no number.
 */
export const storeUnavailable = (retryAfterSeconds: unknown): ProxyReply =>
  new ProxyReply(503, REPLY_TEXT.store_unavailable, "unavailable", "store_unavailable", { "retry-after": String(retryAfterDelaySeconds(retryAfterSeconds, 1, MAX_RETRY_AFTER_SECONDS) ?? 30) });

/** 400 naming the record's delivery status (one of the fixed statuses, else `unknown`). */
export function notPending(status: unknown): ProxyReply {
  const named = (DELIVERY_STATUSES as readonly unknown[]).includes(status) ? (status as string) : "unknown";
  return new ProxyReply(400, `profile status is not pending: ${named}`, "rejected", "not_pending");
}
