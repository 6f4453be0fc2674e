/**
 * The rate limiter both modes use: at most `max` accepted enrollments per key
 * in a sliding window (a log of timestamps).
 *
 * @module
 */
import { InvalidArgumentError, numberOption } from "@scep/core";
import { IntuneConfigError } from "../errors.js";
import { ENTRIES, TTL_MS, configNumber, storeClock } from "../lib/options.js";

/**
 * A limit: at most `max` hits per `windowMs` milliseconds.
 *
 * @group Storage
 */
export interface RateLimit {
  /** Most hits in the window, a count (an integer from 1 to 1 000 000 000). */
  max: number;
  /** Window length in milliseconds (an integer from 1 to 31 536 000 000, 365 days). */
  windowMs: number;
}

/**
 * The answer of {@link RateLimiter.hit}.
 *
 * @group Storage
 */
export type RateLimitResult =
  /** Recorded: `count` hits in the window including this one; `id` names it for {@link RateLimiter.release}. */
  | { allowed: true; count: number; id: string }
  /** Refused and not recorded: the window already holds `count` (= max) hits. */
  | { allowed: false; count: number };

/**
 * A sliding-window log per key; `hit` counts and appends in one atomic step.
 *
 * Contract (the conformance suite in `@scep/intune/testing` holds every
 * implementation to it):
 * - `hit(key, { max, windowMs })` prunes the key's timestamps older than
 *   now − windowMs (one exactly at the boundary still counts), then refuses
 *   when `max` remain (nothing recorded) or appends now and allows. Of
 *   concurrent calls on one key no more than `max` are allowed per window.
 * - `release(key, id)` removes one recorded hit (the validator releases a hit
 *   when a later gate refuses the enrollment: rejected attempts are not
 *   counted). Releasing an unknown id does nothing.
 * - Keys are opaque, case-sensitive strings.
 * - `limit` must be an object whose `max` is an integer from 1 to 1 000 000 000
 *   and whose `windowMs` is an integer from 1 to 31 536 000 000 (ms, 365 days);
 *   else `hit` rejects with @scep/core's InvalidArgumentError
 *   (`ERR_INVALID_ARGUMENT`) in `numberOption`'s one-line message, e.g.
 *   `rate limit max must be an integer from 1 to 1000000000 (got 0)`, and
 *   records nothing. Every implementation throws that class for it (the memory
 *   limiter, `@scep/redis`'s, yours), as for a bad constructor option: a
 *   store's errors are @scep/core's.
 * - A store that cannot be reached throws @scep/core's `StoreUnavailableError`
 *   (`ERR_STORE_UNAVAILABLE`); validators pass it on (fail closed: the server answers 503).
 * - A `hit` that rejects leaves nothing recorded. When its write may still land
 *   after the rejection (a timeout), the store removes it itself: the id can be
 *   made before the call and removed after it on the same connection
 *   (`RedisRateLimiter` does this). A store that cannot undo it counts such a hit
 *   once, until it leaves the window.
 * - The validators give back a hit (`release`) when a later gate refuses the
 *   enrollment, when the server fails the request after accepting it, and never
 *   for a `hit` that rejected (they do not know its id).
 *
 * @example
 * ```ts
 * const limiter: RateLimiter = new MemoryRateLimiter();
 * const r = await limiter.hit(JSON.stringify(["device-guid-0001", "connector-1"]), { max: 3, windowMs: 86_400_000 });
 * if (!r.allowed) console.log("rate_limited: already", r.count, "enrollments today");
 * ```
 *
 * @group Storage
 */
export interface RateLimiter {
  /** Counts and, when under the limit, records a hit for `key` at the store's now. */
  hit(key: string, limit: RateLimit): Promise<RateLimitResult>;
  /** Removes the hit `id` that {@link RateLimiter.hit} recorded for `key`. */
  release(key: string, id: string): Promise<void>;
}

/** The range of {@link RateLimit.max}: a count from 1 to 1 000 000 000. */
const RATE_LIMIT_MAX = { min: 1, max: 1_000_000_000 };

/**
 * Throws unless `limit` has positive integer `max` and `windowMs` (the ranges of {@link RateLimit}): the validators'
 * configuration check, IntuneConfigError `ERR_INTUNE_CONFIG`. A store's `hit` checks the same ranges with
 * @scep/core's InvalidArgumentError instead (see {@link RateLimiter}).
 *
 * @group Storage
 */
export function checkLimit(limit: RateLimit): void {
  if (typeof limit !== "object" || limit === null) throw new IntuneConfigError("rate limit must be an object { max, windowMs }");
  configNumber("rate limit max", limit.max ?? null, 0, RATE_LIMIT_MAX);
  configNumber("rate limit windowMs", limit.windowMs ?? null, 0, TTL_MS);
}

/** The store's check of `hit`'s `limit`: the ranges of {@link checkLimit}, thrown as InvalidArgumentError (as `@scep/redis`'s). */
function checkHitLimit(limit: RateLimit): void {
  if (typeof limit !== "object" || limit === null) throw new InvalidArgumentError("rate limit must be an object { max, windowMs }");
  numberOption("rate limit max", limit.max ?? null, 0, RATE_LIMIT_MAX);
  numberOption("rate limit windowMs", limit.windowMs ?? null, 0, TTL_MS);
}

