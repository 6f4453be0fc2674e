/**
 * A challenge validator that asks your own HTTP endpoint (dynamic challenges
 * from an MDM, an inventory, a ticket system), modelled on step-ca's
 * `SCEPCHALLENGE` and `NOTIFYING` webhooks, on the two-phase enrollment:
 *
 * 1. challenge: POST the CSR (DER base64 and its parsed subject, SANs and
 *    key), the challengePassword, the transactionID and the profile; the
 *    answer `{ "allow": true, "data": … }` accepts (`data` becomes the issue
 *    hook's `challengeData`), `{ "allow": false }` refuses (FAILURE, reason
 *    `webhook_denied` or the receiver's own label);
 * 2. confirm (with `notifyUrl`): after the certificate is issued and before it
 *    is delivered, POST `event: "issued"` with its serial, SHA-1 thumbprint,
 *    SHA-256 fingerprint and validity; a failed notification keeps the
 *    certificate from the client (FAILURE `webhook_notification_failed`,
 *    `onUndelivered`);
 * 3. failure (with `notifyUrl`): when issuance fails after the webhook allowed
 *    the request, POST `event: "failed"` with the reason and failInfo.
 *
 * Every body is signed: `X-Scep-Signature` (configurable; step-ca's is
 * `X-Smallstep-Signature`) holds the lower-case hex HMAC-SHA256 of the exact
 * body bytes under the shared secret; the body carries a `timestamp`, so a
 * receiver can refuse stale or replayed calls. A webhook that is down, slow,
 * redirects, answers a non-2xx status, more than `maxResponseBytes` or
 * anything but the expected JSON never leads to issuance and never to a 5xx:
 * FAILURE badRequest with reason `webhook_unavailable`, and a typed error
 * (`ERR_WEBHOOK_TIMEOUT`, `ERR_WEBHOOK_TRANSPORT`, `ERR_WEBHOOK_RESPONSE`) to
 * `onError`. The secret, the extra headers and the URL's query never appear in
 * an error, an event or a stats label.
 *
 * @module
 */
import { InvalidArgumentError, WebhookResponseError, WebhookTimeoutError, WebhookTransportError, isScepError, type FailInfo } from "../errors.js";
import * as nc from "../lib/node-crypto.js";
import { copyBytes, toHex } from "../lib/bytes.js";
import { toBase64 } from "../encoding.js";
import { ignoreRejection } from "../ignore-rejection.js";
import { abortableFetch } from "../lib/abort.js";
import { readCapped } from "../lib/read-capped.js";
import { SIZE_BYTES, TIMER_MS, numberOption } from "../number-option.js";
import { isFailInfo, messageTypeName } from "../message/types.js";
import { refusalReason } from "./hook-refusal.js";
import type { Certificate } from "../x509/certificate.js";
import type { CertificationRequest } from "../x509/certification-request.js";
import type { ChallengeContext, ChallengeVerdict, CustomChallengePolicy, IssueFailureContext } from "./challenge.js";
import type { ConfirmContext, ConfirmResult } from "./profile.js";

/** Which call of a {@link webhookChallenge} failed. @group Server */
export type WebhookOperation = "challenge" | "notify-issued" | "notify-failed";

/** Any of the webhook's typed errors. @group Errors */
export type WebhookError = WebhookTimeoutError | WebhookTransportError | WebhookResponseError;

/**
 * Options of {@link webhookChallenge}.
 * @group Server
 */
