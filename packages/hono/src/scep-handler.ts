// Hono → ScepServer.fetch: Hono already speaks web Request/Response.
import type { ScepServer } from "@scep/core";
import { Hono, type MiddlewareHandler } from "hono";

/** Options of {@link scepHandler}. */
export interface ScepHandlerOptions {
  /** Hand requests for paths no profile serves (a 404 answered without reading the body) to `next()` (default true). */
  fallthrough?: boolean;
}

/**
 * A Hono middleware that hands `c.req.raw` to the SCEP server and returns its
 * `Response`. Profile paths are matched against the full request URL, so the
 * route pattern only decides which requests reach it: `app.use(scepHandler(server))`
 * or `app.all("/scep/*", …)`. Requests the server answers 404 without touching the
 * body (no profile at that path) go on to `next()` unless `fallthrough: false`.
 * The body limit is the server's `maxBodyBytes` (it reads the stream itself).
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
 */
export function scepHandler(server: ScepServer, options: ScepHandlerOptions = {}): MiddlewareHandler {
  const fallthrough = options.fallthrough ?? true;
  return async (c, next) => {
    const response = await server.fetch(c.req.raw);
    if (response.status === 404 && fallthrough && !c.req.raw.bodyUsed) return next();
    return response;
  };
}

/**
 * A Hono app that serves only SCEP: every path and method goes to the server,
 * whose answer (404 for paths no profile serves) is final. Mount it with
 * `app.route("/", scepApp(server))` or serve it alone.
 *
 * @example
 * ```ts
 * import { serve } from "@hono/node-server";
 * import { scepApp } from "@scep/hono";
 *
 * serve({ fetch: scepApp(server).fetch, port: 8080 });
 * ```
 */
export function scepApp(server: ScepServer): Hono {
  return new Hono().all("*", (c) => server.fetch(c.req.raw));
}
