/**
 * Lua scripts of the proxy's profile store (`@scep/proxy`'s ProfileStore).
 * Each touches a record (prune: a few records) and the index and expiry index, all passed in KEYS and all sharing
 * the hash tag `{proxy-profiles}`, so they work on Redis Cluster. Times are milliseconds by
 * the store's clock, passed in ARGV.
 *
 * Every script checks everything it depends on before its first write (the key types, the record's fields, its own
 * numbers), so a script that fails has written nothing: data this store did not write (an edit by hand, another
 * version's record, a key of another type where the record or the index should be) is answered
 * `CORRUPT <what>` (corrupt.ts), never met half-way.
 */
// Types only: @scep/proxy is an optional peer dependency, and @scep/redis must load without it.
import type { DeliveryStatus } from "@scep/proxy";
import { script } from "./client.js";

/**
 * `@scep/proxy`'s DELIVERY_STATUSES, not imported (a value import would make the optional peer required). A
 * `Record` over the type, so a status added to or removed from `DeliveryStatus` fails to compile here. The store's
 * `put` and `get` check by it, and the Lua `STATUSES` table ({@link CHECKS}) is built from it.
 */
export const DELIVERY_STATUSES: Readonly<Record<DeliveryStatus, true>> = { pending: true, verifying: true, verified: true, failed: true, none: true };

/** The largest requeueCount (2^53 - 1, the largest safe integer): `requeue` keeps it there rather than add to it. */
export const MAX_REQUEUE_COUNT = Number.MAX_SAFE_INTEGER;

/** Most index entries one `put` hands to `PROFILE_PRUNE`: a put adds at most one, so the index stays bounded. */
export const PRUNE_BATCH = 16;

/**
 * Keeps the index and the expiry index at least as long as the records they list (the index's members all score 0:
 * it is read in lexicographic order, which writes never change), and scores the member in the expiry index by when
 * its record's retention ends by the store's clock (`now` + `retention`, ms; below 2^53, so exact as a Lua number).
 * Then answers up to {@link PRUNE_BATCH} members whose retention has ended by the store's clock: the caller hands them
 * to `PROFILE_PRUNE`, which drops the entries of those whose record is gone (the script cannot look at those records
 * itself: a key not in KEYS is a Redis Cluster bug).
 */
const KEEP_INDEX = `
local function keep_index(index, expiry, member, now, retention)
  redis.call('ZADD', index, 0, member)
  redis.call('ZADD', expiry, string.format('%.0f', tonumber(now) + tonumber(retention)), member)
  for _, key in ipairs({ index, expiry }) do
    if redis.call('PTTL', key) < tonumber(retention) then redis.call('PEXPIRE', key, retention) end
  end
end
local function expired(expiry, now)
  return redis.call('ZRANGEBYSCORE', expiry, '-inf', now, 'LIMIT', 0, ${PRUNE_BATCH})
end
`;

/**
 * Lua checks shared by the scripts:
 * - `index_ok(key)`: the index is a sorted set or absent (a write to a key of another type would fail after the record
 *   was written); `indexes_ok()`: KEYS[2] (the index) and KEYS[3] (the expiry index) both are;
 * - `record_type(key)`: the record key's type (`none`, `hash`, or another: corrupt);
 * - `int(v)`: `v` is a safe integer in the canonical decimal form `String(n)` gives (what `put` writes and `get` reads
 *   back: at most 16 digits, no leading zero, no `-0`);
 * - `KINDS`: the fields this version knows, and what each holds (`STATUSES` built from {@link DELIVERY_STATUSES});
 * - `record_problem(current, member)`: what is wrong with a record's HGETALL reply (a required field missing, an empty
 *   key field, an unknown status, a time or requeueCount that is not an integer, key fields that are not the ones the
 *   index member `member` names), nil for a whole record: the same checks as `recordFrom` in redis-profile-store.ts
 *   (`tag` is keys.ts's `profileTag`). A field it does not know (a later version's, during a rolling upgrade) is
 *   accepted and left alone.
 */
