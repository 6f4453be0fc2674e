/**
 * One bounded HTTP exchange with Entra ID, Graph or Intune: a timeout per
 * attempt (AbortSignal), a capped response body, and every failure as a typed
 * error, a 429's or 503's `Retry-After` read into it. Retrying is the caller's
 * decision ({@link isRetryable}).
 *
 * @module
 */
import * as http from "node:http";
import * as https from "node:https";
import { IntuneResponseError, IntuneTimeoutError, IntuneTransportError, isIntuneError } from "../errors.js";
import { redactUrl } from "@scep/core";
import { abortableFetch, parseRetryAfter, readCapped } from "@scep/core/internal";
import { callerAbort } from "../lib/retry-wait.js";
import { NodeHttpReadError, nodeHttpExchange, type NodeHttpAgents } from "./node-http.js";

/**
 * The `fetch` the clients call (injectable; defaults to the global one).
 *
 * @group Intune API
 */
export type Fetch = (input: string, init: RequestInit) => Promise<Response>;

/**
 * What one call needs.
 *
 * @group Intune API
 */
export interface HttpCall {
  fetch: Fetch;
  method: "GET" | "POST";
  url: string;
  headers: Record<string, string>;
  body?: string;
  timeoutMs: number;
  /** Names the endpoint in error messages (never the URL's query or a token). */
  what: string;
  /** The caller's signal: its abort ends the exchange (a `TimeoutError` reason as {@link IntuneTimeoutError}, any other as that reason). */
  signal?: AbortSignal | undefined;
  /** The clock an HTTP-date `Retry-After` is counted from when the answer has no readable `Date` header (default the system clock). */
  now?: (() => Date) | undefined;
}

/**
 * An answer: HTTP status and the parsed JSON body (undefined when the body was empty).
 *
 * @group Intune API
 */
export interface HttpAnswer {
  status: number;
  json: unknown;
}

/** Largest response body read (bytes); Intune, Graph and Entra answers are a few KiB. */
const MAX_BODY = 1024 * 1024;

/**
 * The body as UTF-8 text, at most {@link MAX_BODY} bytes, read until `signal` aborts (@scep/core's `readCapped`: each
 * read raced against the signal, since Node 20's fetch does not always reject a read already waiting when the
 * request's signal aborts, nodejs/undici#4089).
 *
 * @throws IntuneResponseError `ERR_INTUNE_RESPONSE` for a larger body; the signal's reason once it aborts; the
 *   stream's own error when the read fails.
 */
async function readBodyText(res: Response, what: string, signal: AbortSignal): Promise<string> {
  const bytes = await readCapped(res.body, MAX_BODY, signal);
  if (bytes === "too-large") throw new IntuneResponseError(`${what}: the response is larger than ${MAX_BODY} bytes`);
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("utf8");
}

/** Status, body text and the headers a retry decision reads, of one exchange. */
interface Exchange {
  status: number;
  text: string;
  retryAfter?: string | undefined;
  date?: string | undefined;
}

/** The exchange through an injected (or the global) fetch, every failure typed. */
async function viaFetch(call: HttpCall, fetchFn: Fetch, signal: AbortSignal): Promise<Exchange> {
  let res: Response;
  try {
    const pending = fetchFn(call.url, { method: call.method, headers: call.headers, ...(call.body !== undefined ? { body: call.body } : {}), signal, redirect: "error" });
    // Raced against the signal: an injected fetch that ignores it (a wrapper that drops `init.signal`) held the call
    // past its timeout and its caller's abort, as long as the peer kept the connection open.
    // A late answer's body is cancelled (its connection is not held unread).
    res = await abortableFetch(pending, signal);
  } catch (cause) {
    if (signal.aborted) throw new IntuneTimeoutError(`${call.what}: no answer within ${call.timeoutMs} ms`, { cause });
    throw new IntuneTransportError(`${call.what}: request failed (${(cause as Error)?.message ?? "network error"})`, { cause });
  }
  try {
    const text = await readBodyText(res, call.what, signal);
    return { status: res.status, text, retryAfter: res.headers.get("retry-after") ?? undefined, date: res.headers.get("date") ?? undefined };
  } catch (cause) {
    if (isIntuneError(cause)) throw cause;
    if (signal.aborted) throw new IntuneTimeoutError(`${call.what}: the answer did not complete within ${call.timeoutMs} ms`, { cause });
    throw new IntuneTransportError(`${call.what}: reading the answer failed`, { cause, status: res.status });
  }
}

