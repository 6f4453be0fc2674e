/**
 * Revoked certificates (RFC 5280 §5.3.1 reason codes) and the CRL number
 * (RFC 5280 §5.2.3) a CA shares between its replicas, so every replica signs
 * the same list with a number that only grows.
 *
 * @module
 */
import { CrlNumberExhaustedError, InvalidArgumentError, StoreUnavailableError } from "../errors.js";
import { normalizeSerialNumber } from "../x509/serial-number.js";
import { MAX_STORE_ENTRIES, numberOption, typeOf } from "../number-option.js";

/**
 * The CRL reason codes of RFC 5280 §5.3.1 a certificate can be revoked with,
 * by name, with their ENUMERATED value. `removeFromCRL` (8) is not here: it
 * only appears in delta CRLs, and no entry ever leaves this store: a
 * `certificateHold` can be replaced by a permanent reason (see
 * {@link upgradesRevocationReason}) but is never released.
 *
 * ```asn
 * CRLReason ::= ENUMERATED {
 *   unspecified (0), keyCompromise (1), cACompromise (2), affiliationChanged (3),
 *   superseded (4), cessationOfOperation (5), certificateHold (6),
 *   -- value 7 is not used
 *   removeFromCRL (8), privilegeWithdrawn (9), aACompromise (10) }
 * ```
 *
 * @example
 * ```ts
 * REVOCATION_REASONS.keyCompromise; // 1
 * ```
 * @group Storage
 */
export const REVOCATION_REASONS = Object.freeze({
  unspecified: 0,
  keyCompromise: 1,
  cACompromise: 2,
  affiliationChanged: 3,
  superseded: 4,
  cessationOfOperation: 5,
  certificateHold: 6,
  privilegeWithdrawn: 9,
  aACompromise: 10,
} as const);

/** A CRL reason name (RFC 5280 §5.3.1), e.g. `"keyCompromise"`. @group Storage */
export type RevocationReason = keyof typeof REVOCATION_REASONS;

/** One revoked certificate. @group Storage */
export interface RevokedCertificate {
  /** Serial number in `normalizeSerialNumber`'s spelling: the DER content octets in lower-case hex (`"0a1b…"`, `"0080…"`), or `-` and the magnitude for a negative serial (`"-7fff"`). */
  serialNumber: string;
  /** Why (RFC 5280 §5.3.1). */
  reason: RevocationReason;
  /** When it was revoked (the CRL entry's revocationDate; second precision on the CRL). */
  revokedAt: Date;
}

/** What {@link RevocationStore.revoke} answers. @group Storage */
export interface RevokeResult {
  /** The stored entry after the call: the new one, the upgraded one, or the earlier one unchanged. */
  entry: RevokedCertificate;
  /** False when the serial was already revoked (its first revocationDate stands; its reason too unless `updated`). */
  created: boolean;
  /**
   * True when this call changed an existing entry's reason (see {@link upgradesRevocationReason}: to `keyCompromise`,
   * CA/Browser Forum BR §4.9.1.1, or a `certificateHold` to a permanent reason, RFC 5280 §5.3.1); then `created` is
   * false. Absent or false otherwise. Optional so that a store written before it existed still type-checks; the stores
   * here always set it.
   */
  updated?: boolean;
}

/**
 * The permanent reasons an entry can be upgraded from to `keyCompromise` by a later {@link RevocationStore.revoke}:
 * those that say nothing of the subject's key (RFC 5280 §5.3.1: unspecified, affiliationChanged, superseded,
 * cessationOfOperation, privilegeWithdrawn, and cACompromise and aACompromise, which on an end-entity certificate
 * say that the key of the CA that issued it, or of an attribute authority, was compromised, not the subject's). Not
 * `keyCompromise` itself (a repeat). Not `certificateHold` either, because a hold is not a permanent reason: it is
 * replaced by any permanent reason, `keyCompromise` included, by a rule of its own (see
 * {@link upgradesRevocationReason}).
 *
 * @example
 * ```ts
 * KEY_COMPROMISE_UPGRADABLE_REASONS.includes("superseded"); // true
 * ```
 * @group Storage
 */
