/**
 * Lua scripts of the replay cache and the rate limiter (`@scep/intune`'s
 * ReplayCache and RateLimiter). Each touches one key, so each works on Redis
 * Cluster. Times are milliseconds by the store's clock, passed in ARGV; the rate-limit log's pruning also reads
 * Redis's own clock (`TIME`).
 */
import { script } from "./client.js";
import { REDIS_MS } from "./scripts.js";

/**
 * Replay check-and-insert, run when `SET … NX PX` found the key present:
 * the entry still counts only while its stored expiresAt is after now.
 * An entry is `<expiresAt>:<writer's random tag>` (or `<expiresAt>` alone,
 * as written before the tag existed); the leading digits are the expiresAt.
 * KEYS[1] entry. ARGV[1] now, ARGV[2] new entry, ARGV[3] TTL (PX).
 * Returns 1 when (re)inserted, 0 for a replay.
 */
export const REPLAY_INSERT = script(
  "replay-insert",
  `
local cur = redis.call('GET', KEYS[1])
if cur and tonumber(string.match(cur, '^%d+')) > tonumber(ARGV[1]) then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1
`,
);

/**
 * Undo of a replay insert that failed or was late: deletes the entry only when
 * it is still the one this writer wrote (its random tag), never the entry of
 * the request that spent the key first.
 * KEYS[1] entry. ARGV[1] the entry written. Returns 1 when deleted, else 0.
 */
export const REPLAY_UNDO = script(
  "replay-undo",
  `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`,
);

/**
 * Sliding-window log, count-and-append: count the members scored from now − window on (one exactly at the boundary
 * counts; the caller's clock, as the RateLimiter contract says), refuse at max, else add.
 * The log is shared, so a member leaves it only once it is out of the window both by the caller's clock and by
 * Redis's (`TIME`): a replica whose clock runs ahead counts by its own window but does not drop, for every replica,
 * the hits still inside theirs (it wiped a device's history, and the device enrolled again past its limit through the
 * others). The log stays bounded: about `max` hits per window of each clock the replicas run on, and the key expires
 * ARGV[5] after the last hit.
 * KEYS[1] the log (sorted set). ARGV[1] now, ARGV[2] now − window, ARGV[3] max,
 * ARGV[4] member, ARGV[5] key TTL (PEXPIRE).
 * Returns {1, count} when added, {0, count} when refused.
 */
export const RATE_HIT = script(
  "rate-hit",
  `${REDIS_MS}
local drop = math.min(tonumber(ARGV[2]), redisMs() - (tonumber(ARGV[1]) - tonumber(ARGV[2])))
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. string.format('%.0f', drop))
local n = redis.call('ZCOUNT', KEYS[1], ARGV[2], '+inf')
if n >= tonumber(ARGV[3]) then return {0, n} end
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[4])
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[5]) then redis.call('PEXPIRE', KEYS[1], ARGV[5]) end
return {1, n + 1}
`,
);
