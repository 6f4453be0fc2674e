/**
 * @scep/hono: serve a `@scep/core` SCEP server from Hono (any runtime Hono
 * runs on; the server itself needs Node's crypto).
 *
 * @example
 * ```ts
 * import { Hono } from "hono";
 * import { serve } from "@hono/node-server";
 * import { createScepServer } from "@scep/core";
 * import { scepHandler } from "@scep/hono";
 *
 * const app = new Hono();
 * app.use(scepHandler(createScepServer({ profiles: [profile] })));
 * serve({ fetch: app.fetch, port: 8080 });
 * ```
 *
 * @module
 */
export { scepHandler, scepApp } from "./scep-handler.js";
export type { ClientAddressReader, ScepAppOptions, ScepHandlerOptions } from "./scep-handler.js";
