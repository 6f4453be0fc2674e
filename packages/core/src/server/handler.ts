/**
 * The shape every mountable handler of the SDK has (the SCEP server, and later
 * the proxy and the admin API): a web-standard `fetch`, and a cheap,
 * synchronous `owns(pathname)` an adapter asks before it builds a `Request`.
 *
 * @module
 */

/**
 * A fetch-style handler an adapter (`@scep/express`, `@scep/hono`) can mount.
 *
 * @group Server
 *
 * @example
 * ```ts
 * import type { FetchHandler } from "@scep/core";
 *
 * // Mounted like the SCEP server: app.use(scepMiddleware(health)) with @scep/express.
 * const health: FetchHandler = {
 *   owns: (pathname) => pathname === "/healthz",
 *   fetch: async () => new Response("ok"),
 * };
 * const res = health.owns?.("/healthz") ? await health.fetch(new Request("http://localhost/healthz")) : undefined;
 * ```
 */
export interface FetchHandler {
  /**
   * Whether this handler answers `pathname` (a URL path; a query string is ignored). Cheap and synchronous; an
   * adapter hands every request it owns to `fetch` whatever the answer's status, and every other to the next handler.
   * Without it, an adapter calls `fetch` and treats an untouched 404 as "not mine".
   */
  owns?(pathname: string): boolean;
  /** Answers a request. */
  fetch(request: Request): Promise<Response>;
}