export const KEY_COMPROMISE_UPGRADABLE_REASONS: readonly RevocationReason[] = Object.freeze([
  "unspecified",
  "affiliationChanged",
  "superseded",
  "cessationOfOperation",
  "privilegeWithdrawn",
  "cACompromise",
  "aACompromise",
] as const);

/**
 * Whether a revoke with reason `requested` of a serial already revoked with reason `existing` changes the entry's
 * reason to `requested` (see {@link RevocationStore.revoke}). True in two cases:
 * - `requested` = `keyCompromise` and `existing` in {@link KEY_COMPROMISE_UPGRADABLE_REASONS} (CA/Browser Forum BR
 *   §4.9.1.1 and §7.2.2; RFC 5280 §5.3.1);
 * - `existing` = `certificateHold` and `requested` any other reason: a held certificate may be revoked for good
 *   (RFC 5280 §5.3.1). Nothing turns an entry back into a hold, and no store here releases one, so a certificate
 *   revoked `keyCompromise` after a hold is never valid again.
 *
 * The entry keeps its revocationDate in both cases: it has been listed on every CRL since that date, and RFC 5280
 * §5.3.2 puts the date a key is known or suspected compromised in the invalidityDate entry extension, not in a moved
 * revocationDate. For store implementers.
 *
 * @param existing - the stored entry's reason.
 * @param requested - the reason of the new revoke.
 * @returns true when the entry's reason becomes `requested`.
 * @example
 * ```ts
 * upgradesRevocationReason("superseded", "keyCompromise"); // true
 * upgradesRevocationReason("certificateHold", "superseded"); // true (a hold made permanent)
 * upgradesRevocationReason("keyCompromise", "superseded"); // false (no downgrade)
 * upgradesRevocationReason("keyCompromise", "certificateHold"); // false (never back on hold)
 * ```
 * @group Storage
 */
export function upgradesRevocationReason(existing: RevocationReason, requested: RevocationReason): boolean {
  if (existing === "certificateHold") return requested !== "certificateHold";
  return requested === "keyCompromise" && KEY_COMPROMISE_UPGRADABLE_REASONS.includes(existing);
}

/**
 * Where a CA records revocations, shared by every replica (memory for one
 * process, `RedisRevocationStore` from `@scep/redis` for several). One store
 * per CA: give each CA its own store (or key prefix).
 *
 * Every method may reject with {@link StoreUnavailableError} (code
 * `ERR_STORE_UNAVAILABLE`); the HTTP layer answers 503 with Retry-After.
 *
 * Atomicity: `revoke` of one serial is first-writer-wins (of N concurrent
 * calls exactly one reports `created: true`); the changes an entry can
 * undergo ({@link upgradesRevocationReason}: a hold made permanent, a reason
 * upgraded to `keyCompromise`) happen atomically with their check (of N
 * concurrent upgrades to keyCompromise exactly one reports `updated: true`,
 * and a concurrent create and upgrade end as keyCompromise whichever comes
 * first); no entry ever goes back to `certificateHold` or leaves the store;
 * `nextCrlNumber` is an atomic increment, raised to the caller's `atLeast`
 * in the same step (N concurrent calls get N distinct numbers, each larger
 * than every number handed out before).
 *
 * @example
 * ```ts
 * const store: RevocationStore = new MemoryRevocationStore();
 * await store.revoke({ serialNumber: "0a1b2c", reason: "keyCompromise" }); // { entry, created: true }
 * await store.list(); // [{ serialNumber: "0a1b2c", reason: "keyCompromise", revokedAt }]
 * await store.nextCrlNumber(); // 1n
 * ```
 * @group Storage
 */
