/**
 * Challenge passwords (RFC 8894 §2.3): a static secret, a store of one-time
 * challenges, or a custom validator (Intune plugs in here). The server turns
 * each {@link ChallengePolicy} into one validator (`challenge-validators.ts`).
 *
 * @module
 */
import { isPrintableString, toBase64Url } from "../encoding.js";
import * as nc from "../lib/node-crypto.js";
import type { CertificationRequest } from "../x509/certification-request.js";
import type { PkiRequest } from "../message/pki-message.js";
import { InvalidArgumentError, StoreUnavailableError, type FailInfo } from "../errors.js";
import type { Certificate } from "../x509/certificate.js";
import type { ConfirmHook, IssueContext } from "./profile.js";
import { MAX_RECORD_MS, MAX_STORE_ENTRIES, numberOption, typeOf } from "../number-option.js";

/** A challenge's TTL: whole milliseconds, at most 365 days. */
const CHALLENGE_TTL = { min: 1, max: MAX_RECORD_MS, unit: "ms" } as const;

/** What a challenge validator is told. @group Server */
export interface ChallengeContext {
  /** The challengePassword from the CSR (undefined when absent). */
  challenge: string | undefined;
  /** The CSR. */
  csr: CertificationRequest;
  /** The whole decoded request. */
  request: PkiRequest;
  /** The profile name. */
  profile: string;
}

/**
 * What a custom validator answers: `true`/`false`, or an object. `{ ok: true, data }` passes `data` to the issue
 * hook as `IssueContext.challengeData` (e.g. what an Intune or webhook check learned). `{ ok: true, release }`: a
 * function that undoes what accepting the challenge spent (a replay-cache entry, a rate-limit hit), called at most
 * once, best effort, when the server then fails the request before issuing (a 5xx, or 503 for a store that is down),
 * so the device's resend (RFC 8894 §3.3.3) is accepted as the first try would have been; never after a FAILURE
 * answer of the issue hook or a recorded PENDING transaction. It is a store call: the server waits for it at most
 * `storeTimeoutMs`, then answers the request as it would have (its 503 or 500) and lets it finish on its own (what it
 * throws or rejects with is ignored). `{ ok: false }` may name a stable `reason` label for
 * events and stats (`[A-Za-z0-9_]{1,64}`, else `bad_challenge`), the `failInfo` (one of RFC 8894 §3.2.1.4.5's five, else
 * badRequest) and a `failInfoText` for the client (a non-empty string, else "challenge rejected"; never put a secret
 * in it).
 * @group Server
 */
export type ChallengeVerdict =
  | boolean
  | { ok: true; data?: unknown; release?: () => Promise<unknown> }
  | { ok: false; reason?: string; failInfo?: FailInfo; failInfoText?: string };

/**
 * One-time challenges shared by every replica of a server. Either method may
 * reject with {@link StoreUnavailableError} (the server then answers 503 and
 * issues nothing: it fails closed).
 *
 * @example
 * ```ts
 * const store: ChallengeStore = new MemoryChallengeStore();
 * const challenge = await store.issue({ profile: "corp", ttlMs: 3_600_000 });
 * await store.consume(challenge, { profile: "corp" }); // true once
 * await store.consume(challenge, { profile: "corp" }); // false
 * await store.release?.(challenge, { profile: "corp" }); // true: the server failed that request, the retry may use it
 * await store.consume(challenge, { profile: "corp", binding: "tx-42/key-1" }); // true: spent, and by whom
 * await store.isSpentBy?.(challenge, { profile: "corp", binding: "tx-42/key-1" }); // true: a re-send of that request
 * await store.release?.(challenge, { profile: "corp" }); // false: a matched re-send keeps it spent
 * ```
 * @group Server
 */
