/**
 * `@scep/intune/testing`: conformance suites for the `ReplayCache` and
 * `RateLimiter` interfaces, to run against any implementation (the memory stores,
 * `@scep/redis`, or your own). They register vitest tests, so import them from
 * a vitest test file (vitest is an optional peer dependency).
 *
 * @example
 * ```ts
 * import { rateLimiterConformance, replayCacheConformance } from "@scep/intune/testing";
 *
 * replayCacheConformance({ name: "mine", create: ({ now }) => new MyReplayCache({ now }) });
 * rateLimiterConformance({ name: "mine", create: ({ now }) => new MyRateLimiter({ now }) });
 * ```
 *
 * @module
 */
export { manualClock } from "./manual-clock.js";
export type { ManualClock } from "./manual-clock.js";
export { replayCacheConformance } from "./replay-cache-conformance.js";
export type { ReplayCacheConformanceOptions, StoreFactoryContext } from "./replay-cache-conformance.js";
export { rateLimiterConformance } from "./rate-limiter-conformance.js";
export type { RateLimiterConformanceOptions } from "./rate-limiter-conformance.js";