export interface RevocationStore {
  /**
   * Records a revocation. `revokedAt` defaults to the store's clock.
   *
   * Revoking an already revoked serial answers `created: false` and changes nothing, with two exceptions (see
   * {@link upgradesRevocationReason}): reason `keyCompromise` for an entry whose reason says nothing of the key
   * (unspecified, affiliationChanged, superseded, cessationOfOperation, privilegeWithdrawn; CA/Browser Forum BR
   * §4.9.1.1 and §7.2.2: a reasonCode may be updated to keyCompromise), and any reason but `certificateHold` for an
   * entry on hold (RFC 5280 §5.3.1: a hold made permanent). Either sets the entry's reason to the requested one, keeps
   * its revocationDate (this call's `revokedAt` is ignored; RFC 5280 §5.3.2), moves {@link revision} on and answers
   * `{ entry, created: false, updated: true }`. A second keyCompromise, a downgrade (keyCompromise → superseded), a
   * permanent entry put on hold or any other reason change is ignored: the entry stays as it is, `updated: false`.
   *
   * @throws InvalidArgumentError (`ERR_INVALID_ARGUMENT`) for a serial that is not hex or a reason not in {@link REVOCATION_REASONS},
   *   or a `revokedAt` that is not a valid Date (`revokedAt must be a valid Date`, also when the serial is revoked
   *   already and `revokedAt` would be ignored): every implementation alike, changing nothing.
   */
  revoke(options: { serialNumber: string; reason: RevocationReason; revokedAt?: Date }): Promise<RevokeResult>;
  /**
   * The entry of one serial (lower-case hex), or undefined when it is not revoked. May answer from the same bounded
   * snapshot as {@link revision} (the store's own revocations count at once).
   */
  get(serialNumber: string): Promise<RevokedCertificate | undefined>;
  /** Every revoked certificate, oldest revocation first (ties by serial): the shared state now, never a snapshot (a CRL is signed from it). */
  list(): Promise<RevokedCertificate[]>;
  /**
   * The next CRL number (RFC 5280 §5.2.3, a bigint): strictly increasing across replicas, never one answered before
   * (gaps are allowed). `atLeast` is the caller's floor (a CA's last published CRL number + 1, from its own storage):
   * the store answers max(its next number, `atLeast`) and keeps that as its counter, atomically with the increment,
   * so that after the store was reset (a Redis FLUSHDB) a replica that knows a higher number raises the shared counter
   * for every other replica too, instead of numbering above it alone.
   *
   * Where it starts: the memory store at 1 per process (a restart starts again at 1; a CA that keeps its CRLs across
   * restarts passes its floor, as the examples' FileCa does); the Redis store, on a missing counter (a new or flushed
   * Redis), at Redis's own clock (`TIME`) in ms × 1000 (about 1.8 × 10^15 in 2027: 7 octets, far within RFC 5280's
   * 20), so a replica that signs first after a flush does not repeat a number another replica published before it,
   * whatever the replicas' own clocks say (a shared store should start from one clock all replicas share). A store
   * written before `atLeast` existed ignores it and keeps working: the caller still takes the max of its answer and
   * its floor (but the store's counter then does not learn the floor).
   *
   * The last number is {@link MAX_CRL_NUMBER} (2^159 - 1, 20 octets): once it was handed out (or when the store's
   * counter holds more) every call throws {@link CrlNumberExhaustedError} (see {@link crlNumberExhausted}) and changes
   * nothing: a store never wraps around and never answers a larger number.
   *
   * @param options - `atLeast`: the lowest number to answer (a bigint from 0 to 2^159 - 1; default: no floor)
   * @returns the CRL number to sign with, a positive bigint from 1 to 2^159 - 1 (20 octets, RFC 5280 §5.2.3)
   * @throws InvalidArgumentError (`ERR_INVALID_ARGUMENT`) for an `atLeast` that is not such a bigint.
   * @throws CrlNumberExhaustedError (`ERR_CRL_NUMBER_EXHAUSTED`) when the next number would be above
   * {@link MAX_CRL_NUMBER}: the CA can publish no further CRL (a new CA is needed); retrying does not help.
   * @throws StoreUnavailableError (`ERR_STORE_UNAVAILABLE`) when the store is down.
   */
  nextCrlNumber(options?: { atLeast?: bigint }): Promise<bigint>;
  /**
   * Optional: the store's revision, a counter read in O(1) and the same on every replica, so a CA can key its cached
   * CRL by it instead of listing every revocation per GetCRL (RFC 5280 §5.2.3: a CRL is re-signed, with the next CRL
   * number, when what it lists changed).
   *
   * A safe integer that grows by at least 1 with every change `list()` would show (a created revocation, a reason
   * changed by {@link upgradesRevocationReason}; a `revoke` that changes nothing leaves it as it was) and never goes back. A store that was emptied behind the CA's
   * back (a Redis FLUSHDB, a deleted file, a new process of an in-memory store) starts again above every value the
   * earlier one answered: the memory store starts at its clock's milliseconds × 1000 (so, at fewer than 1000
   * revocations a millisecond on average, a reset store never answers a revision its predecessor answered, and a CA
   * never serves a cached CRL of the old contents); a shared store should start from one clock all replicas share
   * (`@scep/redis` starts at Redis's own `TIME` in µs), not a replica's, which may be ahead of or behind the others. Not a count of revocations. Without it, a CA lists the revocations
   * to decide whether its CRL is current.
   *
   * A store whose shared state costs a read to check (a file, for the examples' FileRevocationStore) may answer from
   * what it read at most a bounded time ago (its docs say the bound), so a check per request costs no I/O: the store's
   * own changes count at once, another process's once the bound has passed. `{ latest: true }` asks for the shared
   * state now (a CA about to sign a CRL passes it); the memory and Redis stores always answer it.
   *
   * @param options - `latest`: read the shared state now, never a snapshot (default false)
   * @throws StoreUnavailableError (`ERR_STORE_UNAVAILABLE`) when the store is down.
   */
  revision?(options?: { latest?: boolean }): Promise<number>;
}