export interface WebhookChallengeOptions {
  /** The challenge endpoint, `http:` or `https:` (no user:password in it; put credentials in `headers`). */
  url: string;
  /**
   * Shared secret of the HMAC-SHA256 body signature (a string is taken as UTF-8 bytes). Strongly recommended: without
   * it the receiver cannot tell our calls from anyone's. For a receiver written for step-ca, pass its base64 secret
   * decoded (`Buffer.from(secret, "base64")`) and `signatureHeader: "X-Smallstep-Signature"`.
   */
  secret?: string | Uint8Array;
  /** Header carrying the signature (default `X-Scep-Signature`); a name of token characters (RFC 9110 §5.1), else `ERR_INVALID_ARGUMENT`. */
  signatureHeader?: string;
  /**
   * Extra request headers, e.g. `{ authorization: "Bearer …" }`. Sent as given, never logged. Checked when the
   * validator is made: a name of token characters, a value without CR, LF, NUL or characters beyond Latin-1 (RFC 9110
   * §5.5), else `ERR_INVALID_ARGUMENT` naming the header, not its value.
   */
  headers?: Readonly<Record<string, string>>;
  /** Sent as `X-Scep-Webhook-Id` (step-ca sends `X-Smallstep-Webhook-ID`) so one receiver can serve several webhooks; a valid header value, else `ERR_INVALID_ARGUMENT`. */
  id?: string;
  /**
   * Longest wait for one complete answer, headers and body, in milliseconds (default 5000), also with a `fetch` that
   * ignores its `signal`: past it the call fails with `ERR_WEBHOOK_TIMEOUT` (the challenge call: FAILURE badRequest
   * `webhook_unavailable`).
   */
  timeoutMs?: number;
  /** Largest answer read, in bytes (default 65 536); a larger one is `ERR_WEBHOOK_RESPONSE`. */
  maxResponseBytes?: number;
  /**
   * The notifying endpoint (`http:`/`https:`): told `event: "issued"` before a certificate is delivered and
   * `event: "failed"` when issuance fails after the challenge webhook allowed the request. May equal `url` (the body's
   * `type` tells them apart). Without it nothing is notified.
   */
  notifyUrl?: string;
  /**
   * Deliver the certificate even when the `issued` notification fails (default false: a certificate the receiver was
   * not told of is not delivered; the client gets FAILURE and `onUndelivered` is called so the issuer can revoke).
   */
  deliverWhenNotificationFails?: boolean;
  /**
   * Told of every failed call with its typed error (for logs and alerts; messages hold no secret). Errors it throws,
   * and the rejection of a promise it returns (not awaited), are ignored.
   */
  onError?: (error: WebhookError, operation: WebhookOperation) => void;
  /** The `timestamp` of each body (default `() => new Date()`). */
  now?: () => Date;
  /** The `fetch` to call (default the global one). */
  fetch?: (input: string, init: RequestInit) => Promise<Response>;
}

/** A CSR as the webhook sees it. @group Server */
export interface WebhookCertificateRequest {
  /** The whole PKCS#10 request, DER, standard base64 (step-ca's `raw`). */
  raw: string;
  /** The subject, RFC 4514 text (e.g. `CN=device-1, O=Example`). */
  subject: string;
  /** The subject CN, when there is one. */
  commonName?: string;
  /** Requested subjectAltNames in order of type: `dns`, `email`, `ip`, `uri`, `upn`. */
  sans: { type: "dns" | "email" | "ip" | "uri" | "upn"; value: string }[];
  /** `RSA`, `EC` or another key type name. */
  publicKeyAlgorithm: string;
  /** RSA modulus size in bits. */
  publicKeyBits?: number;
  /** EC curve (Node name, e.g. `prime256v1`). */
  publicKeyCurve?: string;
}

/**
 * The challenge call's JSON body (field names follow step-ca's webhook request where one exists).
 * @group Server
 */
export interface WebhookChallengeRequest {
  type: "scepchallenge";
  /** When the call was made, ISO 8601 UTC. */
  timestamp: string;
  /** Profile name. */
  profile: string;
  /** The CSR's challengePassword (absent when the CSR has none). */
  scepChallenge?: string;
  /** transactionID of the request. */
  scepTransactionID: string;
  /** `PKCSReq` or `RenewalReq`. */
  scepMessageType: string;
  x509CertificateRequest: WebhookCertificateRequest;
}

/** The certificate in an `issued` or `failed` notification. @group Server */
export interface WebhookCertificate {
  /** DER, standard base64. */
  raw: string;
  /** Serial number, upper-case hex (`Certificate.serialNumberHex`: no leading zeros; `-7FFF` for a negative serial, DER content `80 01`). */
  serialNumber: string;
  /** SHA-1 of the DER, upper-case hex (Intune's thumbprint). */
  sha1Thumbprint: string;
  /** SHA-256 of the DER, lower-case hex. */
  sha256Fingerprint: string;
  subject: string;
  issuer: string;
  /** ISO 8601 UTC. */
  notBefore: string;
  /** ISO 8601 UTC. */
  notAfter: string;
}

