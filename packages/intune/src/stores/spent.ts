/**
 * What an accepted challenge spent in the stores (its replay-cache entry, its
 * rate-limit hit), and how it is given back: one rule for both validators.
 *
 * @module
 */
import { guardStore } from "./guard.js";
import type { RateLimit, RateLimiter, RateLimitResult } from "./rate-limiter.js";
import type { ReplayCache } from "./replay-cache.js";

/**
 * Records, step by step, what one validation spends, and gives it back when a
 * later step fails with a store error (the server answers 503: the device's
 * resend must find nothing spent) or when the server fails the request after
 * accepting it (the verdict's `release`). Every store call goes through
 * {@link guardStore}, so every rejection is `StoreUnavailableError`.
 *
 * A `checkAndInsert` or `hit` that rejects is not given back here: this object
 * cannot tell whether that call wrote anything, and `release(key)` would also
 * forget a live entry of the request that spent the nonce first (a replay
 * arriving while the store is slow would then reopen its own nonce). The store
 * undoes its own write instead (see the {@link ReplayCache} and
 * {@link RateLimiter} contracts; the Redis stores do).
 */
export class Spent {
  #entry: { cache: ReplayCache; key: string } | undefined;
  #hit: { limiter: RateLimiter; key: string; id: string } | undefined;

  /**
   * Gate "replay": records `key` for `ttlMs`; false when it is a replay (nothing recorded).
   *
   * @throws StoreUnavailableError (`ERR_STORE_UNAVAILABLE`) when the cache fails.
   */
  async insert(cache: ReplayCache, key: string, ttlMs: number): Promise<boolean> {
    const fresh = await guardStore(() => cache.checkAndInsert(key, ttlMs), "replay cache");
    if (fresh) this.#entry = { cache, key };
    return fresh;
  }

  /**
   * Gate "rate limit": counts a hit for `key`. When the limiter fails, what was spent before (the replay entry) is
   * given back before the error is passed on.
   *
   * @throws StoreUnavailableError (`ERR_STORE_UNAVAILABLE`) when the limiter fails.
   */
  async hit(limiter: RateLimiter, key: string, limit: RateLimit): Promise<RateLimitResult> {
    const r = await this.#orGiveBack(() => guardStore(() => limiter.hit(key, limit), "rate limiter"));
    if (r.allowed) this.#hit = { limiter, key, id: r.id };
    return r;
  }

  /**
   * A later gate refused the enrollment: its rate-limit hit is given back (refused attempts are not counted), the
   * replay entry stays spent. When the limiter fails, the replay entry is given back too before the error is passed on.
   *
   * @throws StoreUnavailableError (`ERR_STORE_UNAVAILABLE`) when the limiter fails.
   */
  async refuseHit(): Promise<void> {
    const hit = this.#hit;
    if (!hit) return;
    await this.#orGiveBack(() => guardStore(() => hit.limiter.release(hit.key, hit.id), "rate limiter"));
    this.#hit = undefined;
  }

  /**
   * A later gate refused the enrollment and the transactionID it recorded is not spent by a refusal: the replay
   * entry is given back (when the cache has `release`; best effort: a cache that fails keeps it until its TTL).
   */
  async refuseEntry(): Promise<void> {
    await this.#giveEntry()?.().catch(() => undefined);
    this.#entry = undefined;
  }

  /**
   * The verdict's `release`: gives back the replay entry (when the cache has `release`) and the rate-limit hit.
   * Undefined when there is nothing to give back. The function rejects with StoreUnavailableError when a store fails.
   */
  release(): (() => Promise<unknown>) | undefined {
    const giveEntry = this.#giveEntry();
    const hit = this.#hit;
    if (!giveEntry && !hit) return undefined;
    return () => Promise.all([giveEntry?.(), hit ? guardStore(() => hit.limiter.release(hit.key, hit.id), "rate limiter") : undefined]);
  }

  /** Runs a store step; when it rejects, gives back the replay entry (best effort: its own failure is dropped) and rethrows. */
  async #orGiveBack<T>(step: () => Promise<T>): Promise<T> {
    try {
      return await step();
    } catch (e) {
      await this.#giveEntry()?.().catch(() => undefined);
      throw e;
    }
  }

  /** Forgets the recorded replay entry, when there is one and the cache can forget. */
  #giveEntry(): (() => Promise<boolean>) | undefined {
    const entry = this.#entry;
    const release = entry?.cache.release;
    if (!entry || !release) return undefined;
    return () => guardStore(() => release.call(entry.cache, entry.key), "replay cache");
  }
}