/**
 * Checks a reason name.
 *
 * @throws InvalidArgumentError (`ERR_INVALID_ARGUMENT`) when it is not a key of {@link REVOCATION_REASONS}.
 * @example
 * ```ts
 * checkRevocationReason("superseded"); // "superseded"
 * ```
 * @group Storage
 */
export function checkRevocationReason(reason: unknown): RevocationReason {
  if (typeof reason !== "string" || !Object.hasOwn(REVOCATION_REASONS, reason)) {
    throw new InvalidArgumentError(`reason must be one of ${Object.keys(REVOCATION_REASONS).join(", ")}`);
  }
  return reason as RevocationReason;
}

/**
 * What a profile's `isRevoked` hook may answer: false/undefined (not revoked), true (revoked, reason not known),
 * the reason's name (RFC 5280 §5.3.1), or an entry carrying it (a {@link RevokedCertificate}, as
 * `RevocationStore.get` answers). @group Storage
 */
export type RevocationVerdict = boolean | RevocationReason | Pick<RevokedCertificate, "reason"> | undefined;

/**
 * The RFC 5280 §5.3.1 reason name in an `isRevoked` hook's answer, or undefined when it gives none or one that is
 * not a key of {@link REVOCATION_REASONS} (a hook's text never reaches a client unchecked). Internal.
 */
export function revocationReasonOf(verdict: RevocationVerdict | string): RevocationReason | undefined {
  const reason = typeof verdict === "string" ? verdict : typeof verdict === "object" && verdict !== null ? (verdict as { reason?: unknown }).reason : undefined;
  return typeof reason === "string" && Object.hasOwn(REVOCATION_REASONS, reason) ? (reason as RevocationReason) : undefined;
}

/** Options of {@link MemoryRevocationStore}. @group Storage */
export interface MemoryRevocationStoreOptions {
  /** Clock of a revocation without `revokedAt` (default `() => new Date()`). */
  now?: () => Date;
  /**
   * Most revocations kept, a count (default 100 000); past it `revoke` rejects with StoreUnavailableError rather than
   * forget one. An integer from 1 to 100 000 000: anything else throws InvalidArgumentError `ERR_INVALID_ARGUMENT`.
   */
  maxEntries?: number;
}

/**
 * In-memory {@link RevocationStore} for tests and a single process: lost on
 * restart (the example servers keep it in Redis when one is configured).
 *
 * @example
 * ```ts
 * const revocations = new MemoryRevocationStore();
 * await revocations.revoke({ serialNumber: "0a1b2c", reason: "superseded" });
 * ```
 * @group Storage
 */