const CHECKS = `
local function index_ok(key)
  local t = redis.call('TYPE', key).ok
  return t == 'zset' or t == 'none'
end
local function indexes_ok()
  return index_ok(KEYS[2]) and index_ok(KEYS[3])
end
local function record_type(key)
  return redis.call('TYPE', key).ok
end
local function int(v)
  if type(v) ~= 'string' or not (v == '0' or string.match(v, '^%-?[1-9]%d*$')) or #v > 17 then return false end
  local n = tonumber(v)
  return n ~= nil and n <= 9007199254740991 and n >= -9007199254740991
end
local KINDS = { hostId = 'key', profileId = 'key', caName = 'key', status = 'status', updatedAt = 'ms', platform = 'text', challengeRetrievedAt = 'ms', challengeHash = 'text', detail = 'text', requeueCount = 'count' }
local STATUSES = { ${Object.keys(DELIVERY_STATUSES)
  .map((s) => `[${JSON.stringify(s)}] = true`)
  .join(", ")} }
local function tag(s)
  return (string.gsub(s, '[^A-Za-z0-9._~-]', function(c) return string.format('%%%02X', string.byte(c)) end))
end
local function record_problem(current, member)
  local held = {}
  for i = 1, #current, 2 do
    local f, v = current[i], current[i + 1]
    local kind = KINDS[f]
    -- a field it does not know (a later version's, during a rolling upgrade) is left alone
    if kind == 'key' and v == '' then return 'field ' .. f .. ' is empty' end
    if kind == 'status' and not STATUSES[v] then return 'field status is not a delivery status' end
    if kind == 'ms' and not int(v) then return 'field ' .. f .. ' is not a time in ms' end
    if kind == 'count' and not (int(v) and string.sub(v, 1, 1) ~= '-') then return 'field requeueCount is not a count' end
    held[f] = v
  end
  for _, f in ipairs({ 'hostId', 'profileId', 'caName', 'status', 'updatedAt' }) do
    if not held[f] then return 'field ' .. f .. ' is missing' end
  end
  if tag(held.hostId) .. ',' .. tag(held.profileId) .. ',' .. tag(held.caName) ~= member then return 'its hostId, profileId or caName is not the one its key names' end
  return nil
end
local function corrupt(what)
  return redis.error_reply('CORRUPT ' .. what)
end
`;

/**
 * Checks of requeue and markFailed before their first write: the script's answer (0: no record, or not the expected
 * one; an error: `CORRUPT`, or a bad argument), or go on. The record is the expected one when the fields this version
 * knows (`KINDS`) are exactly the expected record's fields with the same values (a known field the expected one lacks
 * makes it another record; a field this version does not know, a later version's during a rolling upgrade, is left out
 * of the compare, as `get` leaves it out). A record that is the expected one, or any record when unconditional, is
 * then checked whole: `CORRUPT` unless whole.
 * `first` is the ARGV index of the expected record's first field (none there: unconditional).
 * Returns `{answer}` to stop with `answer`, or `{false, current}` with the record's HGETALL reply.
 */
const CHECK_CHANGE = `
local function check_change(first)
  if not (int(ARGV[1]) and int(ARGV[2]) and tonumber(ARGV[2]) > 0) then return { redis.error_reply('ERR a time argument is not an integer') } end
  local t = record_type(KEYS[1])
  if t == 'none' then return { 0 } end
  if t ~= 'hash' then return { corrupt('profile record (not a hash)') } end
  if not indexes_ok() then return { corrupt('profile index (not a sorted set)') } end
  local current = redis.call('HGETALL', KEYS[1])
  if #ARGV >= first then
    local held, known = {}, 0
    for i = 1, #current, 2 do
      if KINDS[current[i]] then
        held[current[i]] = current[i + 1]
        known = known + 1
      end
    end
    for i = first, #ARGV, 2 do
      if held[ARGV[i]] ~= ARGV[i + 1] then return { 0 } end
    end
    if known ~= (#ARGV - first + 1) / 2 then return { 0 } end
  end
  local problem = record_problem(current, ARGV[3])
  if problem then return { corrupt('profile record (' .. problem .. ')') } end
  return { false, current }
end
`;