/** A notification's JSON body. @group Server */
export interface WebhookNotification {
  type: "notify";
  /** `issued`: about to be delivered; `failed`: issuance failed after the webhook allowed the request. */
  event: "issued" | "failed";
  timestamp: string;
  profile: string;
  scepTransactionID: string;
  /** True when an operator's `approve` completed a PENDING request. */
  approved: boolean;
  x509CertificateRequest: WebhookCertificateRequest;
  /** `issued`: the certificate; `failed`: the certificate that was issued but not delivered, when there is one. */
  x509Certificate?: WebhookCertificate;
  /** `failed`: stable label (`issuer_rejected`, `issue_failed`, `rejected`, `reply_failed`, …). */
  reason?: string;
  /** `failed`: the failInfo the client got. */
  failInfo?: FailInfo;
  /** `failed`: the text the client got. */
  scepErrorDescription?: string;
}

const DEFAULT_TIMEOUT_MS = 5000;
const DEFAULT_MAX_RESPONSE = 64 * 1024;
const UNAVAILABLE: ChallengeVerdict = { ok: false, reason: "webhook_unavailable", failInfo: "badRequest", failInfoText: "challenge validation is unavailable; try again later" };

/**
 * Throws InvalidArgumentError unless `name` is an HTTP field name and `value` a field value `fetch` sends (RFC 9110
 * §5.1, §5.5: no CR, LF or NUL, no character beyond Latin-1), naming `what` but never quoting the value.
 */
function checkHeader(name: unknown, value: unknown, what: string): void {
  if (typeof name !== "string" || typeof value !== "string") throw invalid(`${what} must be a string`);
  try {
    new Headers([[name, value]]);
  } catch {
    throw invalid(`${what} is not a valid HTTP header (a name of token characters; a value without CR, LF, NUL or characters beyond Latin-1)`);
  }
}

function invalid(message: string): InvalidArgumentError {
  return new InvalidArgumentError(`webhookChallenge: ${message}`);
}

/** The endpoint checked at configuration time; `where` is origin + path (what error messages name). */
function endpoint(value: unknown, what: string): { url: string; where: string } {
  if (typeof value !== "string" || value === "") throw invalid(`${what} must be an http(s) URL`);
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    throw invalid(`${what} is not a URL`);
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") throw invalid(`${what} must be http: or https:, not ${u.protocol}`);
  if (u.username || u.password) throw invalid(`${what} must not hold a user name or password (put credentials in headers)`);
  return { url: u.href, where: `${u.origin}${u.pathname}` };
}



/** The CSR's JSON view. */
function describeCsr(csr: CertificationRequest): WebhookCertificateRequest {
  const sans = csr.subjectAltNames;
  const key = csr.publicKeyInfo;
  const out: WebhookCertificateRequest = {
    raw: toBase64(csr.der),
    subject: csr.subject,
    sans: (["dns", "email", "ip", "uri", "upn"] as const).flatMap((type) => sans[type].map((value) => ({ type, value }))),
    publicKeyAlgorithm: key.type.toUpperCase(),
  };
  if (csr.commonName !== undefined) out.commonName = csr.commonName;
  if (key.bits !== undefined) out.publicKeyBits = key.bits;
  if (key.curve !== undefined) out.publicKeyCurve = key.curve;
  return out;
}

function describeCertificate(c: Certificate): WebhookCertificate {
  return {
    raw: toBase64(c.der),
    serialNumber: c.serialNumberHex.toUpperCase(),
    sha1Thumbprint: toHex(nc.digest("sha1", c.der)).toUpperCase(),
    sha256Fingerprint: toHex(nc.digest("sha256", c.der)),
    subject: c.subject,
    issuer: c.issuer,
    notBefore: c.notBefore.toISOString(),
    notAfter: c.notAfter.toISOString(),
  };
}

