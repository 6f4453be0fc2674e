/**
 * One bounded HTTP exchange with Entra ID, Graph or Intune: a timeout per
 * attempt (AbortSignal), a capped response body, and every failure as a typed
 * error. Retrying is the caller's decision ({@link isRetryable}).
 *
 * @module
 */
import { IntuneResponseError, IntuneTimeoutError, IntuneTransportError, isIntuneError } from "../errors.js";

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

async function readCapped(res: Response, what: string): Promise<string> {
  const reader = res.body?.getReader();
  if (!reader) return "";
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > MAX_BODY) {
      await reader.cancel().catch(() => undefined);
      throw new IntuneResponseError(`${what}: the response is larger than ${MAX_BODY} bytes`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString("utf8");
}

/**
 * Sends one request and reads a JSON answer.
 *
 * @throws {@link IntuneTimeoutError} when no complete answer came within `timeoutMs`;
 * {@link IntuneTransportError} on a network failure (`status` unset) or a non-2xx status (`status` set, `json` kept as `cause`-free detail);
 * {@link IntuneResponseError} when a 2xx body is not JSON.
 *
 * @group Intune API
 */
export async function callJson(call: HttpCall): Promise<HttpAnswer> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), call.timeoutMs);
  try {
    let res: Response;
    try {
      res = await call.fetch(call.url, { method: call.method, headers: call.headers, ...(call.body !== undefined ? { body: call.body } : {}), signal: controller.signal, redirect: "error" });
    } catch (cause) {
      if (controller.signal.aborted) throw new IntuneTimeoutError(`${call.what}: no answer within ${call.timeoutMs} ms`, { cause });
      throw new IntuneTransportError(`${call.what}: request failed (${(cause as Error)?.message ?? "network error"})`, { cause });
    }
    let text: string;
    try {
      text = await readCapped(res, call.what);
    } catch (cause) {
      if (isIntuneError(cause)) throw cause;
      if (controller.signal.aborted) throw new IntuneTimeoutError(`${call.what}: the answer did not complete within ${call.timeoutMs} ms`, { cause });
      throw new IntuneTransportError(`${call.what}: reading the answer failed`, { cause, status: res.status });
    }
    let json: unknown;
    let parsed = true;
    try {
      json = text === "" ? undefined : JSON.parse(text);
    } catch {
      parsed = false;
    }
    if (res.status < 200 || res.status > 299) {
      const err = new IntuneTransportError(`${call.what}: HTTP ${res.status}`, { status: res.status });
      (err as { body?: unknown }).body = parsed ? json : undefined;
      throw err;
    }
    if (!parsed) throw new IntuneResponseError(`${call.what}: the answer is not JSON`);
    return { status: res.status, json };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Whether another attempt may help: timeouts, network failures, HTTP 408, 429 and 5xx.
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
