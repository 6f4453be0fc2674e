// Hono → handler.fetch: Hono already speaks web Request/Response. A body of declared length goes through
// handler.handle instead, read by Hono (c.req.arrayBuffer(): @hono/node-server reads it without a web stream).
import { type ConnectionInfo, type FetchHandler, InvalidArgumentError, booleanOption, checkFetchHandler } from "@scep/core";
import { type Context, Hono, type MiddlewareHandler } from "hono";

/**
 * Answers `c` with `handler`: through `handle` (when the handler has it) for a request without a body or with a
 * declared `Content-Length` (framing bounds what Hono reads, and the handler refuses a declared length over its
 * limit before reading), else through `fetch`, which streams a chunked body under the handler's own limit.
 */
async function answer(handler: FetchHandler, c: Context, remoteAddress: ClientAddressReader): Promise<Response> {
  const raw = c.req.raw;
  const method = raw.method;
  const bodyless = method === "GET" || method === "HEAD";
  const info: ConnectionInfo = { remoteAddress: readAddress(remoteAddress, c) };
  if (!bodyless && raw.bodyUsed) {
    // A middleware before this one read the body. Bytes Hono kept are the body; else it is gone, and `raw` (its body
    // used) gets the handler's own answer (the SCEP server's 400 body_already_read), however the body was framed.
    const kept = bytesKept(c);
    if (!kept) return handler.fetch(raw, info);
    if (!handler.handle) {
      const bytes = await kept.catch(() => undefined); // the client went away while it was read: the body is gone
      return handler.fetch(bytes ? new Request(raw, { body: bytes as Uint8Array<ArrayBuffer> }) : raw, info);
    }
    kept.catch(() => undefined); // awaited only by a handler that reads the body (the server's PKIOperation POST)
    const r = await handler.handle({ method, url: raw.url, headers: raw.headers, body: kept }, info);
    return new Response(r.body as Uint8Array<ArrayBuffer>, { status: r.status, headers: r.headers });
  }
  if (!handler.handle || (!bodyless && raw.headers.get("content-length") === null)) return handler.fetch(raw, info);
  const body: PromiseLike<Uint8Array> | undefined = bodyless ? undefined : { then: (ok, fail) => c.req.arrayBuffer().then((b) => new Uint8Array(b)).then(ok, fail) };
  const r = await handler.handle({ method, url: raw.url, headers: raw.headers, ...(body ? { body } : {}) }, info);
  return new Response(method === "HEAD" ? null : (r.body as Uint8Array<ArrayBuffer>), { status: r.status, headers: r.headers });
}

/**
 * The body's bytes as Hono kept them for a middleware that read it with `c.req.arrayBuffer()` or `c.req.blob()`
 * (`c.req.bodyCache`), as `@scep/express` takes the Buffer `express.raw()` left; undefined when it was read any other
 * way (as text or JSON, which DER does not survive; or from `c.req.raw`, which Hono does not keep).
 */
function bytesKept(c: Context): Promise<Uint8Array> | undefined {
  const cache = c.req.bodyCache as { arrayBuffer?: unknown; blob?: unknown };
  const bytes = isPromise<ArrayBuffer>(cache.arrayBuffer) ? cache.arrayBuffer : isPromise<Blob>(cache.blob) ? cache.blob.then((b) => b.arrayBuffer()) : undefined;
  return bytes?.then((b) => new Uint8Array(b));
}

const isPromise = <T>(v: unknown): v is Promise<T> => v instanceof Promise;

/** `reader(c)`, or `undefined` when it throws: an address that cannot be read never fails the request. */
function readAddress(reader: ClientAddressReader, c: Context): string | undefined {
  try {
    return reader(c);
  } catch {
    return undefined;
  }
}

/**
 * Reads the client's IP address from a request's Context (`undefined`: unknown). A web `Request` has none: where it
 * is depends on the runtime. @group Server
 */
export type ClientAddressReader = (c: Context) => string | undefined;

/**
 * The default {@link ClientAddressReader}: on `@hono/node-server`, the TCP peer's address
 * (`c.env.incoming.socket.remoteAddress`: behind a reverse proxy, the proxy's); on other runtimes, `undefined`.
 */
const nodeServerPeer: ClientAddressReader = (c) => {
  const address: unknown = (c.env as { incoming?: { socket?: { remoteAddress?: unknown } } } | undefined)?.incoming?.socket?.remoteAddress;
  return typeof address === "string" ? address : undefined;
};

