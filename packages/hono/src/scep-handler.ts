// Hono → handler.fetch: Hono already speaks web Request/Response.
import type { FetchHandler } from "@scep/core";
import { Hono, type MiddlewareHandler } from "hono";

/** Options of {@link scepHandler}. @group Server */
export interface ScepHandlerOptions {
  /** Hand requests for paths the handler does not own to `next()` (default true); false sends them to the handler. */
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
 * `next()`. The body limit is the server's `maxBodyBytes` (it reads the stream).
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
 * @group Server
 */
export function scepHandler(handler: FetchHandler, options: ScepHandlerOptions = {}): MiddlewareHandler {
  const fallthrough = options.fallthrough ?? true;
  return async (c, next) => {
    if (handler.owns) return handler.owns(c.req.path) || !fallthrough ? handler.fetch(c.req.raw) : next();
    const response = await handler.fetch(c.req.raw);
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
 * @group Server
 */
export function scepApp(handler: FetchHandler): Hono {
  return new Hono().all("*", (c) => handler.fetch(c.req.raw));
}
