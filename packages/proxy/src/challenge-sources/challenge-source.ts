/**
 * Where an MDM gets an NDES or Smallstep challenge when it renders a profile
 * (PROXY.md "Interfaces it stands on": `ChallengeSource`).
 *
 * @module
 */
import { isPrintableString } from "@scep/core";
import type { CaConfig } from "../cas/ca-config.js";

/**
 * Whether `challenge` fits a PrintableString (X.680 §41.4: `A-Z a-z 0-9`, space and `'()+,-./:=?`). Windows' SCEP
 * CSP encodes the challenge it is given as a PKCS#10 challengePassword PrintableString (RFC 2985 §5.4.1) and fails
 * the enrollment on the device, after acknowledging the profile, when it cannot ("The string contains a
 * non-printable character", `CRYPT_E_INVALID_PRINTABLE_STRING`): fleetdm/fleet#47492, #49552. macOS and iOS accept
 * other characters (as a UTF8String). The same check as `isPrintableString` from `@scep/core` (kept here under
 * this name for the challenge sources' callers).
 *
 * @example
 * ```ts
 * import { fitsPrintableString } from "@scep/proxy";
 *
 * fitsPrintableString("8CE317021F690069"); // true
 * fitsPrintableString("a_b!c"); // false: `_` and `!` are not PrintableString
 * ```
 * @group Challenge sources
 */
export function fitsPrintableString(challenge: string): boolean {
  return isPrintableString(challenge);
}

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
  /**
   * Whether the challenge fits a PrintableString ({@link fitsPrintableString}); the sources of this package always set
   * it. False: a Windows device cannot send it (its SCEP CSP fails the enrollment after acknowledging the profile,
   * fleetdm/fleet#49552), so do not render it into a Windows profile: fetch another, or tell the CA's operator.
   */
  printableString?: boolean;
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
