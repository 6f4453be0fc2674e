// Slow-client and overload guards of the example servers' node:http server (issue 12, items 3 and 7):
//   - headers must arrive within headersTimeoutMs and the whole request within requestTimeoutMs (Node's own checks, 408);
//   - a body must arrive within bodyTimeoutMs of its headers (here: Node's requestTimeout alone lets a body trickle for
//     the whole request time; this cuts a client that stops mid-body or sends a byte now and then sooner), 408 + close;
//   - idle keep-alive connections close after keepAliveTimeoutMs;
//   - at most maxConnections open sockets (Node drops the ones above it at once);
//   - at most maxInFlight requests between their headers and their response: one more is answered 503 with
//     Retry-After at once, before the framework reads its body, so memory stays bounded under any flood.
// /healthz, /readyz and /metrics are not counted (cheap, and an orchestrator must reach them under load).
import { createServer, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from "node:http";

/** The limits {@link applyHttpLimits} enforces; all times in milliseconds. */
export interface HttpLimits {
  /** Most requests in flight (headers read, response not finished); one more gets 503 + Retry-After. */
  maxInFlight: number;
  /** Most open connections; above it Node closes a new socket at once. */
  maxConnections: number;
  /** A request body must be complete this long after its headers, else 408 and the connection is closed. */
  bodyTimeoutMs: number;
  /** Seconds a 503 (too many requests in flight) asks the client to wait, in its Retry-After header. */
  retryAfterSeconds: number;
  /** Paths answered without counting them (operator probes). */
  exemptPaths?: readonly string[];
}

/** What the limits did so far (for tests and `/metrics`-style reporting). */
export interface HttpLimitStats {
  /** Requests now in flight. */
  inFlight: number;
  /** Requests answered 503 because `maxInFlight` were in flight. */
  rejectedBusy: number;
  /** Requests cut off by the body timeout (408). */
  bodyTimeouts: number;
}

const hasBody = (req: IncomingMessage): boolean => {
  const length = req.headers["content-length"];
  return req.headers["transfer-encoding"] !== undefined || (length !== undefined && length !== "0");
};

const pathOf = (url: string | undefined): string => {
  const u = url ?? "/";
  const q = u.indexOf("?");
  return q < 0 ? u : u.slice(0, q);
};

/**
 * Wraps `next` with the in-flight bound and the body timeout, and sets
 * `maxConnections` on `server`. Returns the wrapped listener and live counters.
 *
 * @example
 * ```ts
 * const limited = applyHttpLimits(server, app, { maxInFlight: 512, maxConnections: 4096, bodyTimeoutMs: 10_000, retryAfterSeconds: 1 });
 * server.on("request", limited.listener);
 * ```
 */
export function applyHttpLimits(server: Server, next: RequestListener, limits: HttpLimits): { listener: RequestListener; stats: HttpLimitStats } {
  server.maxConnections = limits.maxConnections;
  const exempt = new Set(limits.exemptPaths ?? []);
  const stats: HttpLimitStats = { inFlight: 0, rejectedBusy: 0, bodyTimeouts: 0 };
  const listener: RequestListener = (req: IncomingMessage, res: ServerResponse) => {
    if (exempt.has(pathOf(req.url))) return next(req, res);
    if (stats.inFlight >= limits.maxInFlight) {
      stats.rejectedBusy += 1;
      // Answered before anything reads the body; the connection closes, so an unread body cannot follow.
      const body = "too many requests in flight; retry later\n";
      res.writeHead(503, { "content-type": "text/plain; charset=utf-8", "content-length": Buffer.byteLength(body), "retry-after": String(limits.retryAfterSeconds), connection: "close", "cache-control": "no-store" });
      res.end(body);
      return;
    }
    stats.inFlight += 1;
    let done = false;
    let timer: NodeJS.Timeout | undefined;
    const finish = (): void => {
      if (done) return;
      done = true;
      stats.inFlight -= 1;
      clearTimeout(timer);
    };
    res.once("finish", finish).once("close", finish);
    if (hasBody(req) && !req.complete) {
      // At most 2^31 − 1 ms (about 24.8 days: as good as never): setTimeout fires a longer delay after 1 ms, which would
      // cut every body not complete at once.
      timer = setTimeout(() => {
        if (req.complete || done) return;
        stats.bodyTimeouts += 1;
        const socket = req.socket;
        if (!res.headersSent) {
          const body = "request body not received in time\n";
          res.writeHead(408, { "content-type": "text/plain; charset=utf-8", "content-length": Buffer.byteLength(body), connection: "close" });
          res.end(body, () => socket.destroy());
        } else socket.destroy();
        // (the framework still waiting on the body sees it aborted; the response is already final)
      }, Math.min(limits.bodyTimeoutMs, 2_147_483_647));
      timer.unref();
      req.once("end", () => clearTimeout(timer));
    }
    next(req, res);
  };
  return { listener, stats };
}

/** {@link HttpLimits} plus Node's own timeouts of the server, all in milliseconds. */
export interface HttpServerLimits extends HttpLimits {
  /** The whole request must arrive within this (Node's `requestTimeout`, 408). */
  requestTimeoutMs: number;
  /** Headers must arrive within this (Node's `headersTimeout`, 408: the slow-loris guard). */
  headersTimeoutMs: number;
  /** Idle keep-alive connections close after this. */
  keepAliveTimeoutMs: number;
}

/**
 * A node:http server that answers with `listener` under `limits`: headers, request, body and keep-alive timeouts,
 * at most `maxConnections` sockets and `maxInFlight` requests (then 503 + Retry-After), see {@link applyHttpLimits}.
 * The example servers and the example proxy both run on it. Not yet listening.
 *
 * @example
 * ```ts
 * const server = createLimitedHttpServer({ requestTimeoutMs: 60_000, headersTimeoutMs: 10_000, keepAliveTimeoutMs: 5_000, maxInFlight: 512, maxConnections: 4096, bodyTimeoutMs: 10_000, retryAfterSeconds: 1 }, (req, res) => res.end("ok"));
 * server.listen(0, "127.0.0.1");
 * ```
 */
export function createLimitedHttpServer(limits: HttpServerLimits, listener: RequestListener): Server {
  const server = createServer({
    requestTimeout: limits.requestTimeoutMs,
    headersTimeout: limits.headersTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    // How often Node checks the two timeouts above (its default, 30 s, would let short timeouts run long).
    connectionsCheckingInterval: Math.max(50, Math.min(30_000, Math.floor(limits.headersTimeoutMs / 4))),
  });
  // The response each connection is writing (until it finishes): a parse error after it is answered, as Node does,
  // unless that response has started (a second status line inside it would corrupt it).
  const responding = new WeakMap<object, ServerResponse>();
  const limited = applyHttpLimits(server, listener, limits).listener;
  // One "request" listener: it notes the response in flight, then answers under the limits.
  server.on("request", (req: IncomingMessage, res: ServerResponse) => {
    responding.set(req.socket, res);
    res.once("finish", () => {
      if (responding.get(req.socket) === res) responding.delete(req.socket);
    });
    limited(req, res);
  });
  server.on("clientError", (error: NodeJS.ErrnoException, socket: import("node:stream").Duplex) => answerClientError(error, socket, responding.get(socket)));
  server.keepAliveTimeout = limits.keepAliveTimeoutMs;
  return server;
}

/**
 * Node answers a request it cannot parse itself, before any listener runs, with a status and an empty body: most
 * often a GET whose `message=` makes the request line pass Node's 16 KiB header limit (431), which a SCEP client
 * cannot make sense of. Answered here as Node would (431, 408, else 400; then the connection closes), with a short
 * reason in the body; nothing of the client's bytes is echoed.
 */
export const CLIENT_ERROR_REASONS = {
  HPE_HEADER_OVERFLOW: [
    431,
    "Request Header Fields Too Large",
    "request line and headers larger than 16 KiB: send a large PKIMessage by POST (RFC 8894 section 4.1), not GET\n",
  ],
  ERR_HTTP_REQUEST_TIMEOUT: [408, "Request Timeout", "request headers not received in time\n"],
  other: [400, "Bad Request", "malformed HTTP request\n"],
} as const;

/**
 * Answers a parse error on `socket` as Node's own handler decides (lib/_http_server.js socketOnError): with a status
 * unless the connection was reset or is not writable, or the response in flight on it (`inFlight`) has sent its
 * headers. An earlier, finished response of a kept-alive connection does not stop it: fetch sends GetCACaps,
 * GetCACert and then a large GET PKIOperation on one connection, and that last one must get its 431 and reason.
 */
function answerClientError(error: NodeJS.ErrnoException, socket: import("node:stream").Duplex, inFlight: ServerResponse | undefined): void {
  const code = error.code ?? "";
  if (code === "ECONNRESET" || !socket.writable || inFlight?.headersSent) {
    socket.destroy();
    return;
  }
  const [status, text, body] = code in CLIENT_ERROR_REASONS && code !== "other" ? CLIENT_ERROR_REASONS[code as "HPE_HEADER_OVERFLOW"] : CLIENT_ERROR_REASONS.other;
  socket.end(
    `HTTP/1.1 ${status} ${text}\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
    () => socket.destroy(),
  );
}
