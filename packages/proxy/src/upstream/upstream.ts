/**
 * How the proxy talks to an upstream CA (PROXY.md "Forwarding" and
 * "Interfaces it stands on": `Upstream`).
 *
 * @module
 */
import type { CaConfig } from "../cas/ca-config.js";

/**
 * A 2xx answer of an upstream, passed to the device unchanged.
 *
 * @group Upstream
 */
export interface UpstreamResponse {
  /**
   * The upstream's HTTP status (2xx). The proxy checks what it passes on: a status 300–599 is taken as the upstream's
   * HTTP error (as `UpstreamError` reason `http`), anything but an integer 200–599 is a failure of the upstream
   * (reason `other`, 502 `upstream failed`).
   */
  status: number;
  /**
   * Its `Content-Type` header as sent, or `null` when absent. An HTTP field value (RFC 9110 §5.5: no CR, LF or other
   * control character but a tab, nothing past U+00FF), else the proxy answers 502 `upstream failed` (reason `other`).
   */
  contentType: string | null;
  /** Its body, complete (never truncated: an oversized body is an `UpstreamError`); empty for a 204 or 205. */
  body: Uint8Array;
}

/**
 * Options of one upstream call.
 *
 * @group Upstream
 */
export interface UpstreamCallOptions {
  /** Aborts the call (the proxy passes the device request's signal); the call then rejects with reason `other`. */
  signal?: AbortSignal;
}

/**
 * Options of one GetCACaps call.
 *
 * @group Upstream
 */
export interface GetCACapsOptions extends UpstreamCallOptions {
  /**
   * The CA identifier to send as GetCACaps' `message` (RFC 8894 §3.5.1, as GetCACert's, §4.2): the one the device
   * sent. A CA's `caIdentifier`, when configured, is sent instead (an upstream serving several CAs, such as EJBCA in CA
   * mode, answers a GetCACaps without one 404). Absent, and no `caIdentifier`: no `message`.
   */
  message?: string | undefined;
}

/**
 * The three SCEP operations the proxy forwards (RFC 8894 §4.1, §4.2, §4.3),
 * against the CA's URL. Every method resolves only with a 2xx
 * {@link UpstreamResponse} and otherwise rejects with an `UpstreamError`
 * whose `reason` is `timeout`, `http` (with `status`), `connection_refused`,
 * `dns`, `tls` or `other`; the proxy answers 504 for `timeout` and 502 for the rest.
 * Use `connection_refused`, `dns` and `tls` only when nothing of the request
 * was sent, and set `beforeRequest: true` on an `UpstreamError` of another
 * reason that provably came before any byte of the request went out (a host
 * unreachable, a connect timeout, a preliminary call failing before the
 * PKIOperation was sent): for those (and an HTTP 503 or 429) the proxy gives a
 * `custom` CA's one-time challenge back, so the device's retry passes. Never
 * set it when the request may have reached the CA: the challenge would become
 * usable twice.
 * Other kinds of CA (an EST or REST upstream) fit by implementing these three
 * methods.
 *
 * @example
 * ```ts
 * import type { Upstream, CaConfig } from "@scep/proxy";
 *
 * declare const upstream: Upstream;
 * const ca: CaConfig = { name: "corp", type: "custom", url: "https://ca.corp.example/scep" };
 * const caps = await upstream.getCACaps(ca); // body: "POSTPKIOperation\nSHA-256\n…"
 * ```
 *
 * @group Upstream
 */
export interface Upstream {
  /**
   * GetCACaps (RFC 8894 §3.5.1), naming the CA as GetCACert does: the CA's `caIdentifier` when it has one, else
   * `options.message` (the device's), else no `message`.
   */
  getCACaps(ca: CaConfig, options?: GetCACapsOptions): Promise<UpstreamResponse>;
  /** GetCACert (RFC 8894 §4.2), with the device's `message` (a CA identifier) when it sent one. */
  getCACert(ca: CaConfig, message: string | undefined, options?: UpstreamCallOptions): Promise<UpstreamResponse>;
  /** PKIOperation (RFC 8894 §4.3): the device's DER message, byte for byte, sent by POST or GET as the upstream's caps allow. */
  pkiOperation(ca: CaConfig, message: Uint8Array, options?: UpstreamCallOptions): Promise<UpstreamResponse>;
}
