/**
 * One-time challenge passwords in Redis, shared by every replica.
 *
 * @module
 */
import { createHash, randomBytes } from "node:crypto";
import { InvalidArgumentError, StoreUnavailableError, newChallenge, numberOption } from "@scep/core";
import type { ChallengeStore } from "@scep/core";
import { Runner } from "./lib/client.js";
import { CONSUME, RELEASE, SPENT_BY, UNCONSUME } from "./lib/scripts.js";
import { KEY_TTL_MS, resolveStoreOptions, type RedisClient, type RedisStoreOptions, type ResolvedStoreOptions } from "./options.js";

/** Options of {@link RedisChallengeStore}. @group Storage */
export interface RedisChallengeStoreOptions extends RedisStoreOptions {
  /** Lifetime of a challenge issued without `ttlMs`, in milliseconds (default 3 600 000: one hour). An integer from 1 to 31 536 000 000 (365 days), else `ERR_INVALID_ARGUMENT`. */
  defaultTtlMs?: number;
}

/**
 * A one-time `ChallengeStore` (from `@scep/core`) on Redis (standalone, Sentinel or
 * Cluster).
 *
 * A challenge is `newChallenge()`'s: 24 random bytes in base64url without padding (32
 * characters of `A-Z a-z 0-9 -`), never starting with `-`, never holding `_`. Redis holds only its
 * SHA-256: the key is `<prefix>challenge:<sha256 hex>`, the value
 * `<expiresAt ms>:<profile>`, with a TTL of `ttlMs` (written with
 * `SET … PX … NX`). `consume` is a Lua script (EVALSHA, EVAL on NOSCRIPT):
 * it marks the value spent (an `s` in front, same TTL; with a `binding`, `r<its SHA-256 hex>` before that, written
 * in the same script, which `isSpentBy` matches and turns into `R` on a match, after which `release` refuses) and answers true only
 * for a live, unspent challenge of that profile, so of any number of
 * concurrent consumers, on any replicas, at most one succeeds; `release`
 * (another script) takes the mark off again (with a `consumption` id, only the
 * mark of the consume given that id: its SHA-256's first 16 hex digits are the
 * mark's tag). Expiry is decided with the
 * injected clock. A challenge issued with a `holder` supersedes the holder's earlier one: the key
 * `<prefix>challenge-holder:<sha256>` names the current challenge's key, and `issue` deletes the one it replaces.
 *
 * Every method rejects with StoreUnavailableError (code
 * `ERR_STORE_UNAVAILABLE`) when Redis fails or does not answer within
 * `commandTimeoutMs`. A `consume` that rejects leaves the challenge usable:
 * its script may still run when Redis answers late, so the spent mark carries
 * the consumer's random tag (`s<expiresAt>:<profile>#<tag>`) and a script that
 * takes off that consumer's mark only follows it on the same client (Redis
 * runs one connection's commands in order). Best effort: when the client
 * cannot send it (disconnected, offline queue off) a consume that already
 * reached Redis stays.
 *
 * @example
 * ```ts
 * import Redis from "ioredis";
 * import { RedisChallengeStore, redisClientOptions } from "@scep/redis";
 *
 * const redis = new Redis(process.env.SCEP_REDIS_URL!, { ...redisClientOptions, lazyConnect: true });
 * await redis.connect(); // no offline queue: a command sent before the connection is up fails at once
 * const challenges = new RedisChallengeStore(redis);
 * const challenge = await challenges.issue({ profile: "corp", ttlMs: 3_600_000 });
 * // profile: { challenge: { type: "store", store: challenges } }
 * ```
 *
 * @group Storage
 */
export class RedisChallengeStore implements ChallengeStore {
  readonly #run: Runner;
  readonly #options: ResolvedStoreOptions;
  readonly #defaultTtlMs: number;

