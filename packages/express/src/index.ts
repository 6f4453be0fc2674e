/**
 * @scep/express: serve a `@scep/core` SCEP server from Express 4 or 5 (or a
 * bare `node:http` server).
 *
 * @example
 * ```ts
 * import express from "express";
 * import { createScepServer } from "@scep/core";
 * import { scepMiddleware } from "@scep/express";
 *
 * const app = express();
 * app.use(scepMiddleware(createScepServer({ profiles: [profile] }), { maxBodyBytes: 64 * 1024 }));
 * app.listen(8080);
 * ```
 *
 * @module
 */
export { scepMiddleware } from "./scep-middleware.js";
export type { ScepMiddlewareOptions, ScepRequestHandler, NodeRequest } from "./scep-middleware.js";