export interface ChallengeStore {
  /**
   * Creates a random challenge valid for `ttlMs` milliseconds (store default when omitted) on `profile`.
   *
   * `holder`: who the challenge is for (`@scep/proxy`'s admin API passes the profile record's host and profile,
   * Fleet's host UUID and profile UUID). A challenge issued with a holder supersedes every earlier challenge of the
   * same `profile` and `holder`: once `issue` resolves, `consume` and `release` of an earlier one resolve false
   * (an MDM that re-registers a profile hands out a new URL, and the earlier URL must not enroll). Challenges of
   * another holder or profile, and those issued without a holder, are untouched.
   *
   * @throws InvalidArgumentError (`ERR_INVALID_ARGUMENT`) for a `ttlMs` given that is not an integer from 1 to
   *   31 536 000 000 (ms, 365 days), `null` included, in `numberOption`'s line
   *   (`ttlMs must be an integer number of milliseconds from 1 to 31536000000 (got 0)`): every implementation alike.
   */
  issue(options: { profile: string; ttlMs?: number; holder?: string }): Promise<string>;
  /**
   * Consumes a challenge. Atomic one-shot: of N concurrent calls with the same
   * challenge at most one resolves true. False when unknown, expired, already
   * consumed, or issued for another profile; a consume under the wrong profile
   * leaves the challenge intact (probing another profile's endpoint cannot
   * burn it), so it can still be used once on its own profile. A consume that
   * rejects leaves the challenge usable: a store whose write may still land
   * after it rejected (a timeout) undoes that write itself, and never another
   * consumer's (`RedisChallengeStore` tags its spent mark per consumer).
   *
   * `consumption`: an optional id the caller picks for this consume (a fresh random string, e.g. 16 random bytes in
   * hex), recorded with the spent mark so that `release` with the same id puts back this consume and no later one.
   *
   * `binding`: an optional string naming the request this consume was for (`@scep/proxy` passes a digest of a
   * PKCSReq's transactionID and signer key; the server's one-time policy a digest of the transactionID, the CSR's key
   * and subject, matched for a re-send that took over its first send's lapsed claim), recorded with the spent mark in the same atomic step, so that
   * {@link ChallengeStore.isSpentBy} can later tell that request's re-send (RFC 8894 §3.3.1, §3.3.3) from another
   * use. A store without `isSpentBy` may ignore it.
   */
  consume(challenge: string, options: { profile: string; consumption?: string; binding?: string }): Promise<boolean>;
  /**
   * Whether a challenge is spent by a consume that named this `binding`: true only while it is spent (not released),
   * of `profile`, not expired by the store's clock, not superseded (a holder's later `issue`), and the consume that
   * spent it passed exactly this `binding`; a challenge consumed without a binding is never matched. Lets
   * `@scep/proxy` forward a client's re-send of the PKCSReq that spent a one-time challenge (RFC 8894 §3.3.1, §3.3.3:
   * after a PENDING reply, or a reply lost on the way) instead of refusing it; the window is the challenge's own
   * lifetime (`issue`'s `ttlMs`). Rejects with StoreUnavailableError (`ERR_STORE_UNAVAILABLE`) when the backend fails.
   *
   * A true answer also records, in the same atomic step, that a re-send was matched (the caller forwards it, and the
   * CA may issue for it): from then on `release` of the spending consume, and the undo of a late consume, resolve
   * false and change nothing, so the challenge stays spent until it expires (still matching this binding). Without
   * this, the first send's release after its upstream answered 503 would make the challenge consumable again while
   * its re-send, forwarded on another replica, was being issued: two certificates from one one-time challenge. A
   * release that ran first wins instead: the binding is gone and this resolves false. A false answer changes nothing.
   *
   * Optional: a store without it (one written before it existed) keeps today's behaviour: the proxy refuses every
   * later use of a spent challenge, re-sends included. A store that offers it must keep a consumed challenge, marked
   * spent with its binding, until its expiry (as `release` needs too).
   */
  isSpentBy?(challenge: string, options: { profile: string; binding: string }): Promise<boolean>;
  /**
   * Puts back a challenge that `consume` took for a request the server then failed for its own reason (the store
   * answered after the server's timeout, the issue hook threw, a store was down while the transaction was
   * recorded), so the device's retry (RFC 8894 §3.3.3 lets it resend) can still use it. Resolves true when the
   * challenge is usable once more; false (and no change) when it is unknown, was not consumed, belongs to another
   * profile, or has expired by the store's clock. Its expiry stays what `issue` set. The server calls it only for
   * its own consumes, at most once each, and only before a certificate was issued or a PENDING transaction
   * recorded. A store that offers it keeps a consumed challenge (marked spent) until its expiry, and makes it
   * atomic with `consume`: a released challenge is consumable exactly once more. Rejects with
   * StoreUnavailableError (`ERR_STORE_UNAVAILABLE`) when the backend fails. Optional: without it a challenge
   * consumed by a failed request stays spent, and the MDM must hand out a new one.
   *
   * A challenge whose re-send `isSpentBy` matched is never released (false, no change): the CA may be issuing for
   * that re-send.
   *
   * `consumption`: the id passed to the `consume` being undone. With it, release changes something only while the
   * challenge is still spent by that very consume: a release that comes late (after the challenge was released and
   * consumed again by another request) resolves false and leaves the later consume spent, so a challenge is never
   * used twice. A consume made without an id is never released by a release with one. Without it, release puts back
   * whatever consume spent the challenge (callers that release only their own consume, once, as `@scep/core`'s
   * server does).
   */
  release?(challenge: string, options: { profile: string; consumption?: string }): Promise<boolean>;
  /**
   * Removes every expired challenge (by the store's clock) and resolves with
   * how many it removed. Optional: a store whose backend expires entries on
   * its own (a Redis TTL, a database job) may omit it or resolve 0. Never
   * removes a live challenge; an expired one is refused by `consume` whether
   * or not it was swept. Call it periodically (e.g. every few minutes) on a
   * store that has no expiry of its own.
   */
  sweep?(): Promise<number>;
}

