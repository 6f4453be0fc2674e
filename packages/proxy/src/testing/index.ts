/**
 * `@scep/proxy/testing`: the conformance suites of the proxy's interfaces, to
 * run against any implementation (the in-memory ones of `@scep/proxy`,
 * `@scep/redis`'s stores, or your own): {@link profileStoreConformance},
 * {@link caRegistryConformance}. They register vitest tests, so import them
 * from a vitest test file (vitest is an optional peer dependency). The
 * challenge store is `@scep/core`'s: run `challengeStoreConformance` from
 * `@scep/core/testing` for it.
 *
 * @example
 * ```ts
 * import { MemoryCaRegistry, MemoryProfileStore } from "@scep/proxy";
 * import { caRegistryConformance, profileStoreConformance } from "@scep/proxy/testing";
 *
 * profileStoreConformance({ name: "memory", create: ({ now }) => new MemoryProfileStore({ now }) });
 * caRegistryConformance({ name: "memory", create: (cas, options) => new MemoryCaRegistry(cas, options) });
 * ```
 *
 * @module
 */
export { profileStoreConformance } from "./profile-store-conformance.js";
export type { ProfileStoreConformanceOptions } from "./profile-store-conformance.js";
export { caRegistryConformance } from "./ca-registry-conformance.js";
export type { CaRegistryConformanceOptions } from "./ca-registry-conformance.js";
export { challengeSourceConformance } from "./challenge-source-conformance.js";
export type { ChallengeSourceConformanceOptions, ChallengeSourceFailureCase } from "./challenge-source-conformance.js";
export { upstreamConformance } from "./upstream-conformance.js";
export type { UpstreamConformanceOptions, UpstreamUnderTest } from "./upstream-conformance.js";