/** Keep-alive connections per scheme, shared by every client of this process. */
const AGENTS: NodeHttpAgents = { "http:": new http.Agent({ keepAlive: true }), "https:": new https.Agent({ keepAlive: true }) };
const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/**
 * The same exchange over node:http(s) with keep-alive ({@link nodeHttpExchange}): the failures, the body
 * cap and the refused redirect (a transport error without status, as fetch's
 * `redirect: "error"`) of {@link viaFetch}, for a fraction of undici fetch's CPU.
 */
async function viaNodeHttp(call: Omit<HttpCall, "fetch">, signal: AbortSignal): Promise<Exchange & { headers: http.IncomingHttpHeaders }> {
  let url: URL;
  try {
    url = new URL(call.url);
  } catch (cause) {
    throw new IntuneTransportError(`${call.what}: request failed (invalid URL)`, { cause });
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") throw new IntuneTransportError(`${call.what}: request failed (unsupported scheme ${url.protocol})`);
  try {
    const res = await nodeHttpExchange(url, {
      method: call.method,
      headers: call.headers,
      ...(call.body !== undefined ? { body: Buffer.from(call.body, "utf8") } : {}),
      signal,
      maxResponseBytes: MAX_BODY,
      agents: AGENTS,
      onHead: (status, headers) => (REDIRECTS.has(status) && headers.location !== undefined ? new IntuneTransportError(`${call.what}: request failed (redirect refused)`) : undefined),
    });
    const one = (v: string | string[] | undefined): string | undefined => (Array.isArray(v) ? v[0] : v);
    return { status: res.status, text: res.body.toString("utf8"), retryAfter: one(res.headers["retry-after"]), date: one(res.headers.date), headers: res.headers };
  } catch (cause) {
    if (isIntuneError(cause)) throw cause;
    if (cause instanceof NodeHttpReadError) {
      if (cause.tooLarge) throw new IntuneResponseError(`${call.what}: the response is larger than ${MAX_BODY} bytes`);
      if (signal.aborted) throw new IntuneTimeoutError(`${call.what}: the answer did not complete within ${call.timeoutMs} ms`, { cause: cause.cause });
      throw new IntuneTransportError(`${call.what}: reading the answer failed`, { cause: cause.cause, status: cause.status });
    }
    if (signal.aborted) throw new IntuneTimeoutError(`${call.what}: no answer within ${call.timeoutMs} ms`, { cause });
    throw new IntuneTransportError(`${call.what}: request failed (${(cause as Error)?.message || "network error"})`, { cause });
  }
}

/**
 * A `fetch`-compatible client over node:http / node:https with keep-alive
 * connections shared by the process: the Intune clients recognise it and skip
 * the Fetch API entirely (about half the CPU of Node 20's global fetch per
 * call), with the same timeouts, 1 MiB body cap, refused redirects and typed
 * errors (`ERR_INTUNE_TIMEOUT`, `ERR_INTUNE_TRANSPORT`, `ERR_INTUNE_RESPONSE`).
 * Called directly it answers a `Response` with the whole (capped) body, and
 * rejects with those typed errors. It does not follow redirects, decompress, or
 * honour undici's global dispatcher (an HTTPS proxy set with
 * `setGlobalDispatcher`): keep the global fetch (the default) where one is needed.
 *
 * @example
 * ```ts
 * import { IntuneValidator, nodeHttpFetch } from "@scep/intune";
 *
 * const intune = new IntuneValidator({ tenant: "contoso.onmicrosoft.com", clientId: "00000000-0000-0000-0000-000000000001", credential: { clientSecret: process.env.INTUNE_CLIENT_SECRET! }, fetch: nodeHttpFetch });
 * ```
 *
 * @group Intune API
 */
export const nodeHttpFetch: Fetch = async (input, init) => {
  const signal = init.signal ?? new AbortController().signal;
  const headers: Record<string, string> = {};
  new Headers(init.headers).forEach((v, k) => (headers[k] = v));
  const method = (init.method ?? "GET").toUpperCase();
  const body = typeof init.body === "string" ? init.body : undefined;
  const res = await viaNodeHttp({ method: method as HttpCall["method"], url: input, headers, ...(body !== undefined ? { body } : {}), timeoutMs: 0, what: `${method} ${redactUrl(input)}` }, signal);
  // The answer's headers (Retry-After, Date, …) but those describing the encoding of a body this Response re-encodes.
  const out = new Headers();
  for (const [name, value] of Object.entries(res.headers)) {
    if (value === undefined || name === "content-length" || name === "transfer-encoding" || name === "connection" || name === "keep-alive") continue;
    for (const v of Array.isArray(value) ? value : [value]) out.append(name, v);
  }
  return new Response(res.status === 204 || res.status === 304 ? null : res.text, { status: res.status, headers: out });
};

/**
 * Sends one request and reads a JSON answer (through node:http when `call.fetch` is {@link nodeHttpFetch}).
 *
 * @throws {@link IntuneTimeoutError} when no complete answer came within `timeoutMs` (or `signal` aborted with a
 * `TimeoutError` reason; any other abort rejects with its reason);
 * {@link IntuneTransportError} on a network failure (`status` unset) or a non-2xx status (`status` set, `json` kept as `cause`-free detail;
 * on a 429 or 503, `retryAfterSeconds` from its `Retry-After`, in seconds);
 * {@link IntuneResponseError} when a 2xx body is not JSON.
 *
 * @group Intune API
 */
export async function callJson(call: HttpCall): Promise<HttpAnswer> {
  const parent = call.signal;
  if (parent?.aborted) throw callerAbort(parent, call.what);
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), call.timeoutMs);
  const onParent = (): void => controller.abort(parent?.reason);
  parent?.addEventListener("abort", onParent, { once: true });
  try {
    let exchange: Exchange;
    try {
      exchange = call.fetch === nodeHttpFetch ? await viaNodeHttp(call, controller.signal) : await viaFetch(call, call.fetch, controller.signal);
    } catch (e) {
      // The caller's abort, not our timeout: its own error (viaFetch/viaNodeHttp took any abort for a timeout).
      if (parent?.aborted) throw callerAbort(parent, call.what);
      throw e;
    }
    const { status, text } = exchange;
    let json: unknown;
    let parsed = true;
    try {
      json = text === "" ? undefined : JSON.parse(text);
    } catch {
      parsed = false;
    }
    if (status < 200 || status > 299) {
      let retryAfterSeconds: number | undefined;
      if (status === 429 || status === 503) {
        const date = exchange.date === undefined ? Number.NaN : Date.parse(exchange.date);
        retryAfterSeconds = parseRetryAfter(exchange.retryAfter, Number.isNaN(date) ? (call.now?.() ?? new Date()).getTime() : date);
      }
      const err = new IntuneTransportError(`${call.what}: HTTP ${status}${retryAfterSeconds !== undefined ? ` (Retry-After ${retryAfterSeconds} s)` : ""}`, { status, ...(retryAfterSeconds !== undefined ? { retryAfterSeconds } : {}) });
      (err as { body?: unknown }).body = parsed ? json : undefined;
      throw err;
    }
    if (!parsed) throw new IntuneResponseError(`${call.what}: the answer is not JSON`);
    return { status, json };
  } finally {
    clearTimeout(timer);
    parent?.removeEventListener("abort", onParent);
  }
}

/**
 * Whether another attempt may help: timeouts, network failures, HTTP 408, 429 and 5xx. How long to wait first is
 * the caller's too: a 429's or 503's `retryAfterSeconds` (seconds) says when the server will answer again.
 *
 * @group Intune API
 */
export function isRetryable(e: unknown): boolean {
  if (e instanceof IntuneTimeoutError) return true;
  if (e instanceof IntuneTransportError) return e.status === undefined || e.status === 408 || e.status === 429 || e.status >= 500;
  return false;
}

/**
 * A plain JSON object, or undefined.
 *
 * @group Intune API
 */
export function asObject(v: unknown): Record<string, unknown> | undefined {
  return typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}