  /**
   * @param client - an ioredis `Redis` or `Cluster` you own (see `redisClientOptions`).
   * @param options - key prefix, deadline, Retry-After, clock, default lifetime.
   * @throws InvalidArgumentError (`ERR_INVALID_ARGUMENT`) for a bad option.
   */
  constructor(client: RedisClient, options: RedisChallengeStoreOptions = {}) {
    this.#options = resolveStoreOptions(options);
    this.#run = new Runner(client, this.#options.commandTimeoutMs, this.#options.retryAfterSeconds);
    this.#defaultTtlMs = options.defaultTtlMs ?? 3_600_000;
    checkTtl(this.#defaultTtlMs, "defaultTtlMs");
  }

  #key(challenge: string): string {
    return `${this.#options.keyPrefix}challenge:${createHash("sha256").update(challenge, "utf8").digest("hex")}`;
  }

  /** Whether `key` is one {@link RedisChallengeStore.#key} makes: this prefix, `challenge:`, 64 lower-case hex digits. */
  #isChallengeKey(key: string): boolean {
    const head = `${this.#options.keyPrefix}challenge:`;
    return key.length === head.length + 64 && key.startsWith(head) && /^[0-9a-f]{64}$/.test(key.slice(head.length));
  }

  /**
   * Creates a challenge (24 random bytes, base64url: 32 characters) valid for `ttlMs` milliseconds
   * (default `defaultTtlMs`) on `profile`.
   *
   * @throws StoreUnavailableError (`ERR_STORE_UNAVAILABLE`) when Redis fails or is late.
   * @throws InvalidArgumentError (`ERR_INVALID_ARGUMENT`) for a `ttlMs` that is not an integer from 1 to 31 536 000 000
   *   (ms, 365 days; `null` included), in the words of @scep/core's MemoryChallengeStore.
   */
  async issue(options: { profile: string; ttlMs?: number; holder?: string }): Promise<string> {
    // Only an absent ttlMs takes the default (a null is refused, as @scep/core's MemoryChallengeStore refuses it).
    const ttlMs = options.ttlMs === undefined ? this.#defaultTtlMs : options.ttlMs;
    checkTtl(ttlMs, "ttlMs");
    const expiresAt = this.#options.now().getTime() + ttlMs;
    // A collision of 192 random bits does not happen; NX makes sure it could not overwrite one anyway.
    for (let attempt = 0; attempt < 3; attempt++) {
      const challenge = newChallenge();
      const key = this.#key(challenge);
      const reply = await this.#run.command("issue", "SET", [key, `${expiresAt}:${options.profile}`, "PX", ttlMs, "NX"]);
      if (reply === null) continue;
      if (options.holder !== undefined) await this.#supersede(options.profile, options.holder, key, ttlMs);
      return challenge;
    }
    throw new StoreUnavailableError("Redis refused three fresh challenges (SET NX); is another writer using this key prefix?", {
      retryAfterSeconds: this.#options.retryAfterSeconds,
    });
  }

  /**
   * Makes `key` the holder's current challenge and deletes the one it replaces: `SET … GET` swaps the pointer
   * `<prefix>challenge-holder:<sha256 of [profile, holder]>` (so of concurrent issues each learns its predecessor and
   * exactly the last stays), then `DEL` of the predecessor's key. Two commands on two keys (no script: in a Cluster
   * they sit in different slots). When the DEL fails (Redis down or late) the issue rejects with StoreUnavailableError
   * and the earlier challenge may stay usable until it expires: a later issue for the holder supersedes only the one
   * the pointer names (`@scep/proxy` still refuses the earlier URL once a registration's record, with its
   * `challengeHash`, is stored). The pointer lives as long as the new challenge. A pointer that names anything but a
   * challenge key of this store (data it did not write) is replaced and deletes nothing.
   */
  async #supersede(profile: string, holder: string, key: string, ttlMs: number): Promise<void> {
    const pointer = `${this.#options.keyPrefix}challenge-holder:${createHash("sha256").update(JSON.stringify([profile, holder]), "utf8").digest("hex")}`;
    const earlier = await this.#run.command("issue", "SET", [pointer, key, "PX", ttlMs, "GET"]);
    const earlierKey = earlier === null || earlier === undefined ? undefined : String(earlier);
    // Only a challenge key of this store is deleted: a pointer edited by hand or written by another program may name
    // any key (a transaction record, a revocation hash), which a DEL would lose. Such a pointer named no challenge to
    // supersede, and the SET above has replaced it: the key it named is left alone.
    if (earlierKey === undefined || earlierKey === key || !this.#isChallengeKey(earlierKey)) return;
    await this.#run.command("issue", "DEL", [earlierKey]);
  }

  /**
   * Consumes a challenge: true once; false when unknown, expired, already
   * consumed or issued for another profile (which leaves it intact for its
   * own). Atomic (Lua script): of N concurrent consumers, on any replicas, at
   * most one gets true.
   *
   * @throws StoreUnavailableError (`ERR_STORE_UNAVAILABLE`) when Redis fails or is late.
   */
  async consume(challenge: string, options: { profile: string; consumption?: string; binding?: string }): Promise<boolean> {
    const key = this.#key(challenge);
    const tag = options.consumption === undefined ? randomBytes(8).toString("hex") : consumerTag(options.consumption);
    const binding = options.binding === undefined ? "" : bindingDigest(options.binding);
    try {
      return (await this.#run.eval("consume", CONSUME, [key], [this.#options.now().getTime(), options.profile, tag, binding])) === 1;
    } catch (error) {
      // Rejected (the server answers 503), but a late script may still spend the challenge, and the device's resend
      // would be refused. Put back what this call spent, and only that (its tag): the undo runs after the consume on
      // the same connection (see Runner.undo).
      this.#run.undo(UNCONSUME, [key], [tag]);
      throw error;
    }
  }

  /**
   * Puts back a challenge `consume` spent, for a request the server then
   * failed (see `ChallengeStore.release` in `@scep/core`): true when it is
   * usable once more, with the expiry it was issued with; false when unknown,
   * not spent, of another profile or expired. With `consumption` (the id given to that `consume`), only while
   * the spent mark is still that consume's: a late release after the challenge was consumed again is false and
   * changes nothing. Atomic (Lua script).
   *
   * @throws StoreUnavailableError (`ERR_STORE_UNAVAILABLE`) when Redis fails or is late.
   */
  async release(challenge: string, options: { profile: string; consumption?: string }): Promise<boolean> {
    const tag = options.consumption === undefined ? "" : consumerTag(options.consumption);
    const reply = await this.#run.eval("release", RELEASE, [this.#key(challenge)], [this.#options.now().getTime(), options.profile, tag]);
    return reply === 1;
  }

  /**
   * Whether the challenge is spent by a consume that named this `binding` (see `ChallengeStore.isSpentBy` in
   * `@scep/core`): true only while it is spent, of `profile`, not expired by the injected clock and not superseded.
   * A true answer marks, in the same Lua script (one round trip), that a re-send was matched: `release` of the
   * spending consume resolves false from then on. The binding's SHA-256 is what the spent mark holds, never the
   * binding.
   *
   * @throws StoreUnavailableError (`ERR_STORE_UNAVAILABLE`) when Redis fails or is late.
   */
  async isSpentBy(challenge: string, options: { profile: string; binding: string }): Promise<boolean> {
    const reply = await this.#run.eval("isSpentBy", SPENT_BY, [this.#key(challenge)], [this.#options.now().getTime(), options.profile, bindingDigest(options.binding)]);
    return reply === 1;
  }

  /**
   * Resolves 0 without a Redis command: every challenge key is written with a
   * `PX` TTL, so Redis removes an expired challenge on its own (and `consume`
   * refuses one whose expiry by the injected clock has passed before Redis
   * does). Present so callers that sweep every `ChallengeStore` need no
   * special case.
   */
  async sweep(): Promise<number> {
    return 0;
  }
}

/** The spent mark's tag (16 hex digits) of a caller's consumption id: its SHA-256, so any string fits and none is stored. */
function consumerTag(consumption: string): string {
  return createHash("sha256").update(consumption, "utf8").digest("hex").slice(0, 16);
}

/** What a spent mark holds of a consume's binding: its SHA-256 in hex (64 digits), so any string fits and none is stored. */
function bindingDigest(binding: string): string {
  return createHash("sha256").update(binding, "utf8").digest("hex");
}

function checkTtl(ms: number, what: string): void {
  numberOption(what, ms ?? null, 0, KEY_TTL_MS);
}