/**
 * put: replaces a record whole.
 * KEYS[1] record, KEYS[2] index, KEYS[3] expiry index. ARGV[1] now, ARGV[2] retention (ms),
 * ARGV[3] index member, ARGV[4..] field/value pairs.
 * Checked before the DEL (an error after it would lose the record it replaces): its numbers and field/value pairs,
 * and the indexes' types (`CORRUPT profile index (not a sorted set)`: the ZADD would fail after the record was written).
 * A record key of any type is replaced, as a record is.
 * Returns the members whose retention has ended by ARGV[1] (at most {@link PRUNE_BATCH}; see {@link PROFILE_PRUNE}).
 */
export const PROFILE_PUT = script(
  "profile-put",
  `${KEEP_INDEX}${CHECKS}
if not (int(ARGV[1]) and int(ARGV[2]) and tonumber(ARGV[2]) > 0) then return redis.error_reply('ERR put: a time argument is not an integer') end
if #ARGV < 5 or (#ARGV - 3) % 2 ~= 0 then return redis.error_reply('ERR put: fields are not field/value pairs') end
if not indexes_ok() then return corrupt('profile index (not a sorted set)') end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], unpack(ARGV, 4))
redis.call('PEXPIRE', KEYS[1], ARGV[2])
keep_index(KEYS[2], KEYS[3], ARGV[3], ARGV[1], ARGV[2])
return expired(KEYS[3], ARGV[1])
`,
);

/**
 * requeue: status `none`, `challengeRetrievedAt` and `detail` removed,
 * `requeueCount` + 1, `updatedAt` now; an absent record stays absent.
 * Conditional when ARGV[4..] holds the expected record's field/value pairs (as
 * `put` writes them): the record is requeued only when the fields of its hash
 * that this version knows are exactly those fields with those values (none
 * more, none fewer; see `check_change`), compared here, in the same atomic
 * step as the write.
 * Before the first write (the HDEL), the record is checked whole (a requeueCount that is not a count would fail the
 * HINCRBY after the HDEL), and the index's type: `CORRUPT`, nothing written. A requeueCount at 2^53 - 1
 * ({@link MAX_REQUEUE_COUNT}, the largest `put` accepts) stays there (the next `get` could not read one more): the
 * requeue is done otherwise.
 * KEYS[1] record, KEYS[2] index, KEYS[3] expiry index. ARGV[1] now, ARGV[2] retention (ms), ARGV[3] index member,
 * ARGV[4..] field/value pairs of the expected record (none: unconditional).
 * Returns 1 when the record was requeued, 0 when it was absent or not the expected one.
 */
export const PROFILE_REQUEUE = script(
  "profile-requeue",
  `${KEEP_INDEX}${CHECKS}${CHECK_CHANGE}
local checked = check_change(4)
if checked[1] ~= false then return checked[1] end
local count = redis.call('HGET', KEYS[1], 'requeueCount')
redis.call('HDEL', KEYS[1], 'challengeRetrievedAt', 'detail')
if count ~= '${MAX_REQUEUE_COUNT}' then redis.call('HINCRBY', KEYS[1], 'requeueCount', 1) end
redis.call('HSET', KEYS[1], 'status', 'none', 'updatedAt', ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
keep_index(KEYS[2], KEYS[3], ARGV[3], ARGV[1], ARGV[2])
return 1
`,
);

