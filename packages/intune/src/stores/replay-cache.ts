/**
 * The replay cache both modes use: a nonce (Mode B) or a transactionID
 * (Mode A) is accepted once within its TTL.
 *
 * @module
 */
import { numberOption } from "@scep/core";
import { MinHeap } from "../lib/min-heap.js";
import { ENTRIES, TTL_MS, configNumber, storeClock, storeTtl } from "../lib/options.js";

/**
 * Remembers keys for a while; `checkAndInsert` is atomic.
 *
 * Contract (the conformance suite in `@scep/intune/testing` holds every
 * implementation to it):
 * - `checkAndInsert(key, ttlMs)` is one atomic step: when `key` is not
 *   present (or its entry has expired by the store's clock) it records `key`
 *   until now + `ttlMs` and resolves `true`; otherwise it resolves `false`
 *   and leaves the entry as it was. Of any number of concurrent calls with one
 *   key, exactly one resolves `true`.
 * - Keys are case-sensitive and compared as whole strings.
 * - The empty key is never stored: it always resolves `true`.
 * - `ttlMs` must be a positive safe integer (ms; no upper cap); 0, a negative, a
 *   fraction, NaN, ±Infinity or a non-number is not "off" but a rejection with
 *   @scep/core's InvalidArgumentError (`ERR_INVALID_ARGUMENT`), message
 *   `ttlMs must be a positive integer number of milliseconds (got 0)`, and
 *   nothing recorded. Every implementation throws that class for it (the
 *   memory cache, `@scep/redis`'s, yours), as for a bad constructor option:
 *   a store's errors are @scep/core's.
 * - A store that cannot be reached throws @scep/core's `StoreUnavailableError`
 *   (`ERR_STORE_UNAVAILABLE`); validators pass it on (fail closed: the server answers 503).
 * - A `checkAndInsert` that rejects leaves nothing recorded. When its write may
 *   still land after the rejection (a timeout: the command is on its way), the
 *   store undoes that write itself, and only its own write (never the live entry
 *   of an earlier caller), e.g. by tagging the value and sending a conditional
 *   delete after the write on the same connection, which runs after it
 *   (`RedisReplayCache` does this). The validators cannot: `release(key)` would
 *   also forget the entry of the request that spent the key first.
 * - `release(key)` (optional) forgets a recorded key, so the next `checkAndInsert`
 *   of it resolves `true`; it resolves whether a live entry was forgotten. The
 *   validators call it only for a key their own `checkAndInsert` resolved `true`
 *   for: when the server fails a request after accepting it, and when a later
 *   store call of the same validation fails (503), so the device's resend of the
 *   same token or transaction is not a replay.
 *
 * @example
 * ```ts
 * const cache: ReplayCache = new MemoryReplayCache();
 * const fresh = await cache.checkAndInsert("nonce-from-the-token", 3_600_000);
 * if (!fresh) console.log("replay");
 * ```
 *
 * @group Storage
 */
export interface ReplayCache {
  /** Records `key` for `ttlMs` milliseconds unless it is already recorded; true when it was not. */
  checkAndInsert(key: string, ttlMs: number): Promise<boolean>;
  /** Forgets `key` (see the contract above); true when a live entry was forgotten. Optional: without it nothing is given back. */
  release?(key: string): Promise<boolean>;
}

/**
 * Options of {@link MemoryReplayCache}.
 *
 * @group Storage
 */
export interface MemoryReplayCacheOptions {
  /**
   * Most entries held, a count (default 100,000); when full, the entry that expires first is evicted. An integer from
   * 1 to 100 000 000, else @scep/core's InvalidArgumentError `ERR_INVALID_ARGUMENT`
   * (`replay cache capacity must be an integer from 1 to 100000000 (got 0)`).
   */
  capacity?: number;
  /**
   * The clock (default: the system clock). Not a function: @scep/core's InvalidArgumentError `ERR_INVALID_ARGUMENT`
   * (`now must be a function returning a Date (got an object)`), as from every store.
   */
  now?: () => Date;
}