export class MemoryRevocationStore implements RevocationStore {
  readonly #entries = new Map<string, RevokedCertificate>();
  readonly #now: () => Date;
  readonly #max: number;
  #crlNumber = 0n;
  /** See {@link RevocationStore.revision}: starts at the clock's ms × 1000, so a new store (a restart) starts above an old one. */
  #revision: number;

  /** @throws InvalidArgumentError `ERR_INVALID_ARGUMENT` for a `maxEntries` out of range or a `now` that is not a function. */
  constructor(options: MemoryRevocationStoreOptions = {}) {
    if (options.now !== undefined && typeof options.now !== "function") throw new InvalidArgumentError(`now must be a function returning a Date (got ${typeOf(options.now)})`);
    this.#now = options.now ?? (() => new Date());
    this.#max = numberOption("maxEntries", options.maxEntries, 100_000, { min: 1, max: MAX_STORE_ENTRIES });
    this.#revision = revisionBase(this.#now());
  }

  /** {@inheritDoc RevocationStore.revoke} */
  async revoke(options: { serialNumber: string; reason: RevocationReason; revokedAt?: Date }): Promise<RevokeResult> {
    const serialNumber = normalizeSerialNumber(options.serialNumber);
    const reason = checkRevocationReason(options.reason);
    // Checked before the existing entry is looked at, as @scep/redis's store does: a bad revokedAt is refused whether
    // or not the serial is revoked already (it was ignored for a revoked one).
    if (options.revokedAt !== undefined && (!(options.revokedAt instanceof Date) || Number.isNaN(options.revokedAt.getTime()))) throw new InvalidArgumentError("revokedAt must be a valid Date");
    const existing = this.#entries.get(serialNumber);
    if (existing) {
      if (!upgradesRevocationReason(existing.reason, reason)) return { entry: copy(existing), created: false, updated: false };
      existing.reason = reason;
      this.#revision += 1;
      return { entry: copy(existing), created: false, updated: true };
    }
    if (this.#entries.size >= this.#max) throw new StoreUnavailableError(`the revocation store is full (${this.#max} entries)`, { capacity: this.#max });
    const revokedAt = options.revokedAt ?? this.#now();
    if (!(revokedAt instanceof Date) || Number.isNaN(revokedAt.getTime())) throw new InvalidArgumentError("revokedAt must be a valid Date");
    const entry = { serialNumber, reason, revokedAt: new Date(revokedAt.getTime()) };
    this.#entries.set(serialNumber, entry);
    this.#revision += 1;
    return { entry: copy(entry), created: true, updated: false };
  }

  /** {@inheritDoc RevocationStore.get} */
  async get(serialNumber: string): Promise<RevokedCertificate | undefined> {
    const e = this.#entries.get(normalizeSerialNumber(serialNumber));
    return e && copy(e);
  }

  /** {@inheritDoc RevocationStore.list} */
  async list(): Promise<RevokedCertificate[]> {
    return sortRevocations([...this.#entries.values()].map(copy));
  }

  /**
   * The next CRL number ({@link RevocationStore.nextCrlNumber}, RFC 5280 §5.2.3), a bigint: one more than the last,
   * raised to `options.atLeast` when that is larger, and kept as the counter. Starts at 1 in each process: a restart
   * forgets the numbers handed out (and the revocations); a CA that published CRLs before passes its floor as `atLeast`.
   *
   * @throws InvalidArgumentError (`ERR_INVALID_ARGUMENT`) when `atLeast` is not a bigint from 0 to {@link MAX_CRL_NUMBER}.
   * @throws CrlNumberExhaustedError (`ERR_CRL_NUMBER_EXHAUSTED`) once {@link MAX_CRL_NUMBER} was handed out (the counter stays there).
   */
  async nextCrlNumber(options?: { atLeast?: bigint }): Promise<bigint> {
    const atLeast = checkCrlNumberFloor(options?.atLeast);
    const following = this.#crlNumber + 1n;
    const next = atLeast > following ? atLeast : following;
    if (next > MAX_CRL_NUMBER) throw crlNumberExhausted(this.#crlNumber); // the counter stays at the last number
    this.#crlNumber = next;
    return next;
  }

  /** {@inheritDoc RevocationStore.revision} */
  async revision(): Promise<number> {
    return this.#revision;
  }
}

/**
 * Where a {@link RevocationStore.revision} counter starts: `at`'s milliseconds since the epoch × 1000 (0 for a time
 * before 1970 or an invalid Date), so a store created, flushed or recreated later starts above every revision an
 * earlier one reached at fewer than 1000 revocations a millisecond. A safe integer until the year 2255.
 *
 * @param at - the store's clock when the counter is created.
 * @returns a non-negative safe integer.
 * @example
 * ```ts
 * revisionBase(new Date("2026-01-01T00:00:00Z")); // 1767225600000000
 * ```
 * @group Storage
 */
export function revisionBase(at: Date): number {
  const ms = at.getTime();
  return Number.isFinite(ms) && ms > 0 ? Math.floor(ms) * 1000 : 0;
}

/** The largest CRL number RFC 5280 §5.2.3 allows (20 octets, a positive INTEGER): 2^159 - 1. @group Storage */
export const MAX_CRL_NUMBER: bigint = (1n << 159n) - 1n;

/**
 * Checks the `atLeast` of {@link RevocationStore.nextCrlNumber}; for store implementers.
 *
 * @param atLeast - the caller's floor, or undefined for none.
 * @returns `atLeast`, or 0n when it is undefined.
 * @throws InvalidArgumentError (`ERR_INVALID_ARGUMENT`) when it is not a bigint from 0 to {@link MAX_CRL_NUMBER}.
 * @example
 * ```ts
 * checkCrlNumberFloor(42n); // 42n
 * checkCrlNumberFloor(undefined); // 0n
 * ```
 * @group Storage
 */
export function checkCrlNumberFloor(atLeast: unknown): bigint {
  if (atLeast === undefined) return 0n;
  if (typeof atLeast !== "bigint" || atLeast < 0n || atLeast > MAX_CRL_NUMBER) {
    throw new InvalidArgumentError("atLeast must be a bigint from 0 to 2^159 - 1 (RFC 5280 §5.2.3: 20 octets)");
  }
  return atLeast;
}

/**
 * The {@link CrlNumberExhaustedError} a store throws when its next CRL number would pass {@link MAX_CRL_NUMBER}; for
 * store implementers: check before writing the new counter, so that an exhausted store changes nothing.
 *
 * @param last - the store's counter (the last number handed out), when known.
 * @returns the error, one line that names the limit and what to do.
 * @example
 * ```ts
 * const last = MAX_CRL_NUMBER; // the store's counter
 * if (last + 1n > MAX_CRL_NUMBER) throw crlNumberExhausted(last);
 * ```
 * @group Storage
 */
export function crlNumberExhausted(last?: bigint): CrlNumberExhaustedError {
  const held = last === undefined ? "" : ` (the last one handed out is ${last > MAX_CRL_NUMBER ? "above it" : String(last)})`;
  return new CrlNumberExhaustedError(`the CRL numbers of this revocation store are used up: RFC 5280 §5.2.3 allows at most 2^159 - 1 (20 octets)${held}; no further CRL can be signed under this CA, a new CA is needed`);
}

const copy = (e: RevokedCertificate): RevokedCertificate => ({ serialNumber: e.serialNumber, reason: e.reason, revokedAt: new Date(e.revokedAt.getTime()) });

/**
 * Sorts revocations the way {@link RevocationStore.list} returns them: oldest first, ties by serial.
 *
 * @example
 * ```ts
 * const store = new MemoryRevocationStore();
 * await store.revoke({ serialNumber: "0a1b", reason: "keyCompromise" });
 * const ordered = sortRevocations(await store.list()); // oldest first, ties by serial
 * ```
 * @group Storage
 */
export function sortRevocations(list: RevokedCertificate[]): RevokedCertificate[] {
  return list.sort((a, b) => a.revokedAt.getTime() - b.revokedAt.getTime() || (a.serialNumber < b.serialNumber ? -1 : a.serialNumber > b.serialNumber ? 1 : 0));
}