/**
 * markFailed: status `failed`, `detail`, `updatedAt` now; an absent record stays absent.
 * Conditional when ARGV[5..] holds the expected record's field/value pairs (as `put` writes them), as requeue's:
 * marked only when the hash's known fields are exactly those fields with those values, compared in the same atomic
 * step.
 * Checked as requeue's before its first write: the record whole and the index's type (`CORRUPT`, nothing written).
 * KEYS[1] record, KEYS[2] index, KEYS[3] expiry index. ARGV[1] now, ARGV[2] retention (ms), ARGV[3] index member,
 * ARGV[4] detail,
 * ARGV[5..] field/value pairs of the expected record (none: unconditional).
 * Returns 1 when the record was marked failed, 0 when it was absent or not the expected one.
 */
export const PROFILE_FAIL = script(
  "profile-fail",
  `${KEEP_INDEX}${CHECKS}${CHECK_CHANGE}
local checked = check_change(5)
if checked[1] ~= false then return checked[1] end
redis.call('HSET', KEYS[1], 'status', 'failed', 'detail', ARGV[4], 'updatedAt', ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
keep_index(KEYS[2], KEYS[3], ARGV[3], ARGV[1], ARGV[2])
return 1
`,
);

/**
 * delete: the record and its index entries together. A record that is not whole (or not a hash) is deleted all the
 * same (delete is how an operator clears it); an index of another type is `CORRUPT`, nothing deleted.
 * KEYS[1] record, KEYS[2] index, KEYS[3] expiry index. ARGV[1] index member. Returns 1 when the record existed, else 0.
 */
export const PROFILE_DELETE = script(
  "profile-delete",
  `${CHECKS}
if not indexes_ok() then return corrupt('profile index (not a sorted set)') end
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
return redis.call('DEL', KEYS[1])
`,
);

/**
 * unindex: drops the index entries of a record that is gone (expired by its TTL),
 * unless the record came back meanwhile. An index of another type is `CORRUPT`.
 * KEYS[1] record, KEYS[2] index, KEYS[3] expiry index. ARGV[1] index member.
 */
export const PROFILE_UNINDEX = script(
  "profile-unindex",
  `${CHECKS}
if not indexes_ok() then return corrupt('profile index (not a sorted set)') end
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('ZREM', KEYS[3], ARGV[1])
return redis.call('ZREM', KEYS[2], ARGV[1])
`,
);

/**
 * prune: what `put` does with the members its script answered (their retention ended by the store's clock), so that
 * the index does not keep an entry for every device that ever registered (the proxy never lists; every write
 * refreshes the index's TTL). Each member's record is passed in KEYS (a script touches only its KEYS: Redis
 * Cluster). A record that is gone (Redis dropped it by its TTL) loses both index entries; one that is still there
 * (Redis' clock behind the store's, or a put since) stays listed and its expiry entry is scored anew by its remaining
 * TTL, so it is not answered again before then; one without a TTL (PERSIST by hand) stays listed and leaves the
 * expiry index.
 * KEYS[1] index, KEYS[2] expiry index, KEYS[3..] the records; ARGV[1] now, ARGV[2..] the members (ARGV[i] is the member
 * of KEYS[i + 1]). An index of another type is `CORRUPT`, nothing changed.
 * Returns how many index entries went.
 */
export const PROFILE_PRUNE = script(
  "profile-prune",
  `${CHECKS}
if not (index_ok(KEYS[1]) and index_ok(KEYS[2])) then return corrupt('profile index (not a sorted set)') end
if not int(ARGV[1]) then return redis.error_reply('ERR prune: a time argument is not an integer') end
local gone = 0
for i = 3, #KEYS do
  local member = ARGV[i - 1]
  local ttl = redis.call('PTTL', KEYS[i])
  if ttl == -2 then
    gone = gone + redis.call('ZREM', KEYS[1], member)
    redis.call('ZREM', KEYS[2], member)
  elseif ttl == -1 then
    redis.call('ZREM', KEYS[2], member)
  else
    redis.call('ZADD', KEYS[2], 'XX', string.format('%.0f', tonumber(ARGV[1]) + ttl), member)
  end
end
return gone
`,
);
