/**
 * What the proxy knows about one upstream CA: its name, its type (which
 * decides the challenge lifecycle), its SCEP URL and challenge settings
 * (PROXY.md "Challenge lifecycles by CA type").
 *
 * @module
 */

/**
 * The kind of upstream CA, which decides how a PKIOperation's challenge is checked:
 * - `ndes`: Microsoft NDES; the MDM fetched the challenge from NDES's admin page when it rendered the profile,
 *   valid {@link DEFAULT_CHALLENGE_TTL_MS}.ndes (57 minutes) after `challengeRetrievedAt`;
 * - `smallstep`: Smallstep; the challenge came from its webhook, valid 4 minutes after `challengeRetrievedAt`;
 * - `custom`: any RFC 8894 server; the proxy issued a one-time challenge (in the identifier) from a
 *   `ChallengeStore`, consumed atomically, valid 1 hour after issue.
 *
 * @group CAs
 */
export type CaType = "ndes" | "smallstep" | "custom";

/** Every {@link CaType}. @group CAs */
export const CA_TYPES: readonly CaType[] = ["ndes", "smallstep", "custom"];

/**
 * Default challenge validity per CA type, in milliseconds: NDES 57 minutes
 * (NDES keeps a challenge 60), Smallstep 4 minutes, proxy-issued one-time
 * challenges 1 hour. A CA's `challengeTtlMs` overrides it.
 *
 * @group CAs
 */
export const DEFAULT_CHALLENGE_TTL_MS: Readonly<Record<CaType, number>> = {
  ndes: 57 * 60_000,
  smallstep: 4 * 60_000,
  custom: 60 * 60_000,
};

/**
 * How far ahead of the clock an NDES or Smallstep profile's `challengeRetrievedAt` may lie, in milliseconds
 * (24 hours). A fetch time further ahead is a wrong record, a unit mistake (microseconds, i.e. milliseconds × 1000,
 * land some 50 000 years ahead), not clock skew: the proxy fails its PKIOperation (`challenge_failed`, requeued) and
 * an admin API should refuse it. Unrelated to the challenge's window on purpose: an MDM whose clock runs minutes
 * ahead (more than Smallstep's 4-minute window) must not be failed and requeued forever.
 *
 * @example
 * ```ts
 * import { MAX_CHALLENGE_RETRIEVED_AHEAD_MS } from "@scep/proxy";
 *
 * declare const retrievedAt: number; // ms since 1970, as the MDM recorded it
 * if (retrievedAt > Date.now() + MAX_CHALLENGE_RETRIEVED_AHEAD_MS) throw new Error("challengeRetrievedAt: give milliseconds since 1970");
 * ```
 *
 * @group CAs
 */
export const MAX_CHALLENGE_RETRIEVED_AHEAD_MS = 24 * 60 * 60_000;

/**
 * Longest CA name, in characters (UTF-16 code units, `string.length`): 255, Fleet's bound on a CA name. A name goes
 * into the device's URL (the identifier's third field, percent-encoded), a shared store's keys and log lines; a
 * `MemoryCaRegistry` refuses a longer one with `ProxyConfigError` (`ERR_PROXY_CONFIG`), like the other name checks.
 *
 * @example
 * ```ts
 * import { MAX_CA_NAME_LENGTH } from "@scep/proxy";
 *
 * const name = "corp-ndes";
 * if (name.length > MAX_CA_NAME_LENGTH) throw new Error(`CA name: at most ${MAX_CA_NAME_LENGTH} characters`);
 * ```
 *
 * @group CAs
 */
export const MAX_CA_NAME_LENGTH = 255;

/**
 * One configured upstream CA.
 *
 * @example
 * ```ts
 * import type { CaConfig } from "@scep/proxy";
 *
 * const ndes: CaConfig = {
 *   name: "corp-ndes",
 *   type: "ndes",
 *   url: "https://ndes.corp.example/certsrv/mscep/mscep.dll",
 *   exemptPlatforms: ["windows"],
 *   ndes: { adminUrl: "https://ndes.corp.example/certsrv/mscep_admin/", username: "svc-mdm", password: "…", domain: "CORP" },
 * };
 * ```
 *
 * @group CAs
 */