/**
 * The signature a receiver checks: lower-case hex HMAC-SHA256 of the exact body bytes under the shared secret.
 *
 * @example
 * ```ts
 * const body = '{"type":"scepchallenge"}';
 * const header = webhookSignature(body, "shared-secret"); // the X-Scep-Signature value
 * ```
 * @group Server
 */
export function webhookSignature(body: string | Uint8Array, secret: string | Uint8Array): string {
  const enc = new TextEncoder();
  return toHex(nc.hmacSha256(typeof secret === "string" ? enc.encode(secret) : secret, typeof body === "string" ? enc.encode(body) : body));
}

/**
 * For receivers: whether `signature` (the header's value, hex, any case) is the body's HMAC-SHA256 under `secret`.
 * Compares in constant time; verify the raw body bytes as received, before parsing them. False for a missing or
 * malformed header.
 *
 * @example
 * ```ts
 * async function handle(req: Request): Promise<Response> {
 *   const body = new Uint8Array(await req.arrayBuffer());
 *   if (!verifyWebhookSignature(body, req.headers.get("x-scep-signature"), process.env.WEBHOOK_SECRET!)) return new Response("bad signature", { status: 401 });
 *   const call = JSON.parse(new TextDecoder().decode(body)) as WebhookChallengeRequest;
 *   return Response.json({ allow: call.scepChallenge === "expected", data: { owner: "alice" } });
 * }
 * ```
 * @group Server
 */
export function verifyWebhookSignature(body: string | Uint8Array, signature: string | null | undefined, secret: string | Uint8Array): boolean {
  if (typeof signature !== "string" || !/^[0-9a-fA-F]{64}$/.test(signature)) return false;
  const expected = new TextEncoder().encode(webhookSignature(body, secret));
  return nc.timingSafeEqual(expected, new TextEncoder().encode(signature.toLowerCase()));
}

/** A receiver's text for the client: printable, at most 255 characters. */
function clientText(v: unknown): string | undefined {
  if (typeof v !== "string") return undefined;
  const t = v.replace(/[\u0000-\u001f\u007f]/g, " ").trim().slice(0, 255);
  return t === "" ? undefined : t;
}

/**
 * A challenge policy that asks an HTTP endpoint, with notifications on the two-phase enrollment (see the module
 * documentation for the JSON bodies and the signature). Use it as a profile's `challenge`; the webhook's `data`
 * reaches the issue hook as `challengeData`.
 *
 * Answers the challenge endpoint may give (HTTP 2xx, `content-type` not checked, at most `maxResponseBytes`):
 * - `{ "allow": true, "data": <any JSON> }` → accepted;
 * - `{ "allow": false }` → FAILURE badRequest, reason `webhook_denied`, text "the challenge was refused"; optional
 *   `"reason"` (a label `[A-Za-z0-9_]{1,64}`), `"failInfo"` (badAlg, badMessageCheck, badRequest, badTime, badCertId)
 *   and `"message"` (text for the client, cut to 255 characters) refine it;
 * - anything else, or no answer within `timeoutMs` → FAILURE badRequest, reason `webhook_unavailable`.
 *
 * A notification succeeds on any 2xx whose body is empty or JSON; `{ "allow": false }` to an `issued` notification
 * vetoes delivery like a failed one (reason `webhook_notification_failed`).
 *
 * @throws InvalidArgumentError `ERR_INVALID_ARGUMENT` for a URL that is not http(s) or holds credentials, a
 *   timeout or size that is not a positive number, or a header (`headers`, `signatureHeader`, `id`) that `fetch`
 *   cannot send (the message names the option, never the value).
 *
 * @example
 * ```ts
 * createScepServer({
 *   profiles: [{
 *     ...profile,
 *     challenge: webhookChallenge({
 *       url: "https://mdm.example/scep/challenge",
 *       notifyUrl: "https://mdm.example/scep/notify",
 *       secret: process.env.SCEP_WEBHOOK_SECRET!,
 *       timeoutMs: 3000,
 *     }),
 *   }],
 * });
 * ```
 * @group Server
 */