/**
 * Throws unless `ms` is an integer number of milliseconds from 1 to 31 536 000 000 (365 days).
 *
 * For the validators' configuration (`replayTtlMs`, `maxValidityMs`), not the stores' per-call TTL.
 *
 * @throws IntuneConfigError `ERR_INTUNE_CONFIG`, one line naming `what`, the unit, the range and the value.
 * @group Storage
 */
export function checkTtl(ms: number, what = "replay TTL"): void {
  configNumber(what, ms ?? null, 0, TTL_MS);
}

/**
 * A bounded in-memory {@link ReplayCache} for tests and single-process
 * servers. Expiry is decided with the injected clock; when `capacity` entries
 * are held, expired entries go first, then the entry that expires earliest.
 *
 * @example
 * ```ts
 * const cache = new MemoryReplayCache({ capacity: 100_000 });
 * await cache.checkAndInsert("nonce-1", 60_000); // true
 * await cache.checkAndInsert("nonce-1", 60_000); // false
 * ```
 *
 * @group Storage
 */
export class MemoryReplayCache implements ReplayCache {
  readonly #entries = new Map<string, number>();
  readonly #heap = new MinHeap<string>();
  readonly #capacity: number;
  readonly #now: () => number;

  /**
   * @throws InvalidArgumentError (@scep/core, `ERR_INVALID_ARGUMENT`) when `capacity` is not an integer from 1 to
   *   100 000 000 or `now` is not a function: a store's option errors are @scep/core's, as `@scep/redis`'s are.
   */
  constructor(options: MemoryReplayCacheOptions = {}) {
    const capacity = numberOption("replay cache capacity", options.capacity, 100_000, ENTRIES);
    storeClock(options.now);
    this.#capacity = capacity;
    const now = options.now;
    this.#now = now ? () => now().getTime() : () => Date.now();
  }

  /** Entries held, expired ones included until they are pruned. */
  get size(): number {
    return this.#entries.size;
  }

  /**
   * {@inheritDoc ReplayCache.checkAndInsert}
   *
   * @throws InvalidArgumentError (@scep/core, `ERR_INVALID_ARGUMENT`) for a `ttlMs` that is not a positive safe
   *   integer: `ttlMs must be a positive integer number of milliseconds (got 0)`.
   */
  async checkAndInsert(key: string, ttlMs: number): Promise<boolean> {
    // Per call, the contract's check only (a positive whole number of ms): a validator computes the TTL from the
    // token it checks (its exp may be years ahead), so the 365-day cap of checkTtl, for configuration, does not apply.
    storeTtl(ttlMs);
    if (key === "") return true;
    const now = this.#now();
    const expires = this.#entries.get(key);
    if (expires !== undefined && expires > now) return false;
    this.#prune(now);
    while (!this.#entries.has(key) && this.#entries.size >= this.#capacity && this.#heap.size > 0) this.#evictOne();
    this.#entries.set(key, now + ttlMs);
    this.#heap.push(now + ttlMs, key);
    return true;
  }

  /** {@inheritDoc ReplayCache.release} */
  async release(key: string): Promise<boolean> {
    const expires = this.#entries.get(key);
    if (expires === undefined) return false;
    this.#entries.delete(key); // its heap record finds no entry of its instant and is dropped when popped, or below
    // Released entries' records would otherwise stay until their TTL ran out: accept-then-release cycles grew the
    // heap past `capacity`. Once the stale records outnumber the live entries, the heap is rebuilt from the entries
    // (amortised O(log n) a release), so it never holds more than twice the entries, twice `capacity` at most.
    if (this.#heap.size > 2 * this.#entries.size) this.#rebuildHeap();
    return expires > this.#now();
  }

  /** One heap record per entry, nothing else (release is the only way a record outlives its entry). */
  #rebuildHeap(): void {
    this.#heap.clear();
    for (const [key, at] of this.#entries) this.#heap.push(at, key);
  }

  /** Drops every entry expired at `now` (each heap record is popped once: amortised O(log n) per insert). */
  #prune(now: number): void {
    while ((this.#heap.peekPriority() ?? Infinity) <= now) this.#evictOne();
  }

  /** Pops the earliest heap record and deletes its entry unless a later insert superseded it. */
  #evictOne(): void {
    const [at, key] = this.#heap.pop()!;
    if (this.#entries.get(key) === at) this.#entries.delete(key);
  }
}
