/**
 * `@scep-examples/server-kit`: the configuration and bootstrap the example
 * SCEP servers (Express, Hono) share, written once: flags and environment
 * variables, the embedded file-backed CA, the challenge kept in the data
 * directory, the `/scep` profile with its issue hook, JSON event lines, an
 * HTTP server with request/headers/keep-alive timeouts, the startup banner and
 * graceful shutdown.
 *
 * @example
 * ```ts
 * import express from "express";
 * import { scepMiddleware } from "@scep/express";
 * import { startServer } from "@scep-examples/server-kit";
 *
 * await startServer("express", (kit) => express().use(scepMiddleware(kit.server)));
 * ```
 *
 * @module
 */
export { parseConfig, readConfig, configErrorLine, usage, ConfigError, SETTINGS } from "./config.js";
export type { ServerConfig } from "./config.js";
export { loadConfig, ConfigFileError, CONFIG_SCHEMA_URL } from "./config-file.js";
export type { Config, ProfileSettings, ChallengeSettings, IntuneApiSettings, SignedTokenSettings, RateLimitSettings } from "./config-file.js";
export type { ProfileSummary, IntuneStores } from "./profiles.js";
export { startServer, createKit, profileSettings, openProfileCas, createHttpServer, openCa, listenFailure, SCEP_PATH, SHUTDOWN_GRACE_MS, TRANSACTION_RETENTION_MS, MAX_TRANSACTIONS } from "./start-server.js";
export { createAdminApi, ADMIN_PREFIX, MAX_PAGE_SIZE } from "./admin-api.js";
export type { AdminApi, AdminApiOptions, ActivitySource, ReloadableTrustAnchors } from "./admin-api.js";
export { ADMIN_PAGE_PATH, ADMIN_SCRIPT_PATH } from "./admin-page.js";
export { createCrlEndpoint, scheduleCrl, CRL_PATH, CRL_FILE } from "./crl-endpoint.js";
export type { CrlEndpoint } from "./crl-endpoint.js";
export { serveFetch, rawPath, peerAddress, internalError } from "./node-fetch.js";
export type { InternalFailure } from "./node-fetch.js";
export { applyHttpLimits } from "./http-limits.js";
export type { HttpLimits, HttpLimitStats } from "./http-limits.js";
export type { ScepKit, RunningServer, OpenCaOptions } from "./start-server.js";