export interface CaConfig {
  /** Unique name; the identifier's third field. Non-empty, at most {@link MAX_CA_NAME_LENGTH} (255) characters, no control characters, no lone UTF-16 surrogates. */
  name: string;
  /** Which challenge lifecycle applies. */
  type: CaType;
  /**
   * The upstream's SCEP URL (http or https), e.g. NDES's `…/certsrv/mscep/mscep.dll`. Never shown to a device.
   * {@link HttpUpstream} sends its query byte for byte, in order, before `operation` (and `message`) on every call,
   * GET and POST (RFC 8894 §4.1: `https://ca.example/scep?provisioner=a%20b` →
   * `…?provisioner=a%20b&operation=GetCACaps`); a pair of it named `operation` (or `message`, when the call sends
   * one), compared case-insensitively, is replaced by the call's own; user and password, percent-decoded (UTF-8;
   * user info that does not decode, a user name holding a colon (`%3A`) or either holding a control character
   * (`%0D`, `%0A`, `%00`: RFC 7617 §2, which Basic cannot carry) is `ProxyConfigError` from the registry), become
   * Basic authorization;
   * the fragment is not sent. See `scepRequestUrl` in `@scep/core`.
   */
  url: string;
  /**
   * How long a challenge stays valid, in milliseconds (default {@link DEFAULT_CHALLENGE_TTL_MS} of the type). An
   * integer from 1 to 31 536 000 000 (365 days), else `ProxyConfigError` (`ERR_PROXY_CONFIG`) from the registry.
   */
  challengeTtlMs?: number;
  /**
   * The CA identifier (RFC 8894 §4.2, §3.5.1: the `message` of GetCACert and GetCACaps) this upstream needs, sent on
   * every GetCACert and GetCACaps (the device's and the one asked before a PKIOperation) instead of whatever the
   * device sent (EJBCA in CA mode answers a GetCACaps without one 404); a string of 1–255 characters without control characters or lone surrogates, sent
   * percent-encoded as UTF-8 (a space as `%20`). Unset (the default): the device's `message` is passed on as sent, or
   * none when it sent none. Set it for an upstream that serves several CAs
   * and knows none by the name a device's SCEP client puts there: Windows' SCEP CSP always sends `default` and offers
   * no setting for it, which a multi-CA EJBCA answers with an error (fleetdm/fleet#53703).
   */
  caIdentifier?: string;
  /** Platforms (`ProfileRecord.platform`, compared exactly) that may enroll whatever their delivery status (Fleet exempts `windows`). */
  exemptPlatforms?: string[];
  /**
   * NDES admin page access, for a challenge source (type `ndes`). {@link MemoryCaRegistry} checks it when given
   * (`ProxyConfigError`), as {@link NdesChallengeSource} does on each fetch.
   */
  ndes?: {
    /** The `mscep_admin` URL: absolute http(s), without user info (the account is `username` and `password`). */
    adminUrl: string;
    /** Account allowed to fetch challenges (`DOMAIN\user` or `user`); no colon, no control character. */
    username: string;
    /** Its password (never logged). */
    password: string;
    /** Windows domain for NTLM. */
    domain?: string;
  };
  /**
   * Smallstep webhook access, for a challenge source (type `smallstep`). {@link MemoryCaRegistry} checks it when
   * given (`ProxyConfigError`), as {@link SmallstepChallengeSource} does on each fetch.
   */
  smallstep?: {
    /** The SCEP challenge webhook URL: absolute http(s), without user info (the account is `username` and `password`). */
    webhookUrl: string;
    /** Basic auth user name; no colon (RFC 7617 §2: the user-id ends at the first colon), no control character. */
    username: string;
    /** Basic auth password (never logged); no control character (RFC 7617 §2). */
    password: string;
  };
}

/**
 * The validity of a challenge for `ca`, in milliseconds: `ca.challengeTtlMs`,
 * else the default of its type.
 *
 * @example
 * ```ts
 * import { challengeTtlMs } from "@scep/proxy";
 *
 * challengeTtlMs({ name: "ndes", type: "ndes", url: "https://ndes.example.com/certsrv/mscep/mscep.dll" }); // 3_420_000
 * ```
 *
 * @group CAs
 */
export function challengeTtlMs(ca: CaConfig): number {
  return ca.challengeTtlMs ?? DEFAULT_CHALLENGE_TTL_MS[ca.type];
}
