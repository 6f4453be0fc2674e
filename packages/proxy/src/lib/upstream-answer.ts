// What makes an upstream's 2xx answer one no SCEP client can use, checked before the proxy passes it on: the proxy
// forwards a CA's bytes unchanged, but an answer with nothing in it is the CA's (or a gateway's) failure, not a reply
// the device should try to parse (RFC 8894 §3.3.2, §4.2); and an answer HTTP cannot carry (a status, Content-Type or
// body a web Response refuses, from an Upstream of one's own) is the upstream's failure too.
import { signedDataHoldsNoCertificate } from "@scep/core/internal";
import { UpstreamError } from "../errors.js";
import { NOT_FIELD_VALUE } from "./text.js";

/** What of an upstream's answer goes on the wire to the device, as HTTP can carry it. */
export interface WireAnswer {
  /** 200–299. */
  status: number;
  /** An HTTP field value, or undefined for none. */
  contentType: string | undefined;
  /** The bytes; null for a 204 or 205 (no content, RFC 9110 §15.3.5, §15.3.6). */
  body: Uint8Array | null;
}

/** 2xx statuses that carry no content (RFC 9110 §15.3.5, §15.3.6): a web `Response` refuses a body with them. */
const NO_CONTENT = new Set([204, 205]);

/**
 * The status, Content-Type and body of an `Upstream`'s answer, checked before they go to the device: any `Upstream`
 * (one of the user's own included) may resolve with values HTTP cannot carry, and a web `Response` built from them
 * threw a TypeError or RangeError (logged as an untyped failure) or sent `content-type: undefined`.
 *
 * - `status` an integer 200–299 (the `Upstream` contract). An integer 300–599 is the upstream's error answer:
 *   `UpstreamError` reason `http` with that status, as `HttpUpstream` rejects one (so a 503 or 429 is "busy", a
 *   4xx about the device's message a 4xx). Anything else (a 1xx, 600, a fraction, NaN, a string) is reason `other`.
 * - `body` a `Uint8Array`; for a 204 or 205 empty (sent as no content), else reason `other`.
 * - `contentType` null or undefined (none), or a string that is an HTTP field value (RFC 9110 §5.5: no CR, LF, NUL or
 *   other control character but a tab, nothing past U+00FF), else reason `other`: the proxy passes the type on
 *   unchanged (GetCACert's decides how the device reads the body), so one it cannot send makes the answer unusable.
 *
 * Messages name the status (a number) or what was wrong, never the value given.
 *
 * @throws UpstreamError as above.
 */
export function wireAnswer(answer: unknown): WireAnswer {
  if (typeof answer !== "object" || answer === null) throw new UpstreamError("other", "upstream resolved without an answer");
  const { status, contentType, body } = answer as { status?: unknown; contentType?: unknown; body?: unknown };
  if (typeof status !== "number" || !Number.isInteger(status) || status < 200 || status > 599) {
    throw new UpstreamError("other", `upstream answered ${typeof status === "number" ? `status ${status}` : `a status of type ${typeof status}`}, which is no final HTTP status (200 to 599)`);
  }
  if (status > 299) throw new UpstreamError("http", `upstream answered HTTP ${status}`, { status });
  if (!(body instanceof Uint8Array || Object.prototype.toString.call(body) === "[object Uint8Array]")) throw new UpstreamError("other", "upstream answered a body that is not a Uint8Array");
  if (contentType !== null && contentType !== undefined && (typeof contentType !== "string" || NOT_FIELD_VALUE.test(contentType))) {
    throw new UpstreamError("other", "upstream answered a Content-Type that is no HTTP field value (RFC 9110 section 5.5)");
  }
  if (NO_CONTENT.has(status) && (body as Uint8Array).byteLength > 0) throw new UpstreamError("other", `upstream answered HTTP ${status} with content, which that status cannot carry`);
  return { status, contentType: contentType ?? undefined, body: NO_CONTENT.has(status) ? null : (body as Uint8Array) };
}

/**
 * Why a 2xx answer of the upstream to `operation` is unusable, or undefined when it may be passed on: an empty body
 * to a PKIOperation (no CertRep) or a GetCACert (no certificate), or a GetCACert that is a PKCS#7 SignedData holding
 * no certificate (RFC 8894 §4.2.1.2), read by @scep/core's own parser, BER included
 * (`signedDataHoldsNoCertificate`: what `parseGetCaCertResponse` refuses as "GetCACert PKCS#7 holds no
 * certificate"). Anything that parser cannot read is passed on unchanged. GetCACaps may be empty (a CA without
 * capabilities, RFC 8894 §3.5.2).
 */
export function unusableAnswer(operation: string | undefined, body: Uint8Array): string | undefined {
  if (operation !== "PKIOperation" && operation !== "GetCACert") return undefined;
  if (body.byteLength === 0) return `upstream answered ${operation} with an empty body`;
  if (operation === "GetCACert" && signedDataHoldsNoCertificate(body)) return "upstream answered GetCACert with a PKCS#7 that holds no certificate";
  return undefined;
}
