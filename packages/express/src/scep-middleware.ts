// IncomingMessage → handler.handle (the body read into one Buffer) → ServerResponse; handler.fetch for handlers without handle.
import type { IncomingMessage, ServerResponse } from "node:http";
import { type FetchHandler, SIZE_BYTES, booleanOption, checkFetchHandler, numberOption } from "@scep/core";
import { type BodyState, lazyBody } from "./read-body.js";
import { viaFetch } from "./via-fetch.js";

/** Options of {@link scepMiddleware}. @group Server */
export interface ScepMiddlewareOptions {
  /**
   * Largest request body read, in bytes (default 65 536, 64 KiB, like the server's `maxBodyBytes`: keep the two
   * equal so the server's event reports `body_too_large`). A larger body gets HTTP 413 and the connection is closed.
   * An integer from 1 to 1 073 741 824 (1 GiB): anything else (`NaN`, a string) makes {@link scepMiddleware} throw
   * InvalidArgumentError `ERR_INVALID_ARGUMENT`.
   */
  maxBodyBytes?: number;
  /**
   * Hand requests for paths the handler does not own to `next()` (default true); false sends them to the handler.
   * Not a boolean (a string `"false"`): `ERR_INVALID_ARGUMENT` from {@link scepMiddleware}.
   */
  fallthrough?: boolean;
}

/**
 * A Node/Express request: `originalUrl`, `baseUrl`, `body` and `ip` are read when a framework set them (`ip`: the
 * client's address, see {@link scepMiddleware}). @group Server
 */
export type NodeRequest = IncomingMessage & { originalUrl?: string; baseUrl?: string; body?: unknown; ip?: string | undefined };

/** The middleware: `(req, res, next)`, assignable to an Express 4 or 5 `RequestHandler`. @group Server */
export type ScepRequestHandler = (req: NodeRequest, res: ServerResponse, next: (error?: unknown) => void) => void;

/**
 * Serves a `FetchHandler` of `@scep/core` (a SCEP server, the `@scep/proxy` handler, or any handler with `fetch` and optionally `owns`) from an
 * Express app (4 or 5) or a bare `node:http` server.
 *
 * Routing: the handler's `owns(path)` decides, before any `Request` is built. Owned paths are answered by the
 * handler whatever the status (a SCEP 404 for GetNextCACert without a next CA stays the server's); every other
 * path goes to `next()` with its body unread, and the server emits no event for it. Mounted under a prefix
 * (`app.use("/pki", scepMiddleware(server))`), a profile path matches either the full path (`/pki/scep`) or the
 * path below the mount point (`/scep`): Express strips the mount path from `req.url` and keeps it in
 * `req.originalUrl`; the full path is tried first. A handler without `owns` gets every request, and a 404 it
 * answers without reading the body goes to `next()`.
 *
 * A handler with `handle` (the `@scep/core` SCEP server) gets the request as plain parts: the method, the path
 * as sent, `req.headers` as is, and the body read into one `Buffer` only when the handler asks for it (capped at
 * `maxBodyBytes`: more gets HTTP 413 and the connection is closed; a client that goes away mid-body gets the
 * handler's answer to an aborted body, for the SCEP server 400); its answer is written to `res` as it is, with a
 * `Content-Length`. No web `Request`, `Headers`, stream or `Response` is built. Any other handler gets a web
 * `Request` (the body streamed, capped the same way) and its `Response` is written back. Either way a `Buffer`
 * left in `req.body` by `express.raw()` is used instead of the stream; a body another parser mounted before this
 * middleware already read (`express.urlencoded()`, `express.json()`, multer…: the stream ended, or `req._body` set)
 * is reported to the handler as a `BodyAlreadyReadError`, which the SCEP server answers 400 `body_already_read`.
 *
 * The client's address goes to the handler as `{ remoteAddress }` (the SCEP server's events carry it as
 * `clientAddress`): Express's `req.ip`, which follows the app's `trust proxy` setting (unset: the TCP peer, so behind
 * a reverse proxy the proxy's address; set to the proxies you run, the client's address from `X-Forwarded-For`; never
 * set it to `true` on a port clients reach directly, as they could then write their own address), else (a bare
 * `node:http` server, or a request that has not been through an Express app yet) `req.socket.remoteAddress`. When
 * reading it throws (a `trust proxy` function that throws) the request is answered as if no address were known.
 *
 * @example
 * ```ts
 * import express from "express";
 * import { createScepServer } from "@scep/core";
 * import { scepMiddleware } from "@scep/express";
 *
 * const app = express();
 * app.use(scepMiddleware(createScepServer({ profiles: [profile] })));
 * app.listen(8080);
 * ```
 *
 * @throws InvalidArgumentError `ERR_INVALID_ARGUMENT` when `handler` has no `fetch` function (or an `owns` or
 *   `handle` that is not a function), `maxBodyBytes` is not an integer from 1 to 1 073 741 824 (bytes), or
 *   `fallthrough` is not a boolean: one line naming the option, its range and the value given.
 * @group Server
 */
