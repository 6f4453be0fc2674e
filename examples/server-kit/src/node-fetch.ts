// Serves a fetch-style handler (web Request → Response) from node:http / Express, for the small admin API.
import type { IncomingMessage, ServerResponse } from "node:http";
import { sendPlain } from "./probes.js";
import { errorFields } from "./store-unavailable.js";

/**
 * Largest body read for such a handler, in bytes. A larger one is cut off one byte past it: the handler sees a prefix
 * longer than its own limit (the admin API's is 4096 bytes) and refuses it, never an empty or short body it would take.
 */
const MAX_BODY = 16 * 1024;

/**
 * The TCP peer's address of `req` (`req.socket.remoteAddress`), or `undefined` when it has none or reading it throws
 * (an HTTP/2 compatibility request whose stream is gone throws `ERR_HTTP2_SOCKET_UNBOUND`): an address that cannot be
 * read never fails a request.
 */
export function peerAddress(req: IncomingMessage | undefined): string | undefined {
  try {
    const address: unknown = req?.socket?.remoteAddress;
    return typeof address === "string" ? address : undefined;
  } catch {
    return undefined;
  }
}

/** What {@link internalError} logs of the failure behind its 500, when the caller passes it. */
export interface InternalFailure {
  /** What failed (the handler's error, or whatever was rejected with). */
  error: unknown;
  /** Where: `scep` (the SCEP hot path), `admin` (the admin listener). */
  where: string;
  /** Writes one JSON log line: `{ type: "internal-error", where, code, message }` (the message's first line, at most 500 characters). */
  log: (entry: Record<string, unknown>) => void;
}

/**
 * The answer to a request whose handler failed unexpectedly (a rejected promise, an Express `next(error)`): 500 with
 * the one line `internal error` (text/plain, no caching), or, when the headers already went out, the connection
 * destroyed (a half-written answer must not look complete). With `failure`, one `internal-error` log line says why
 * (the device's answer never does). Never throws, even when the log does.
 */
export function internalError(res: ServerResponse, failure?: InternalFailure): void {
  if (failure) {
    try {
      failure.log({ type: "internal-error", where: failure.where, ...errorFields(failure.error) });
    } catch {
      /* a log that throws never keeps the answer from going out */
    }
  }
  try {
    if (res.headersSent) res.destroy();
    else sendPlain(res, 500, "internal error\n");
  } catch {
    res.destroy();
  }
}

/**
 * Methods a WHATWG `Request` refuses to carry (Fetch §2.2.1 "forbidden method", compared case-insensitively; its
 * constructor throws a TypeError for them).
 */
const FORBIDDEN_METHODS: ReadonlySet<string> = new Set(["CONNECT", "TRACE", "TRACK"]);

/**
 * Answers a request whose method no WHATWG `Request` can carry (Fetch §2.2.1 forbidden methods: CONNECT, TRACE,
 * TRACK) with 405 `method not allowed` and `allow` as `Allow` (RFC 9110 §15.5.6), draining its body, and says whether
 * it did (the caller then stops). Of those, node:http hands TRACE to the request listener like any request; CONNECT
 * it hands to the server as a separate `connect` event, and TRACK its parser refuses with 400, so neither reaches the
 * listener. All three are checked all the same: none may reach `new Request`, whatever server calls this. Used by
 * serveFetch here and by the example proxy's node layer.
 *
 * @example
 * ```ts
 * if (answerUnsupportedMethod(req, res, "GET, HEAD, POST")) return;
 * ```
 */
export function answerUnsupportedMethod(req: IncomingMessage, res: ServerResponse, allow: string): boolean {
  if (!FORBIDDEN_METHODS.has((req.method ?? "GET").toUpperCase())) return false;
  res.writeHead(405, { "content-type": "text/plain; charset=utf-8", allow });
  res.end("method not allowed\n");
  req.resume();
  return true;
}

async function readBody(req: IncomingMessage): Promise<Uint8Array<ArrayBuffer>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    // Kept up to MAX_BODY + 1 bytes, the chunk that crosses the cap included (a chunked body's first chunk may be
    // 64 KiB): dropping it handed the handler an empty body, which the admin API read as `{}`.
    const room = MAX_BODY + 1 - size;
    chunks.push(chunk.length > room ? chunk.subarray(0, room) : chunk);
    size += chunk.length;
    if (size > MAX_BODY) break;
  }
  return new Uint8Array(Buffer.concat(chunks));
}

/**
 * Answers `req` with `handler`: builds a `Request` (URL from `req.url` as sent, headers, body for methods
 * that have one), writes the `Response` back. Errors go to `onError` (Express: `next`). A method no `Request` can
 * carry (TRACE, TRACK, CONNECT) is the client's mistake, not a failure: 405 `method not allowed` with `allow` as
 * `Allow` (RFC 9110 §15.5.6; default `GET, HEAD, POST`, what the admin API and the SCEP path answer), the handler not
 * called, nothing for `onError`.
 */
export function serveFetch(
  handler: (request: Request, meta: { remoteAddress?: string | undefined }) => Promise<Response>,
  req: IncomingMessage & { originalUrl?: string },
  res: ServerResponse,
  onError: (error: unknown) => void,
  allow = "GET, HEAD, POST",
): void {
  void (async () => {
    if (answerUnsupportedMethod(req, res, allow)) return;
    const headers = new Headers();
    for (const [name, value] of Object.entries(req.headers)) {
      if (value === undefined || name.startsWith(":")) continue;
      for (const v of Array.isArray(value) ? value : [value]) headers.append(name, v);
    }
    const method = req.method ?? "GET";
    const url = "http://localhost" + (req.originalUrl ?? req.url ?? "/");
    const body = method === "GET" || method === "HEAD" ? undefined : await readBody(req);
    const response = await handler(new Request(url, { method, headers, ...(body ? { body } : {}) }), { remoteAddress: peerAddress(req) });
    const payload = Buffer.from(await response.arrayBuffer());
    const out: Record<string, string> = {};
    response.headers.forEach((value, name) => void (out[name] = value));
    // The answer's length, for HEAD too (RFC 9110 §9.3.2): a handler answering HEAD like GET (the admin page) gave the
    // GET's content, which is dropped here; one that gave none for HEAD keeps its own Content-Length, if any.
    if (response.status !== 204 && response.status !== 304 && (method !== "HEAD" || payload.length > 0)) out["content-length"] = String(payload.length);
    res.writeHead(response.status, out);
    res.end(method === "HEAD" ? undefined : payload);
  })().catch(onError);
}

/** The path of a request target, still percent-encoded (`/admin/approve/a%2Fb?x=1` → `/admin/approve/a%2Fb`). */
export function rawPath(target: string): string {
  const q = target.indexOf("?");
  return q < 0 ? target : target.slice(0, q);
}