/**
 * A validator of your own, with optional phases of its own (the two-phase enrollment): `confirm` runs after the
 * issue hook issued and before the certificate is delivered (a veto keeps it from the client), `onIssueFailure` when
 * issuance fails after this validator accepted the request. Both run only for enrollments this validator accepted,
 * including a PENDING one completed later by `approve` or `reject`. {@link webhookChallenge} is one.
 *
 * @example
 * ```ts
 * declare function fetchExpectedChallenge(): Promise<string>;
 * declare function tellMdm(serialHex: string): Promise<boolean>;
 * declare function tellMdmItFailed(reason: string): Promise<void>;
 * const policy: CustomChallengePolicy = {
 *   type: "custom",
 *   status: { challengeStatus: () => ({ kind: "mdm" }) },
 *   validate: async ({ challenge }) => (challenge === (await fetchExpectedChallenge()) ? { ok: true, data: { device: "abc" } } : { ok: false, reason: "mdm_mismatch" }),
 *   confirm: async ({ certificate }) => (await tellMdm(certificate.serialNumberHex)) ? { ok: true } : { ok: false, reason: "mdm_not_told" },
 *   onIssueFailure: async ({ reason }) => void (await tellMdmItFailed(reason)),
 * };
 * ```
 * @group Server
 */
export interface CustomChallengePolicy {
  type: "custom";
  /** Checks one request's challenge. May reject with StoreUnavailableError (the server answers 503). */
  validate: (ctx: ChallengeContext) => Promise<ChallengeVerdict> | ChallengeVerdict;
  /**
   * Reports what the validator is and what it depends on ({@link ChallengeStatusReporter}; `@scep/intune`'s
   * validators and {@link webhookChallenge} implement it), shown in the server's {@link ScepServer.snapshot} and
   * activity log, and its `kind` as the profile's `challengeType` in stats instead of `custom`.
   */
  status?: ChallengeStatusReporter;
  /**
   * Confirm phase for enrollments this validator accepted: after the issue hook issued (or `approve` issued a PENDING
   * request) and after the profile's own `confirm`, before delivery. `{ ok: false }` means the client gets FAILURE
   * badRequest (a later CertPoll too) and `onUndelivered` is told; `onIssueFailure` is not called for this veto.
   */
  confirm?: ConfirmHook;
  /** Failure phase; see {@link IssueFailureHook}. */
  onIssueFailure?: IssueFailureHook;
}

/** What {@link IssueFailureHook} is told: the issue context, why issuance failed, and the certificate when one was issued but not delivered. @group Server */
export type IssueFailureContext = IssueContext & {
  /** Stable label: `issuer_rejected` (the hook answered FAILURE; or the `reason` its FAILURE named), `issue_failed` (it threw), `rejected` (the operator's `reject`), or the undelivered reason (a profile confirm veto's, `confirm_failed`, `reply_failed`, `not_recorded`). */
  reason: string;
  /** The failInfo the client gets. */
  failInfo: FailInfo;
  /** The text the client gets (never holds a secret). */
  failInfoText: string;
  /** The certificate that was issued but not delivered, when there is one (revoke it). */
  certificate?: Certificate;
};