export function scepMiddleware(handler: FetchHandler, options: ScepMiddlewareOptions = {}): ScepRequestHandler {
  checkFetchHandler(handler);
  // NaN made every body "not too large" here while the server refused it: the wire said 413, the event 400.
  const limit = numberOption("maxBodyBytes", options.maxBodyBytes, 64 * 1024, SIZE_BYTES);
  const fallthrough = booleanOption("fallthrough", options.fallthrough, true);
  return (req, res, next) => {
    const full = req.originalUrl ?? req.url ?? "/";
    const relative = req.url ?? "/";
    let path = full;
    if (handler.owns) {
      if (!handler.owns(full)) {
        if (relative !== full && handler.owns(relative)) path = relative;
        else if (fallthrough) return next();
      }
    }
    // A handler without `owns`: its 404 for a request whose body it never read goes to next().
    const fallthrough404 = !handler.owns && fallthrough;
    const info = { remoteAddress: addressOf(req) };
    if (!handler.handle) return viaFetch(handler, req, res, next, path, limit, fallthrough404, info);
    const method = req.method ?? "GET";
    const state: BodyState = { touched: false, tooLarge: false };
    let body: Uint8Array | PromiseLike<Uint8Array> | undefined;
    if (method !== "GET" && method !== "HEAD") {
      // express.raw() already read it: nothing is lost for next(), so fallthrough still applies.
      if (Buffer.isBuffer(req.body)) state.tooLarge = (body = req.body).length > limit;
      else body = lazyBody(req, limit, state);
    }
    handler
      .handle({ method, url: path, headers: req.headers, ...(body ? { body } : {}) }, info)
      .then((r) => {
        if (fallthrough404 && r.status === 404 && !state.touched) return next();
        if (res.headersSent) return; // answered already (a body timeout's 408)
        if (state.tooLarge) {
          res.writeHead(413, { "content-type": "text/plain; charset=utf-8", "content-length": TOO_LARGE.length, connection: "close" });
          return void res.end(TOO_LARGE);
        }
        const headers: Record<string, string | number> = { ...r.headers };
        if (method !== "HEAD") headers["content-length"] = r.body.length;
        if (r.status === 413) headers.connection = "close";
        res.writeHead(r.status, headers);
        res.end(method === "HEAD" ? undefined : r.body);
      })
      .catch(next);
  };
}

const TOO_LARGE = Buffer.from("message too large\n");

/**
 * `req.ip`, else the socket's peer; `undefined` when reading either throws (a `trust proxy` function that throws, a
 * socket that is gone): an address that cannot be read never fails the request.
 */
function addressOf(req: NodeRequest): string | undefined {
  try {
    return req.ip ?? req.socket?.remoteAddress;
  } catch {
    return undefined;
  }
}

