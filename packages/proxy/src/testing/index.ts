/**
 * `@scep/proxy/testing`: the conformance suite of the proxy's `ProfileStore`,
 * to run against any implementation (`MemoryProfileStore`, `@scep/redis`'s
 * store, or your own on a SQL database). It registers vitest tests, so import
 * it from a vitest test file (vitest is an optional peer dependency). The
 * challenge store is `@scep/core`'s: run `challengeStoreConformance` from
 * `@scep/core/testing` for it.
 *
 * @example
 * ```ts
 * import { MemoryProfileStore } from "@scep/proxy";
 * import { profileStoreConformance } from "@scep/proxy/testing";
 *
 * profileStoreConformance({ name: "memory", create: ({ now }) => new MemoryProfileStore({ now }) });
 * ```
 *
 * @module
 */
export { profileStoreConformance } from "./profile-store-conformance.js";
export type { ProfileStoreConformanceOptions } from "./profile-store-conformance.js";