/**
 * Runs when issuance fails after the validator accepted the request (Intune's failureNotification, a webhook's
 * failure notification). Awaited before the client's answer; whatever it throws is ignored.
 * @group Server
 */
export type IssueFailureHook = (ctx: IssueFailureContext) => void | Promise<void>;

/** How a profile checks challenges; a custom validator may have phases and a status of its own ({@link CustomChallengePolicy}). @group Server */
export type ChallengePolicy =
  | { type: "static"; password: string }
  | { type: "store"; store: ChallengeStore }
  | CustomChallengePolicy
  | { type: "none"; acknowledgeAnyoneCanEnroll: true };

/**
 * What a challenge validator reports about itself for operators: never a secret. Dates are `Date`s.
 * @group Server
 */
export interface ChallengeStatus {
  /**
   * Short stable label of the mechanism, e.g. `intune` (shown instead of `custom`; used as the activity log's `challenge`).
   * Read once, when the server is created (events name it on every enrollment); the other fields at each snapshot.
   */
  kind: string;
  /** Variant of the mechanism, e.g. `signed-token` (Intune Mode B) or `validation-api` (Mode A). */
  mode?: string;
  /** The certificates the validator trusts (signed-token trust anchors), with their expiry. */
  trustAnchors?: readonly { subject: string; notAfter: Date; fingerprintSha256?: string }[];
  /** One-line reason the last reload of the validator's material failed (cleared by a successful reload). */
  lastReloadError?: string;
}

/**
 * Optional interface of a challenge validator that can describe itself ({@link ChallengeStatus}). `challengeStatus`
 * must be cheap and synchronous (it is read on every snapshot and metrics collection) and must not throw.
 *
 * @example
 * ```ts
 * import type { ChallengeContext, ChallengePolicy, ChallengeStatusReporter } from "@scep/core";
 *
 * declare function askMdm(ctx: ChallengeContext): Promise<boolean>; // your check
 * const mdm: ChallengeStatusReporter = { challengeStatus: () => ({ kind: "mdm-webhook", mode: "https" }) };
 * const challenge: ChallengePolicy = { type: "custom", validate: askMdm, status: mdm };
 * // @scep/intune's SignedTokenValidator and IntuneValidator implement it: `status: tokens`.
 * ```
 * @group Server
 */
export interface ChallengeStatusReporter {
  /** The validator's current status. */
  challengeStatus(): ChallengeStatus;
}

/** Options of {@link MemoryChallengeStore}. @group Server */
export interface MemoryChallengeStoreOptions {
  /** Clock deciding expiry (default `() => new Date()`). */
  now?: () => Date;
  /**
   * TTL of a challenge issued without `ttlMs`, in milliseconds (default 3 600 000, 1 hour). An integer from 1 to
   * 31 536 000 000 (365 days): anything else throws InvalidArgumentError `ERR_INVALID_ARGUMENT`.
   */
  defaultTtlMs?: number;
  /** Most live challenges kept, a count (default 10 000). An integer from 1 to 100 000 000, else `ERR_INVALID_ARGUMENT`. */
  maxEntries?: number;
}

/**
 * In-memory one-time challenge store for tests and single-process servers.
 * Expired challenges stay in memory until {@link MemoryChallengeStore.sweep}
 * (or a full store's `issue`) removes them; a consumed one stays, marked
 * spent (with the consume's `binding`), until it expires, so {@link MemoryChallengeStore.release} can put it
 * back and {@link MemoryChallengeStore.isSpentBy} can match a re-send (a full store drops spent ones first: their
 * re-sends are then refused); once a re-send matched, release refuses it.
 * Challenges are {@link newChallenge}'s: 24 random bytes in base64url without
 * padding, 32 characters of `A-Z a-z 0-9 -` (what `@scep/proxy` puts in a device URL),
 * never starting with `-` (a command line would take it for an option), never
 * holding `_` (Windows encodes a challenge as a PrintableString).
 * Bounded: when full,
 * `issue` drops expired challenges, and if every one is still live it rejects
 * with {@link StoreUnavailableError} rather than silently dropping a challenge
 * an operator handed out.
 *
 * @example
 * ```ts
 * const store = new MemoryChallengeStore();
 * const challenge = await store.issue({ profile: "corp", ttlMs: 3_600_000 });
 * ```
 * @group Server
 */
