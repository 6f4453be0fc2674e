/**
 * Lua scripts of the proxy's profile store (`@scep/proxy`'s ProfileStore).
 * Each touches a record and the one index, which share the hash tag
 * `{proxy-profiles}`, so they work on Redis Cluster. Times are milliseconds by
 * the store's clock, passed in ARGV.
 */
import { script } from "./client.js";

/**
 * Keeps the index at least as long as the records it lists (its members all
 * score 0: it is read in lexicographic order, which writes never change).
 */
const KEEP_INDEX = `
local function keep_index(index, member, retention)
  redis.call('ZADD', index, 0, member)
  if redis.call('PTTL', index) < tonumber(retention) then redis.call('PEXPIRE', index, retention) end
end
`;

/**
 * put: replaces a record whole.
 * KEYS[1] record, KEYS[2] index. ARGV[1] now, ARGV[2] retention (ms),
 * ARGV[3] index member, ARGV[4..] field/value pairs.
 */
export const PROFILE_PUT = script(
  "profile-put",
  `${KEEP_INDEX}
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], unpack(ARGV, 4))
redis.call('PEXPIRE', KEYS[1], ARGV[2])
keep_index(KEYS[2], ARGV[3], ARGV[2])
return 1
`,
);

/**
 * requeue: status `none`, `challengeRetrievedAt` and `detail` removed,
 * `requeueCount` + 1, `updatedAt` now; an absent record stays absent.
 * Conditional when ARGV[4..] holds the expected record's field/value pairs (as
 * `put` writes them): the record is requeued only when its hash holds exactly
 * those fields with those values (none more, none fewer), compared here, in
 * the same atomic step as the write.
 * KEYS[1] record, KEYS[2] index. ARGV[1] now, ARGV[2] retention (ms), ARGV[3] index member,
 * ARGV[4..] field/value pairs of the expected record (none: unconditional).
 * Returns 1 when the record was requeued, 0 when it was absent or not the expected one.
 */
export const PROFILE_REQUEUE = script(
  "profile-requeue",
  `${KEEP_INDEX}
local current = redis.call('HGETALL', KEYS[1])
if #current == 0 then return 0 end
if #ARGV > 3 then
  if #current ~= #ARGV - 3 then return 0 end
  local held = {}
  for i = 1, #current, 2 do held[current[i]] = current[i + 1] end
  for i = 4, #ARGV, 2 do
    if held[ARGV[i]] ~= ARGV[i + 1] then return 0 end
  end
end
redis.call('HDEL', KEYS[1], 'challengeRetrievedAt', 'detail')
redis.call('HINCRBY', KEYS[1], 'requeueCount', 1)
redis.call('HSET', KEYS[1], 'status', 'none', 'updatedAt', ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
keep_index(KEYS[2], ARGV[3], ARGV[2])
return 1
`,
);

/**
 * markFailed: status `failed`, `detail`, `updatedAt` now; an absent record stays absent.
 * Conditional when ARGV[5..] holds the expected record's field/value pairs (as `put` writes them), as requeue's:
 * marked only when the hash holds exactly those fields with those values, compared in the same atomic step.
 * KEYS[1] record, KEYS[2] index. ARGV[1] now, ARGV[2] retention (ms), ARGV[3] index member, ARGV[4] detail,
 * ARGV[5..] field/value pairs of the expected record (none: unconditional).
 * Returns 1 when the record was marked failed, 0 when it was absent or not the expected one.
 */
export const PROFILE_FAIL = script(
  "profile-fail",
  `${KEEP_INDEX}
local current = redis.call('HGETALL', KEYS[1])
if #current == 0 then return 0 end
if #ARGV > 4 then
  if #current ~= #ARGV - 4 then return 0 end
  local held = {}
  for i = 1, #current, 2 do held[current[i]] = current[i + 1] end
  for i = 5, #ARGV, 2 do
    if held[ARGV[i]] ~= ARGV[i + 1] then return 0 end
  end
end
redis.call('HSET', KEYS[1], 'status', 'failed', 'detail', ARGV[4], 'updatedAt', ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
keep_index(KEYS[2], ARGV[3], ARGV[2])
return 1
`,
);

/**
 * delete: the record and its index entry together.
 * KEYS[1] record, KEYS[2] index. ARGV[1] index member. Returns 1 when the record existed, else 0.
 */
export const PROFILE_DELETE = script(
  "profile-delete",
  `
redis.call('ZREM', KEYS[2], ARGV[1])
return redis.call('DEL', KEYS[1])
`,
);

/**
 * unindex: drops an index entry whose record is gone (expired by its TTL),
 * unless the record came back meanwhile.
 * KEYS[1] record, KEYS[2] index. ARGV[1] index member.
 */
export const PROFILE_UNINDEX = script(
  "profile-unindex",
  `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
return redis.call('ZREM', KEYS[2], ARGV[1])
`,
);
