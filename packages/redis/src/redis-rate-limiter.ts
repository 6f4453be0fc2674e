/**
 * `@scep/intune`'s RateLimiter in Redis: one sliding-window log per key,
 * shared by every replica.
 *
 * @module
 */
import { createHash, randomBytes } from "node:crypto";
import { InvalidArgumentError, numberOption } from "@scep/core";
import type { RateLimit, RateLimiter, RateLimitResult } from "@scep/intune";
import { Runner } from "./lib/client.js";
import { RATE_HIT } from "./lib/intune-scripts.js";
import { KEY_TTL_MS, resolveStoreOptions, type RedisClient, type RedisStoreOptions, type ResolvedStoreOptions } from "./options.js";

/** Most hits a window may allow: `@scep/intune`'s own limiters' bound (a value import of it would make the optional peer required). */
const RATE_LIMIT_MAX = { min: 1, max: 1_000_000_000 };

/**
 * A `RateLimiter` (from `@scep/intune`) on Redis (standalone, Sentinel or
 * Cluster).
 *
 * Each key is a sorted set `<prefix>rate:<sha256 hex of the key>` of hits
 * scored by their time (ms, by the store's clock). `hit` is one Lua script
 * (atomic): it counts the hits from now − windowMs on (one exactly at the
 * boundary counts), refuses when `max` are there (recording nothing), else adds
 * this hit, so concurrent hits on any replicas never exceed `max`. A hit leaves
 * the set only once it is out of the window by the store's clock and by Redis's
 * (`TIME`): a replica whose clock runs ahead counts by its own window, but does
 * not drop the hits the other replicas still count. The set
 * expires a minute after its window. `release` is `ZREM` of the hit's id.
 *
 * Rejects with StoreUnavailableError (`ERR_STORE_UNAVAILABLE`) when Redis
 * fails or does not answer within `commandTimeoutMs`. A rejected `hit` leaves
 * nothing recorded: the hit's id is made client-side, so when the script may
 * still run late, a `ZREM` of that id follows it on the same client (Redis runs
 * one connection's commands in order). Best effort: when the client cannot
 * send it (disconnected, offline queue off) a hit that already reached Redis
 * counts until it leaves the window.
 *
 * @example
 * ```ts
 * import Redis from "ioredis";
 * import { RedisRateLimiter, redisClientOptions } from "@scep/redis";
 *
 * const redis = new Redis(process.env.SCEP_REDIS_URL!, { ...redisClientOptions });
 * const limiter = new RedisRateLimiter(redis, { keyPrefix: "scep:prod:" });
 * const r = await limiter.hit("device-1", { max: 3, windowMs: 86_400_000 });
 * ```
 *
 * @group Storage
 */
export class RedisRateLimiter implements RateLimiter {
  readonly #run: Runner;
  readonly #options: ResolvedStoreOptions;

  /**
   * @param client - an ioredis `Redis` or `Cluster` you own (see `redisClientOptions`).
   * @param options - key prefix, deadline, Retry-After, clock.
   * @throws InvalidArgumentError (`ERR_INVALID_ARGUMENT`) for a bad option.
   */
  constructor(client: RedisClient, options: RedisStoreOptions = {}) {
    this.#options = resolveStoreOptions(options);
    this.#run = new Runner(client, this.#options.commandTimeoutMs, this.#options.retryAfterSeconds);
  }

  #key(key: string): string {
    return `${this.#options.keyPrefix}rate:${createHash("sha256").update(key, "utf8").digest("hex")}`;
  }

  /**
   * Counts and, under the limit, records a hit for `key`.
   *
   * @param limit - `max`: hits allowed per window, an integer from 1 to 1 000 000 000; `windowMs`: the window in ms, an
   *   integer from 1 to 31 536 000 000 (365 days), the ranges `@scep/intune`'s validators check at construction.
   * @throws InvalidArgumentError (`ERR_INVALID_ARGUMENT`) when `limit` is not an object, or `max` or `windowMs` is not
   *   such an integer (NaN, a numeric string, a fraction, Infinity, out of range), in `numberOption`'s one-line message,
   *   e.g. `rate limit windowMs must be an integer number of milliseconds from 1 to 31536000000 (got NaN)`.
   * @throws StoreUnavailableError (`ERR_STORE_UNAVAILABLE`) when Redis fails or is late.
   */
  async hit(key: string, limit: RateLimit): Promise<RateLimitResult> {
    if (typeof limit !== "object" || limit === null) throw new InvalidArgumentError("rate limit must be an object { max, windowMs }");
    const max = numberOption("rate limit max", limit.max ?? null, 0, RATE_LIMIT_MAX);
    const windowMs = numberOption("rate limit windowMs", limit.windowMs ?? null, 0, KEY_TTL_MS);
    const now = this.#options.now().getTime();
    const id = `${now}-${randomBytes(8).toString("hex")}`;
    const k = this.#key(key);
    let reply: [number, number];
    try {
      reply = (await this.#run.eval("rate limit hit", RATE_HIT, [k], [now, now - windowMs, max, id, windowMs + 60_000])) as [number, number];
    } catch (error) {
      // Rejected, but the script may still run (Redis late past commandTimeoutMs): remove this hit by its id, which
      // is made here, on the same client right after (see Runner.undo), so a 503 does not count against the device.
      this.#run.undo("ZREM", [k], [id]);
      throw error;
    }
    const count = Number(reply[1]);
    return reply[0] === 1 ? { allowed: true, count, id } : { allowed: false, count };
  }

  /**
   * Removes the hit `id` recorded for `key` (a later gate refused the enrollment).
   *
   * @throws StoreUnavailableError (`ERR_STORE_UNAVAILABLE`) when Redis fails or is late.
   */
  async release(key: string, id: string): Promise<void> {
    await this.#run.command("rate limit release", "ZREM", [this.#key(key), id]);
  }
}