export class MemoryChallengeStore implements ChallengeStore {
  readonly #entries = new Map<string, { profile: string; expires: number; spent: boolean; consumption?: string | undefined; binding?: string | undefined; resent?: boolean; holder?: string }>();
  /** The current challenge of each (profile, holder), keyed by `JSON.stringify([profile, holder])`. */
  readonly #current = new Map<string, string>();
  readonly #now: () => number;
  readonly #defaultTtl: number;
  readonly #max: number;

  /** @throws InvalidArgumentError `ERR_INVALID_ARGUMENT` for a `defaultTtlMs` or `maxEntries` out of range, or a `now` that is not a function. */
  constructor(options: MemoryChallengeStoreOptions = {}) {
    if (options.now !== undefined && typeof options.now !== "function") throw new InvalidArgumentError(`now must be a function returning a Date (got ${typeOf(options.now)})`);
    this.#now = options.now ? () => options.now!().getTime() : () => Date.now();
    this.#defaultTtl = numberOption("defaultTtlMs", options.defaultTtlMs, 3_600_000, CHALLENGE_TTL);
    this.#max = numberOption("maxEntries", options.maxEntries, 10_000, { min: 1, max: MAX_STORE_ENTRIES });
  }

  /** {@inheritDoc ChallengeStore.issue} */
  async issue(options: { profile: string; ttlMs?: number; holder?: string }): Promise<string> {
    // NaN made a challenge that never expires. An operator's call, not a request's: checked each time.
    const ttl = numberOption("ttlMs", options.ttlMs, this.#defaultTtl, CHALLENGE_TTL);
    const t = this.#now();
    if (this.#entries.size >= this.#max) {
      this.#removeExpired(t);
      if (this.#entries.size >= this.#max) for (const [k, e] of this.#entries) if (e.spent) this.#delete(k);
      if (this.#entries.size >= this.#max) throw new StoreUnavailableError(`the challenge store is full (${this.#max} live challenges)`, { capacity: this.#max });
    }
    const challenge = newChallenge();
    const holder = options.holder === undefined ? undefined : JSON.stringify([options.profile, options.holder]);
    // The holder's earlier challenge is superseded: gone, so consume and release refuse it.
    const earlier = holder === undefined ? undefined : this.#current.get(holder);
    if (earlier !== undefined) this.#delete(earlier);
    this.#entries.set(challenge, { profile: options.profile, expires: t + ttl, spent: false, ...(holder === undefined ? {} : { holder }) });
    if (holder !== undefined) this.#current.set(holder, challenge);
    return challenge;
  }

  /** Forgets a challenge, and its holder's pointer when it is the holder's current one. */
  #delete(challenge: string): void {
    const e = this.#entries.get(challenge);
    this.#entries.delete(challenge);
    if (e?.holder !== undefined && this.#current.get(e.holder) === challenge) this.#current.delete(e.holder);
  }

  /** {@inheritDoc ChallengeStore.consume} */
  async consume(challenge: string, options: { profile: string; consumption?: string; binding?: string }): Promise<boolean> {
    const e = this.#entries.get(challenge);
    if (!e || e.spent || e.profile !== options.profile) return false;
    if (e.expires <= this.#now()) {
      this.#delete(challenge);
      return false;
    }
    e.spent = true;
    e.consumption = options.consumption;
    e.binding = options.binding;
    e.resent = false;
    return true;
  }

  /** {@inheritDoc ChallengeStore.isSpentBy} */
  async isSpentBy(challenge: string, options: { profile: string; binding: string }): Promise<boolean> {
    const e = this.#entries.get(challenge);
    const matched = e !== undefined && e.spent && e.profile === options.profile && e.expires > this.#now() && e.binding !== undefined && e.binding === options.binding;
    if (matched) e.resent = true; // a re-send is forwarded: the spending consume is no longer released
    return matched;
  }

  /** {@inheritDoc ChallengeStore.release} */
  async release(challenge: string, options: { profile: string; consumption?: string }): Promise<boolean> {
    const e = this.#entries.get(challenge);
    if (!e || !e.spent || e.resent || e.profile !== options.profile || e.expires <= this.#now()) return false;
    if (options.consumption !== undefined && e.consumption !== options.consumption) return false;
    e.spent = false;
    e.consumption = undefined;
    e.binding = undefined;
    return true;
  }

  /**
   * Removes every expired challenge (expiry at or before the clock's now) and
   * resolves with how many it removed; live challenges stay.
   *
   * @example
   * ```ts
   * const store = new MemoryChallengeStore();
   * setInterval(() => void store.sweep(), 300_000); // every 5 minutes
   * ```
   */
  async sweep(): Promise<number> {
    return this.#removeExpired(this.#now());
  }

  /** Drops the challenges expired at `t` (ms); how many. */
  #removeExpired(t: number): number {
    let removed = 0;
    for (const [k, e] of this.#entries) {
      if (e.expires <= t) {
        this.#delete(k);
        removed++;
      }
    }
    return removed;
  }
}

/**
 * A fresh one-time challenge password: 24 random bytes (node:crypto's CSPRNG) in base64url without padding, 32
 * characters of `A-Z a-z 0-9 -`, never starting with `-` (a command line such as `scep enroll --challenge "$C"`
 * would read it as an option) and never holding `_`: drawn again until both hold (about 1.7 draws; 191 bits of
 * entropy). `_` is base64url but not in PrintableString's alphabet, and Windows' SCEP client encodes the challenge
 * it is given as a PrintableString: with `_` it fails the enrollment on the device ("The string contains a
 * non-printable character", fleetdm/fleet#47492). What {@link MemoryChallengeStore}, `@scep/redis`'s
 * `RedisChallengeStore` and `@scep/proxy`'s generated challenges issue; a `ChallengeStore` of your own should issue
 * the same. So it fits a PKCS#10 challengePassword as a PrintableString (RFC 2985 §5.4.1, RFC 8894 §2.3) and a URL
 * path segment unescaped.
 *
 * @returns The challenge (a string of 32 characters). Never throws.
 *
 * @example
 * ```ts
 * import { newChallenge } from "@scep/core";
 *
 * const challenge = newChallenge(); // e.g. "q3J0…" (32 characters)
 * ```
 * @group Server
 */
export function newChallenge(): string {
  for (;;) {
    const challenge = toBase64Url(nc.randomBytes(24));
    if (challenge[0] !== "-" && !challenge.includes("_")) return challenge;
  }
}

/**
 * The warnings for profile `name` whose challenge policy is `c`, shown in `ProfileInfo.warnings`: a static password
 * with a character outside PrintableString's set (X.680 §41.4: `A-Z a-z 0-9`, space and `' ( ) + , - . / : = ?`).
 * Windows' SCEP client (ClientCertificateInstall CSP) always writes the challengePassword (RFC 2985 §5.4.1, RFC 8894
 * §2.3) as a PrintableString and stops such an enrollment on the device ("The string contains a non-printable
 * character"; fleetdm/fleet#47492, #49552) before any PKIOperation reaches the server: nothing would tell the operator.
 * The message names neither the password nor its characters. Empty for every other policy ({@link newChallenge}'s
 * challenges fit). Never throws.
 */
export function challengePolicyWarnings(name: string, c: ChallengePolicy): string[] {
  if (c.type !== "static" || isPrintableString(c.password)) return [];
  return [
    `profile ${name}: the static challenge password holds a character outside PrintableString (A-Z a-z 0-9, space and ' ( ) + , - . / : = ?): ` +
      `Windows' SCEP client writes the challenge as a PrintableString and fails such an enrollment on the device ("The string contains a non-printable character") before it reaches this server; ` +
      "use those characters only (generated challenges do)",
  ];
}

const utf8 = new TextEncoder();

/** Constant-time comparison of a presented challenge with the configured one. @group Server */
export function staticChallengeMatches(presented: string | undefined, expected: string): boolean {
  // Compare digests so the comparison time does not depend on lengths either.
  const a = nc.digest("sha256", utf8.encode(presented ?? ""));
  const b = nc.digest("sha256", utf8.encode(expected));
  return nc.timingSafeEqual(a, b) && presented !== undefined;
}