/**
 * Options of {@link MemoryRateLimiter}.
 *
 * @group Storage
 */
export interface MemoryRateLimiterOptions {
  /**
   * Most keys tracked, a count (default 100,000); when full, the key hit least recently is dropped. An integer from 1
   * to 100 000 000, else @scep/core's InvalidArgumentError `ERR_INVALID_ARGUMENT`
   * (`rate limiter maxKeys must be an integer from 1 to 100000000 (got 0)`).
   */
  maxKeys?: number;
  /**
   * The clock (default: the system clock). Not a function: @scep/core's InvalidArgumentError `ERR_INVALID_ARGUMENT`
   * (`now must be a function returning a Date (got an object)`), as from every store.
   */
  now?: () => Date;
}

/**
 * A bounded in-memory {@link RateLimiter} for tests and single-process
 * servers; time comes from the injected clock.
 *
 * @example
 * ```ts
 * const limiter = new MemoryRateLimiter();
 * const r = await limiter.hit("device-1", { max: 3, windowMs: 86_400_000 });
 * ```
 *
 * @group Storage
 */
export class MemoryRateLimiter implements RateLimiter {
  // Map order = least recently appended first, so the stalest key is the first one.
  readonly #logs = new Map<string, { at: number; id: string }[]>();
  // A live iterator over #logs: a new `keys()` per eviction steps over every slot deleted since V8 last rebuilt the
  // table (~10 µs per new key at 100,000 keys, measured); this one keeps its place, and still skips keys deleted and
  // reaches keys re-inserted since (ECMA-262 §24.1.5). A finished iterator stays finished, so it is begun again.
  // Held only from one eviction to the next new key: an iterator that is not moved keeps the table it points into and
  // every table V8 replaced it with (a hit re-inserts its key, so the table is rebuilt every few thousand hits), with
  // the log each held; parked below maxKeys it grew the heap by ~400 bytes a hit (measured), without bound, and so it
  // did at maxKeys while only known keys were hit. After 1,024 hits on known keys with no eviction it is let go (a table
  // is rebuilt at most once per free slots' worth of moves, so it held a few tables at most), and the next eviction
  // begins a new one.
  #stalest: MapIterator<string> | undefined;
  #moves = 0;
  readonly #maxKeys: number;
  readonly #now: () => number;
  #seq = 0;

  /**
   * @throws InvalidArgumentError (@scep/core, `ERR_INVALID_ARGUMENT`) when `maxKeys` is not an integer from 1 to
   *   100 000 000 or `now` is not a function: a store's option errors are @scep/core's, as `@scep/redis`'s are.
   */
  constructor(options: MemoryRateLimiterOptions = {}) {
    const maxKeys = numberOption("rate limiter maxKeys", options.maxKeys, 100_000, ENTRIES);
    storeClock(options.now);
    this.#maxKeys = maxKeys;
    const now = options.now;
    this.#now = now ? () => now().getTime() : () => Date.now();
  }

  /** Keys tracked. */
  get size(): number {
    return this.#logs.size;
  }

  /**
   * {@inheritDoc RateLimiter.hit}
   *
   * @throws InvalidArgumentError (@scep/core, `ERR_INVALID_ARGUMENT`) when `limit` is not an object, or `max` or
   *   `windowMs` is not an integer in its range (see {@link RateLimit}), e.g.
   *   `rate limit windowMs must be an integer number of milliseconds from 1 to 31536000000 (got NaN)`.
   */
  async hit(key: string, limit: RateLimit): Promise<RateLimitResult> {
    checkHitLimit(limit);
    const now = this.#now();
    const from = now - limit.windowMs;
    let log = this.#logs.get(key);
    if (log) {
      log = log.filter((e) => e.at >= from);
      if (log.length >= limit.max) return { allowed: false, count: log.length };
      this.#logs.delete(key); // re-inserted below: now the most recently hit key
      // A move to the end: an iterator is kept across 1,024 of them at most (a few table rebuilds; see #stalest).
      if (++this.#moves >= 1024) {
        this.#stalest = undefined;
        this.#moves = 0;
      }
    } else {
      log = [];
      if (this.#logs.size >= this.#maxKeys) {
        this.#moves = 0;
        let next = this.#stalest?.next();
        if (next === undefined || next.done === true) next = (this.#stalest = this.#logs.keys()).next();
        if (next.done !== true) this.#logs.delete(next.value);
      } else {
        this.#stalest = undefined; // not full: nothing to evict, so no iterator parked (see #stalest)
      }
    }
    const id = `${now}-${++this.#seq}`;
    log.push({ at: now, id });
    this.#logs.set(key, log);
    return { allowed: true, count: log.length, id };
  }

  /** {@inheritDoc RateLimiter.release} */
  async release(key: string, id: string): Promise<void> {
    const log = this.#logs.get(key);
    if (!log) return;
    const i = log.findIndex((e) => e.id === id);
    if (i >= 0) log.splice(i, 1);
    if (log.length === 0) {
      this.#logs.delete(key);
      this.#stalest = undefined; // no longer full (see #stalest)
    }
  }
}
