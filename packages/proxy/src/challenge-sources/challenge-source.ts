/**
 * Where an MDM gets an NDES or Smallstep challenge when it renders a profile
 * (PROXY.md "Interfaces it stands on": `ChallengeSource`).
 *
 * @module
 */
import type { CaConfig } from "../cas/ca-config.js";

/**
 * A challenge fetched from a CA, and when.
 *
 * @group Challenge sources
 */
export interface FetchedChallenge {
  /** The challenge password to put in the profile (secret: never log it). */
  challenge: string;
  /** When it was fetched, ms since the epoch by the source's clock; store it as `ProfileRecord.challengeRetrievedAt`. */
  retrievedAt: number;
}

/**
 * Fetches a challenge for a profile about to be rendered: the NDES admin
 * page (type `ndes`), the Smallstep webhook (type `smallstep`). Rejects with a
 * `ChallengeSourceError` (or a subclass with a precise code such as
 * `ERR_PROXY_NDES_CACHE_FULL`, which means "back off and retry", not "mark the
 * device failed").
 *
 * @example
 * ```ts
 * import type { ChallengeSource, CaConfig, ProfileStore } from "@scep/proxy";
 *
 * declare const source: ChallengeSource;
 * declare const ca: CaConfig;
 * declare const profiles: ProfileStore;
 * const { challenge, retrievedAt } = await source.fetchChallenge(ca, { signal: AbortSignal.timeout(30_000) });
 * await profiles.put({ hostId: "host-42", profileId: "wifi", caName: ca.name, status: "pending", challengeRetrievedAt: retrievedAt, updatedAt: retrievedAt });
 * // …render the profile with `challenge` and the device URL from buildProxyUrl
 * ```
 *
 * @group Challenge sources
 */
export interface ChallengeSource {
  /**
   * Fetches one challenge from `ca`. `signal` aborts the fetch: the promise
   * then rejects with `signal.reason`. Every failure is a
   * `ChallengeSourceError` whose `retryable` says whether to back off and
   * retry. `challengeSourceConformance` (`@scep/proxy/testing`) holds an
   * implementation to this.
   */
  fetchChallenge(ca: CaConfig, options?: { signal?: AbortSignal }): Promise<FetchedChallenge>;
}
