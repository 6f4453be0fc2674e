/**
 * `@scep/intune`'s ReplayCache in Redis: a nonce or transactionID is accepted
 * once across every replica.
 *
 * @module
 */
import { createHash, randomBytes } from "node:crypto";
import { InvalidArgumentError } from "@scep/core";
import type { ReplayCache } from "@scep/intune";
import { Runner } from "./lib/client.js";
import { REPLAY_INSERT, REPLAY_UNDO } from "./lib/intune-scripts.js";
import { kindOf, resolveStoreOptions, type RedisClient, type RedisStoreOptions, type ResolvedStoreOptions } from "./options.js";

/**
 * A `ReplayCache` (from `@scep/intune`) on Redis (standalone, Sentinel or
 * Cluster), for the signed-token and Intune validators of several replicas.
 *
 * The key is `<prefix>replay:<sha256 hex of the nonce>` (any nonce, any
 * length, one fixed-size key), the value `<expiresAt>:<random tag>` (expiresAt
 * in ms by the store's clock; the tag names the writer). `checkAndInsert` is
 * `SET key value NX PX ttl+60s`: one round trip for a fresh nonce, and exactly
 * one of any number of concurrent callers gets the key. When the key exists, a
 * Lua script (atomic) refuses unless its stored expiresAt has passed by the
 * injected clock, and then replaces it.
 *
 * Rejects with StoreUnavailableError (`ERR_STORE_UNAVAILABLE`) when Redis
 * fails or does not answer within `commandTimeoutMs`; validators pass it on
 * and the server answers 503. A rejected `checkAndInsert` leaves nothing
 * recorded: its SET may still run when Redis answers late, so it sends, on the
 * same client right after, a script that deletes the entry if it still holds
 * this call's tag (Redis runs one connection's commands in order; in a Cluster
 * both go to the key's node). Best effort: when the client cannot send it
 * (disconnected, offline queue off) a write that already reached Redis stays.
 *
 * @example
 * ```ts
 * import Redis from "ioredis";
 * import { SignedTokenValidator, TrustAnchorPool } from "@scep/intune";
 * import { RedisReplayCache, RedisRateLimiter, redisClientOptions } from "@scep/redis";
 *
 * const redis = new Redis(process.env.SCEP_REDIS_URL!, { ...redisClientOptions });
 * const trustAnchors = await TrustAnchorPool.fromFile("/etc/scep/intune-anchors.pem");
 * const tokens = new SignedTokenValidator({ trustAnchors, replayCache: new RedisReplayCache(redis), rateLimiter: new RedisRateLimiter(redis) });
 * ```
 *
 * @group Storage
 */
export class RedisReplayCache implements ReplayCache {
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

  #key(nonce: string): string {
    return `${this.#options.keyPrefix}replay:${createHash("sha256").update(nonce, "utf8").digest("hex")}`;
  }

  /**
   * Records `key` for `ttlMs` unless it is recorded and live; true when it was not. The empty key is never stored.
   *
   * @throws InvalidArgumentError (`ERR_INVALID_ARGUMENT`) for a `ttlMs` that is not a positive safe integer:
   *   `ttlMs must be a positive integer number of milliseconds (got 0)` (as every ReplayCache of the SDK).
   * @throws StoreUnavailableError (`ERR_STORE_UNAVAILABLE`) when Redis fails or is late.
   */
  async checkAndInsert(key: string, ttlMs: number): Promise<boolean> {
    // The message of every ReplayCache of the SDK (@scep/intune's MemoryReplayCache says it in the same words).
    if (typeof ttlMs !== "number" || !Number.isSafeInteger(ttlMs) || ttlMs <= 0) throw new InvalidArgumentError(`ttlMs must be a positive integer number of milliseconds (got ${typeof ttlMs === "number" ? ttlMs : kindOf(ttlMs)})`);
    if (key === "") return true;
    const k = this.#key(key);
    const now = this.#options.now().getTime();
    // The stored expiresAt decides (injected clock); PX, a minute longer, only cleans up, so a Redis clock
    // running ahead of the servers' cannot drop an entry early. The random tag names this writer's entry.
    const entry = `${now + ttlMs}:${randomBytes(8).toString("hex")}`;
    const px = ttlMs + 60_000;
    try {
      const set = await this.#run.command("replay check", "SET", [k, entry, "PX", px, "NX"]);
      if (set !== null) return true;
      return (await this.#run.eval("replay check", REPLAY_INSERT, [k], [now, entry, px])) === 1;
    } catch (error) {
      // Rejected, but a late SET (Redis slow past commandTimeoutMs) or a write hidden behind another error may still
      // land: the device would be told 503 and its resend refused as a replay. Undo our own entry only (its tag):
      // the undo runs after the write on the same connection (see Runner.undo), and never forgets the entry of the
      // request that spent the key first.
      this.#run.undo(REPLAY_UNDO, [k], [entry]);
      throw error;
    }
  }

  /**
   * Forgets `key` so its next `checkAndInsert` is true (`@scep/intune`'s ReplayCache.release): one `GETDEL`
   * (Redis ≥ 6.2; an older server rejects it, and the validators then keep the nonce as they did without release),
   * true when the entry it removed was live by the injected clock.
   *
   * @throws StoreUnavailableError (`ERR_STORE_UNAVAILABLE`) when Redis fails or is late.
   */
  async release(key: string): Promise<boolean> {
    if (key === "") return false;
    const was = await this.#run.command("replay release", "GETDEL", [this.#key(key)]);
    return was !== null && Number(/^\d+/.exec(String(was))?.[0]) > this.#options.now().getTime();
  }
}
