/**
 * `@scep/intune/testing`: conformance suites for the `ReplayCache` and
 * `RateLimiter` interfaces, to run against any implementation (the memory stores,
 * `@scep/redis`, or your own). They register vitest tests, so import them from
 * a vitest test file (vitest is an optional peer dependency). Stores get
 * `{ now }` from `@scep/core/testing`'s manual clock and must decide expiry
 * and windows with it.
 *
 * @example
 * ```ts
 * import type { RateLimiter, ReplayCache } from "@scep/intune";
 * import { rateLimiterConformance, replayCacheConformance } from "@scep/intune/testing";
 *
 * declare function myReplayCache(options: { now: () => Date }): ReplayCache; // yours
 * declare function myRateLimiter(options: { now: () => Date }): RateLimiter; // yours
 *
 * replayCacheConformance({ name: "mine", create: ({ now }) => myReplayCache({ now }) });
 * rateLimiterConformance({ name: "mine", create: ({ now }) => myRateLimiter({ now }) });
 * ```
 *
 * @module
 */
export { replayCacheConformance } from "./replay-cache-conformance.js";
export type { ReplayCacheConformanceOptions } from "./replay-cache-conformance.js";
export { rateLimiterConformance } from "./rate-limiter-conformance.js";
export type { RateLimiterConformanceOptions } from "./rate-limiter-conformance.js";