export function webhookChallenge(options: WebhookChallengeOptions): CustomChallengePolicy {
  if (typeof options !== "object" || options === null) throw invalid("options are required");
  const challengeEndpoint = endpoint(options.url, "url");
  const notifyEndpoint = options.notifyUrl === undefined ? undefined : endpoint(options.notifyUrl, "notifyUrl");
  // A timeout past 2^31 - 1 ms made Node fire at once: every call aborted, every enrollment FAILURE.
  const timeoutMs = numberOption("timeoutMs", options.timeoutMs, DEFAULT_TIMEOUT_MS, TIMER_MS, (m) => invalid(m));
  const maxBytes = numberOption("maxResponseBytes", options.maxResponseBytes, DEFAULT_MAX_RESPONSE, SIZE_BYTES, (m) => invalid(m));
  const secret = options.secret === undefined ? undefined : typeof options.secret === "string" ? new TextEncoder().encode(options.secret) : copyBytes(options.secret);
  if (secret !== undefined && secret.length === 0) throw invalid("secret is empty");
  const signatureHeader = options.signatureHeader ?? "X-Scep-Signature";
  const extraHeaders = { ...(options.headers ?? {}) };
  // Checked here, once: fetch refuses a bad name or value at every call, with a TypeError that quotes the value (a
  // bearer token), which would reach onError as the cause of each WebhookTransportError.
  for (const [name, value] of Object.entries(extraHeaders)) checkHeader(name, value, `headers[${JSON.stringify(name)}]`);
  checkHeader(signatureHeader, "x", "signatureHeader");
  if (options.id !== undefined) checkHeader("X-Scep-Webhook-Id", options.id, "id");
  const now = options.now ?? (() => new Date());
  const doFetch = options.fetch ?? ((input: string, init: RequestInit) => fetch(input, init));

  function report(error: unknown, operation: WebhookOperation, where: string): void {
    const typed = isScepError(error) && error.code.startsWith("ERR_WEBHOOK_") ? (error as WebhookError) : new WebhookResponseError(`webhook ${where}: failed unexpectedly`, { cause: error });
    try {
      ignoreRejection(options.onError?.(typed, operation));
    } catch {
      /* a failing sink changes nothing */
    }
  }

  /** One signed POST; the parsed JSON answer (undefined for an empty body). Throws the typed errors. */
  async function post(target: { url: string; where: string }, payload: WebhookChallengeRequest | WebhookNotification): Promise<unknown> {
    const body = new TextEncoder().encode(JSON.stringify(payload));
    const headers: Record<string, string> = { ...extraHeaders, "content-type": "application/json", accept: "application/json" };
    if (secret) headers[signatureHeader] = webhookSignature(body, secret);
    if (options.id !== undefined) headers["X-Scep-Webhook-Id"] = options.id;
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), timeoutMs);
    try {
      let res: Response;
      try {
        // Raced against the signal: the `timeoutMs` bound holds for a `fetch` option that ignores it.
        res = await abortableFetch(doFetch(target.url, { method: "POST", headers, body, signal: controller.signal, redirect: "manual" }), controller.signal);
      } catch (cause) {
        if (controller.signal.aborted) throw new WebhookTimeoutError(`webhook ${target.where}: no answer within ${timeoutMs} ms`, { cause });
        throw new WebhookTransportError(`webhook ${target.where}: request failed`, { cause });
      }
      let bytes: Uint8Array | "too-large";
      try {
        bytes = await readCapped(res.body, maxBytes, controller.signal);
      } catch (cause) {
        if (controller.signal.aborted) throw new WebhookTimeoutError(`webhook ${target.where}: the answer did not complete within ${timeoutMs} ms`, { cause });
        throw new WebhookTransportError(`webhook ${target.where}: reading the answer failed`, { cause, status: res.status });
      }
      if (bytes === "too-large") throw new WebhookResponseError(`webhook ${target.where}: the answer is larger than ${maxBytes} bytes`);
      const text = new TextDecoder().decode(bytes);
      if (res.status < 200 || res.status > 299) throw new WebhookTransportError(`webhook ${target.where}: HTTP ${res.status}`, { status: res.status });
      if (text.trim() === "") return undefined;
      try {
        return JSON.parse(text) as unknown;
      } catch {
        throw new WebhookResponseError(`webhook ${target.where}: the answer is not JSON`);
      }
    } finally {
      clearTimeout(timer);
    }
  }

  function base(profile: string, transactionId: string): { timestamp: string; profile: string; scepTransactionID: string } {
    return { timestamp: now().toISOString(), profile, scepTransactionID: transactionId };
  }

  /** The fields both notifications share, in the order they are sent. */
  function notification(event: WebhookNotification["event"], ctx: ConfirmContext | IssueFailureContext, certificate: Certificate | undefined): WebhookNotification {
    return {
      type: "notify",
      event,
      ...base(ctx.profile, ctx.transactionId),
      approved: ctx.approved,
      x509CertificateRequest: describeCsr(ctx.csr),
      ...(certificate ? { x509Certificate: describeCertificate(certificate) } : {}),
    };
  }

  async function validate(ctx: ChallengeContext): Promise<ChallengeVerdict> {
    const payload: WebhookChallengeRequest = {
      type: "scepchallenge",
      ...base(ctx.profile, ctx.request.transactionId),
      ...(ctx.challenge !== undefined ? { scepChallenge: ctx.challenge } : {}),
      scepMessageType: messageTypeName(ctx.request.messageType) ?? String(ctx.request.messageType),
      x509CertificateRequest: describeCsr(ctx.csr),
    };
    let answer: unknown;
    try {
      answer = await post(challengeEndpoint, payload);
      if (typeof answer !== "object" || answer === null || Array.isArray(answer)) throw new WebhookResponseError(`webhook ${challengeEndpoint.where}: the answer is not a JSON object`);
      const a = answer as Record<string, unknown>;
      if (typeof a.allow !== "boolean") throw new WebhookResponseError(`webhook ${challengeEndpoint.where}: the answer has no boolean "allow"`);
      if (a.failInfo !== undefined && !isFailInfo(a.failInfo)) throw new WebhookResponseError(`webhook ${challengeEndpoint.where}: "failInfo" is not a SCEP failInfo`);
    } catch (e) {
      report(e, "challenge", challengeEndpoint.where);
      return UNAVAILABLE;
    }
    const a = answer as { allow: boolean; data?: unknown; reason?: unknown; failInfo?: FailInfo; message?: unknown };
    if (a.allow) return a.data === undefined || a.data === null ? { ok: true } : { ok: true, data: a.data };
    return { ok: false, reason: refusalReason(a.reason, "webhook_denied"), failInfo: a.failInfo ?? "badRequest", failInfoText: clientText(a.message) ?? "the challenge was refused" };
  }

  const policy: CustomChallengePolicy = {
    type: "custom",
    validate,
    status: { challengeStatus: () => ({ kind: "webhook", mode: notifyEndpoint ? "challenge+notify" : "challenge" }) },
  };
  if (!notifyEndpoint) return policy;

  policy.confirm = async (ctx: ConfirmContext): Promise<ConfirmResult> => {
    const payload = notification("issued", ctx, ctx.certificate);
    try {
      const answer = await post(notifyEndpoint, payload);
      if (typeof answer === "object" && answer !== null && (answer as { allow?: unknown }).allow === false) {
        return { ok: false, reason: "webhook_notification_failed", failInfoText: "the issued certificate was not confirmed" };
      }
      return { ok: true };
    } catch (e) {
      report(e, "notify-issued", notifyEndpoint.where);
      if (options.deliverWhenNotificationFails) return { ok: true };
      return { ok: false, reason: "webhook_notification_failed", failInfoText: "the issued certificate was not confirmed" };
    }
  };
  policy.onIssueFailure = async (ctx: IssueFailureContext): Promise<void> => {
    const payload: WebhookNotification = {
      ...notification("failed", ctx, ctx.certificate),
      reason: ctx.reason,
      failInfo: ctx.failInfo,
      scepErrorDescription: ctx.failInfoText,
    };
    try {
      await post(notifyEndpoint, payload);
    } catch (e) {
      report(e, "notify-failed", notifyEndpoint.where);
    }
  };
  return policy;
}
