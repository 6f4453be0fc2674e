/**
 * `@scep/proxy/testing`: the conformance suites of the proxy's interfaces
 * (PROXY.md "Interfaces it stands on"), to run against any implementation:
 * the in-memory ones of `@scep/proxy`, `@scep/redis`'s stores, or your own.
 * - {@link profileStoreConformance}: a `ProfileStore` (`MemoryProfileStore`, `RedisProfileStore`, SQL…);
 * - {@link caRegistryConformance}: a `CaRegistry` (`MemoryCaRegistry`, one reading a configuration service…);
 * - {@link upstreamConformance}: an `Upstream` (`HttpUpstream`, `FetchHandlerUpstream`, an EST or REST bridge…),
 *   wired to a SCEP server the suite scripts;
 * - {@link challengeSourceConformance}: a `ChallengeSource` (`NdesChallengeSource`, `SmallstepChallengeSource`,
 *   `MemoryChallengeSource`…), given the CAs that succeed, hang and fail.
 *
 * They register vitest tests, so import them from a vitest test file (vitest
 * is an optional peer dependency). The challenge store is `@scep/core`'s: run
 * `challengeStoreConformance` from `@scep/core/testing` for it (it holds
 * the optional `sweep` too, and CA names as profiles).
 *
 * @example
 * ```ts
 * import { FetchHandlerUpstream, MemoryCaRegistry, MemoryProfileStore } from "@scep/proxy";
 * import { caRegistryConformance, profileStoreConformance, upstreamConformance } from "@scep/proxy/testing";
 *
 * profileStoreConformance({ name: "memory", create: ({ now }) => new MemoryProfileStore({ now }) });
 * caRegistryConformance({ name: "memory", create: (cas, options) => new MemoryCaRegistry(cas, options) });
 * upstreamConformance({
 *   name: "in process",
 *   create: (handler) => ({ upstream: new FetchHandlerUpstream(handler), ca: { name: "local", type: "custom", url: "http://in-process/scep" } }),
 * });
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