/** Options of {@link scepApp}. @group Server */
export interface ScepAppOptions {
  /**
   * How to read the client's IP address from the Context; the handler gets it as `{ remoteAddress }` (the SCEP
   * server's events carry it as `clientAddress`). Default: on `@hono/node-server` the TCP peer
   * (`c.env.incoming.socket.remoteAddress`), elsewhere none. Other runtimes: Hono's own helper, e.g.
   * `(c) => getConnInfo(c).remote.address` with `getConnInfo` from `hono/bun`, `hono/deno` or `hono/cloudflare-workers`.
   * Behind a reverse proxy, read the address it forwards only from a proxy you run (a client can write any
   * `X-Forwarded-For`). A reader that throws, or returns anything but a non-empty string, counts as no address (the
   * request is answered, its event has no `clientAddress`). Not a function: `ERR_INVALID_ARGUMENT`.
   */
  remoteAddress?: ClientAddressReader;
}

/** Options of {@link scepHandler}. @group Server */
export interface ScepHandlerOptions extends ScepAppOptions {
  /**
   * Hand requests for paths the handler does not own to `next()` (default true); false sends them to the handler.
   * Not a boolean (a string `"false"`): `ERR_INVALID_ARGUMENT` from {@link scepHandler}.
   */
  fallthrough?: boolean;
}

/**
 * A Hono middleware that hands `c.req.raw` to a `FetchHandler` of `@scep/core` (a
 * `@scep/core` SCEP server, the `@scep/proxy` handler, or any handler with `fetch` and optionally `owns`) and returns
 * its `Response`. The handler's `owns(c.req.path)` decides first: owned paths
 * are answered by the handler whatever the status; every other path goes on to
 * `next()` (unless `fallthrough: false`) and the server emits no event for it.
 * Profile paths are matched against the full request path (Hono does not strip
 * a route prefix); to serve profile `/scep` at `/pki/scep`, mount the standalone
 * app: `app.mount("/pki", scepApp(server).fetch)`. A handler without `owns`
 * gets every request, and a 404 it answers without reading the body goes on to
 * `next()`. The body limit is the server's `maxBodyBytes`. A handler with `handle` (the SCEP server) gets a body
 * of declared `Content-Length` read by Hono in one piece (no web stream: cheaper on `@hono/node-server`), and its
 * answer as a `Response`; a chunked body goes through `fetch`, streamed under the same limit. A body a middleware
 * mounted before it already read is answered the same way however it was framed: read as bytes through Hono
 * (`c.req.arrayBuffer()`, `c.req.blob()`, which Hono keeps) it is served; read as text, JSON or a form, or from
 * `c.req.raw`, it is gone, and the SCEP server answers 400 `body_already_read`.
 *
 * @example
 * ```ts
 * import { Hono } from "hono";
 * import { createScepServer } from "@scep/core";
 * import { scepHandler } from "@scep/hono";
 *
 * const app = new Hono();
 * app.use(scepHandler(createScepServer({ profiles: [profile] })));
 * export default app;
 * ```
 *
 * @throws InvalidArgumentError `ERR_INVALID_ARGUMENT` when `handler` has no `fetch` function (or an `owns` or
 *   `handle` that is not a function), `fallthrough` is not a boolean, or `remoteAddress` is not a function.
 * @group Server
 */
export function scepHandler(handler: FetchHandler, options: ScepHandlerOptions = {}): MiddlewareHandler {
  checkFetchHandler(handler);
  const fallthrough = booleanOption("fallthrough", options.fallthrough, true);
  const remoteAddress = readerOption(options.remoteAddress);
  return async (c, next) => {
    if (handler.owns) return handler.owns(c.req.path) || !fallthrough ? answer(handler, c, remoteAddress) : next();
    const response = await answer(handler, c, remoteAddress);
    if (response.status === 404 && fallthrough && !c.req.raw.bodyUsed) return next();
    return response;
  };
}

/**
 * A Hono app that serves only SCEP: every path and method goes to the server,
 * whose answer (404 for paths no profile serves) is final. Serve it alone,
 * route it (`app.route("/", scepApp(server))`), or mount it under a prefix
 * that Hono strips: `app.mount("/pki", scepApp(server).fetch)` serves profile
 * `/scep` at `/pki/scep`.
 *
 * @example
 * ```ts
 * import { serve } from "@hono/node-server";
 * import { scepApp } from "@scep/hono";
 *
 * serve({ fetch: scepApp(server).fetch, port: 8080 });
 * ```
 *
 * @throws InvalidArgumentError `ERR_INVALID_ARGUMENT` when `handler` has no `fetch` function, or `remoteAddress` is
 *   not a function.
 * @group Server
 */
export function scepApp(handler: FetchHandler, options: ScepAppOptions = {}): Hono {
  checkFetchHandler(handler);
  const remoteAddress = readerOption(options.remoteAddress);
  return new Hono().all("*", (c) => answer(handler, c, remoteAddress));
}

function readerOption(reader: ClientAddressReader | undefined): ClientAddressReader {
  if (reader !== undefined && typeof reader !== "function") {
    const type = reader === null ? "null" : typeof reader;
    throw new InvalidArgumentError(`remoteAddress must be a function (got ${type === "null" ? type : /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`})`);
  }
  return reader ?? nodeServerPeer;
}
