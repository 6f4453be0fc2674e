/**
 * The Lua scripts (Redis runs each atomically). Keys of one call share a hash
 * tag, so they work on Redis Cluster; scripts touch only the keys passed in
 * KEYS. Times are milliseconds by the store's clock, passed in ARGV, except where a script reads Redis's own clock
 * (`TIME`): what decides for every replica at once, such as which transaction index entries are dead.
 */
import { script } from "./client.js";
import { MAX_MS, MS_DIGITS } from "./record.js";

/**
 * Lua: `redisMs()`, Redis's own clock (`TIME`) in whole milliseconds since the epoch (a Lua number, exact: below 2^53).
 * Reading TIME before a write needs effects replication, the only mode since Redis 7 and the default since 5 (the
 * stores need 6).
 */
export const REDIS_MS = `
local function redisMs()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
`;

/**
 * Lua: `expireAt(key, ttl, now)`, sets the record's expiry to `now` + `ttl` ms by Redis's clock (`PEXPIREAT`) and
 * returns that time as an integer string: the score the expiry index gives the record, so the index says exactly when
 * Redis drops it.
 */
const EXPIRE_AT = `
local function expireAt(key, ttl, now)
  local at = string.format('%.0f', now + tonumber(ttl))
  redis.call('PEXPIREAT', key, at)
  return at
end
`;

/**
 * Drops the index entries of records Redis has expired, at most 64 a call (the records themselves go by their TTL).
 * The expiry index scores each record by when Redis drops it (its `PEXPIREAT`, {@link EXPIRE_AT}), and the cutoff is
 * Redis's clock (`redisMs()`, passed as `now`): an entry goes only once Redis's clock is past its record's expiry, so
 * no replica's clock, ahead or behind, decides for the others that a record still in Redis is gone, nor keeps the
 * entry of one Redis dropped. Every create runs it, so dead entries never pile up faster than they are removed.
 */
const PRUNE = `
local function prune(indexes, expiry, now)
  local dead = redis.call('ZRANGEBYSCORE', expiry, '-inf', '(' .. string.format('%.0f', now), 'LIMIT', 0, 64)
  if #dead > 0 then
    for _, key in ipairs(indexes) do redis.call('ZREM', key, unpack(dead)) end
    redis.call('ZREM', expiry, unpack(dead))
  end
  return #dead
end
`;

/**
 * Lua: `ms(v)`, whether `v` (an ARGV or a field read back) is a time in ms by the rule of record.ts `isMs` (built from
 * the same constants: what a read accepts, a script accepts, and nothing else), and `ttl(v)`, whether `v` is a TTL
 * `PEXPIRE` takes: a positive integer without leading zeros, at most 17 digits (the difference of two times in ms).
 * Scripts check every number they will write or compare before their first write, and answer `CORRUPT <what>`
 * (corrupt.ts) for data they did not write, so a bad value never fails a script half-way.
 */
const MS = `
local function ms(v)
  if type(v) ~= 'string' then return false end
  local digits = string.match(v, '^%-?(%d+)$')
  return digits ~= nil and #digits <= ${MS_DIGITS} and math.abs(tonumber(v)) <= ${MAX_MS}
end
local function ttl(v)
  return type(v) == 'string' and string.match(v, '^[1-9]%d*$') ~= nil and #v <= ${MS_DIGITS + 1}
end
`;

/**
 * Lua: `indexes_ok(first, last)`, whether KEYS[first..last] (a transaction store's status and expiry indexes) are each a
 * sorted set or absent. Every script that writes to an index checks them before its first write and answers
 * `CORRUPT transaction index (not a sorted set)` otherwise: a ZADD/ZREM on a key of another type (an operator's SET by hand) would fail
 * after the record was written or deleted (create would lose the record it replaces, and transition's undo would fail
 * on the same key).
 */
const INDEXES = `
local function indexes_ok(first, last)
  for i = first, last do
    local t = redis.call('TYPE', KEYS[i]).ok
    if t ~= 'zset' and t ~= 'none' then return false end
  end
  return true
end
`;

/** What is wrong with a transaction index key of another type, for the `CORRUPT` reply ({@link INDEXES}). */
const INDEX_PROBLEM = "transaction index (not a sorted set)";

/** Sets a key's TTL to at least `ms` (never shortens it). */
const EXTEND = `
local function extend(key, ms)
  if redis.call('PTTL', key) < tonumber(ms) then redis.call('PEXPIRE', key, ms) end
end
`;

/**
 * Lua: `cover(key)`, keeps an index key (a status index, the expiry index) at least as long as the record KEYS[1] it
 * lists: its TTL extended to the record's PTTL ({@link EXTEND}, never shortened), read in the same script, so the key
 * never ends first (one clock for both, whatever moment a Redis version's script time rules take it at: the key
 * ends at or after the record). `CREATE`, `TRANSITION` and
 * `UNTRANSITION` run it on each index key that lists the record once they have written, whatever the statuses: a
 * record's `expiresAt` and TTL move with its status and without it (a claim renewal, ISSUING→ISSUING). A record
 * without a TTL (`PERSIST` by hand: the store always sets one) leaves the key's TTL as it is.
 */
const COVER = `
local function cover(key)
  local t = redis.call('PTTL', KEYS[1])
  if t >= 0 then extend(key, math.max(t, 1)) end
end
`;

/**
 * create: refuse over a live PENDING/ISSUING record (live by ARGV[1], the store's clock), else replace it whole.
 * KEYS[1] record, KEYS[2..5] status indexes, KEYS[6] expiry index.
 * ARGV[1] now, ARGV[2] ttl, ARGV[3] createdAt, ARGV[4] expiresAt,
 * ARGV[5] transactionID, ARGV[6] status index (1-4), ARGV[7..] field/value pairs.
 * The record expires `ttl` ms after Redis's clock (`PEXPIREAT`), and the expiry index scores it by that same time
 * ({@link EXPIRE_AT}); the prune it runs first goes by Redis's clock ({@link PRUNE}). The status index it lists the
 * record in and the expiry index are then extended to the record's PTTL, read back ({@link COVER}, as the transitions
 * do), not by `ttl` from the moment of their own PEXPIRE: a key extended by `ttl` ends with the record only while a
 * relative PEXPIRE and `TIME` read the same moment in a script, which depends on the Redis version's script time rules
 * (Redis 6 and 7.0 read both from the wall clock), where PTTL and PEXPIRE read one clock on every version. A record already gone (its end passed while the script ran: a `ttl` of
 * 1 ms) extends them by `ttl`, as before, so a key this ZADD made does not stay without a TTL.
 * Every number is checked before the DEL (an error after it would lose the record it replaces): an argument that is
 * not one (`ms`, ARGV[2] `ttl`) is an error, a PENDING/ISSUING record whose expiresAt is not one is `CORRUPT` (left as
 * it is), and so is an index key of another type ({@link INDEXES}).
 * Returns 1 when stored, 0 when refused.
 */
export const CREATE = script(
  "create",
  `${EXTEND}${COVER}${REDIS_MS}${EXPIRE_AT}${PRUNE}${MS}${INDEXES}
for _, i in ipairs({ 1, 2, 3, 4 }) do
  if not (i == 2 and ttl(ARGV[i]) or i ~= 2 and ms(ARGV[i])) then return redis.error_reply('ERR create: argument ' .. i .. ' is not a number') end
end
if not (ARGV[6] == '1' or ARGV[6] == '2' or ARGV[6] == '3' or ARGV[6] == '4') then return redis.error_reply('ERR create: bad status index') end
if not indexes_ok(2, 6) then return redis.error_reply('CORRUPT ${INDEX_PROBLEM}') end
local cur = redis.call('HMGET', KEYS[1], 'status', 'expiresAt')
if cur[1] == 'PENDING' or cur[1] == 'ISSUING' then
  if not ms(cur[2]) then return redis.error_reply('CORRUPT transaction record (field expiresAt is not a time in ms)') end
  if tonumber(cur[2]) > tonumber(ARGV[1]) then return 0 end
end
local now = redisMs()
prune({ KEYS[2], KEYS[3], KEYS[4], KEYS[5] }, KEYS[6], now)
redis.call('DEL', KEYS[1])
for i = 2, 5 do redis.call('ZREM', KEYS[i], ARGV[5]) end
redis.call('HSET', KEYS[1], unpack(ARGV, 7))
local at = expireAt(KEYS[1], ARGV[2], now)
local index = KEYS[1 + tonumber(ARGV[6])]
redis.call('ZADD', index, ARGV[3], ARGV[5])
redis.call('ZADD', KEYS[6], at, ARGV[5])
if redis.call('PTTL', KEYS[1]) >= 0 then
  cover(index)
  cover(KEYS[6])
else
  extend(index, ARGV[2])
  extend(KEYS[6], ARGV[2])
end
return 1
`,
);

/**
 * transition: compare-and-set on the status (and, when given, updatedAt) of a live record.
 * KEYS[1] record, KEYS[2] index of \`from\`, KEYS[3] index of the new status, KEYS[4] expiry index.
 * ARGV[1] now, ARGV[2] from, ARGV[3] transactionID, ARGV[4] new ttl or '',
 * ARGV[5] new expiresAt or '' (checked; the record's field comes with the pairs), ARGV[6] the expected updatedAt (ms)
 * or '', ARGV[7..] field/value pairs (the caller's `writer` tag among them).
 * With a new ttl the record expires that long after Redis's clock, and the expiry index scores it by that same time
 * ({@link EXPIRE_AT}). The new status index lists the record (again, when the status stays: an index key an earlier
 * version let expire gets its entry back), and it and, with a new ttl, the expiry index are extended to the record's
 * TTL ({@link COVER}), whatever the statuses: a claim renewal (ISSUING→ISSUING, a later expiresAt) kept the ISSUING
 * index's TTL, which then expired under a live claim. Numbers (its own, and the record's expiresAt and createdAt,
 * which it compares and writes to an index) are checked before the first write: `CORRUPT` for a record this package did not write, and
 * for an index key of another type ({@link INDEXES}; after the compare-and-set, so a miss still answers nil).
 * Before writing, keeps what it overwrites in the field `prior` (MessagePack: the record's PTTL, then each
 * written field's name and old value, false when it was absent), for `UNTRANSITION`.
 * Returns the whole record (HGETALL) or nil when the CAS failed.
 */
export const TRANSITION = script(
  "transition",
  `${EXTEND}${COVER}${REDIS_MS}${EXPIRE_AT}${MS}${INDEXES}
if not ms(ARGV[1]) or (ARGV[4] ~= '' and not (ttl(ARGV[4]) and ms(ARGV[5]))) then return redis.error_reply('ERR transition: a time argument is not a number') end
local cur = redis.call('HMGET', KEYS[1], 'status', 'expiresAt', 'createdAt', 'updatedAt')
if cur[1] ~= ARGV[2] then return false end
if not (ms(cur[2]) and ms(cur[3])) then return redis.error_reply('CORRUPT transaction record (field expiresAt or createdAt is not a time in ms)') end
if tonumber(cur[2]) <= tonumber(ARGV[1]) then return false end
if ARGV[6] ~= '' and cur[4] ~= ARGV[6] then return false end
if not indexes_ok(2, 4) then return redis.error_reply('CORRUPT ${INDEX_PROBLEM}') end
local prior = { redis.call('PTTL', KEYS[1]) }
for i = 7, #ARGV, 2 do
  prior[#prior + 1] = ARGV[i]
  prior[#prior + 1] = redis.call('HGET', KEYS[1], ARGV[i])
end
redis.call('HSET', KEYS[1], 'prior', cmsgpack.pack(prior), unpack(ARGV, 7))
if ARGV[4] ~= '' then
  redis.call('ZADD', KEYS[4], expireAt(KEYS[1], ARGV[4], redisMs()), ARGV[3])
  cover(KEYS[4])
end
if KEYS[2] ~= KEYS[3] then redis.call('ZREM', KEYS[2], ARGV[3]) end
redis.call('ZADD', KEYS[3], cur[3], ARGV[3])
cover(KEYS[3])
return redis.call('HGETALL', KEYS[1])
`,
);

/**
 * uncreate: the undo of a create that failed or was late (it may still run on Redis): removes the record and its
 * index entries only while it is the one that create wrote, untouched since (its `writer` tag: every transition
 * writes its own), never a record another request created or an approver moved on.
 * KEYS[1] record, KEYS[2..5] status indexes, KEYS[6] expiry index; ARGV[1] the create's tag, ARGV[2] transactionID.
 * An index key of another type ({@link INDEXES}) is `CORRUPT`, nothing removed.
 * Returns 1 when removed, else 0.
 */
export const UNCREATE = script(
  "uncreate",
  `${INDEXES}
if redis.call('HGET', KEYS[1], 'writer') ~= ARGV[1] then return 0 end
if not indexes_ok(2, 6) then return redis.error_reply('CORRUPT ${INDEX_PROBLEM}') end
redis.call('DEL', KEYS[1])
for i = 2, 6 do redis.call('ZREM', KEYS[i], ARGV[2]) end
return 1
`,
);

/**
 * untransition: the undo of a transition that failed or was late (it may still run on Redis): puts back what that
 * transition overwrote (from `prior`: status, updatedAt, expiresAt and TTL, the fields it added removed, the index
 * entries moved back), only while the record is as that transition left it (its `writer` tag), never one a later
 * transition changed.
 * KEYS[1] record, KEYS[2] index of \`from\`, KEYS[3] index of the transition's new status, KEYS[4] expiry index.
 * ARGV[1] the transition's tag, ARGV[2] transactionID.
 * The TTL put back runs from Redis's clock (so the record ends later than it did before the transition, by the time
 * between the two), and the expiry index scores the record by its end ({@link EXPIRE_AT}); that index and the status
 * index put back are extended to it ({@link COVER}), whatever the statuses (both used to expire before it). A record
 * that had no TTL (`PERSIST` by hand) gets none again and leaves the expiry index, as Redis never drops it (it was
 * scored by its `expiresAt`, the writer's clock: once Redis's clock passed it, a prune dropped the index entries of a
 * record Redis still held).
 * An index key of another type ({@link INDEXES}) is `CORRUPT`, nothing put back.
 * Returns 1 when put back, else 0.
 */
export const UNTRANSITION = script(
  "untransition",
  `${EXTEND}${COVER}${REDIS_MS}${EXPIRE_AT}${INDEXES}
local cur = redis.call('HMGET', KEYS[1], 'writer', 'prior', 'createdAt')
if cur[1] ~= ARGV[1] or not cur[2] then return 0 end
if not indexes_ok(2, 4) then return redis.error_reply('CORRUPT ${INDEX_PROBLEM}') end
local prior = cmsgpack.unpack(cur[2])
for i = 2, #prior, 2 do
  if prior[i + 1] then redis.call('HSET', KEYS[1], prior[i], prior[i + 1]) else redis.call('HDEL', KEYS[1], prior[i]) end
end
redis.call('HDEL', KEYS[1], 'prior')
if prior[1] > 0 then
  redis.call('ZADD', KEYS[4], expireAt(KEYS[1], prior[1], redisMs()), ARGV[2])
  cover(KEYS[4])
elseif prior[1] == -1 then
  redis.call('PERSIST', KEYS[1])
  redis.call('ZREM', KEYS[4], ARGV[2])
end
if KEYS[2] ~= KEYS[3] then redis.call('ZREM', KEYS[3], ARGV[2]) end
redis.call('ZADD', KEYS[2], cur[3], ARGV[2])
cover(KEYS[2])
return 1
`,
);

/**
 * delete: the record and its index entries.
 * KEYS[1] record, KEYS[2..5] status indexes, KEYS[6] expiry index; ARGV[1] transactionID.
 * An index key of another type ({@link INDEXES}) is `CORRUPT`, nothing deleted (a record that is not whole, or not a
 * hash, is deleted all the same: delete is how an operator clears it).
 */
export const DELETE = script(
  "delete",
  `${INDEXES}
if not indexes_ok(2, 6) then return redis.error_reply('CORRUPT ${INDEX_PROBLEM}') end
redis.call('DEL', KEYS[1])
for i = 2, 6 do redis.call('ZREM', KEYS[i], ARGV[1]) end
return 1
`,
);

/**
 * prune (before list): drops index entries of records Redis has expired, by Redis's clock ({@link PRUNE}).
 * KEYS[1..4] status indexes, KEYS[5] expiry index. Returns how many went.
 * An index key of another type ({@link INDEXES}) is `CORRUPT`, nothing pruned.
 */
export const PRUNE_INDEXES = script("prune", `${REDIS_MS}${PRUNE}${INDEXES}
if not indexes_ok(1, 5) then return redis.error_reply('CORRUPT ${INDEX_PROBLEM}') end
return prune({ KEYS[1], KEYS[2], KEYS[3], KEYS[4] }, KEYS[5], redisMs())
`);

/**
 * consume: a one-time challenge, atomically.
 * KEYS[1] the challenge's key; ARGV[1] now, ARGV[2] profile, ARGV[3] the
 * consumer's tag (16 hex digits), ARGV[4] the binding's digest (64 hex digits) or "".
 * The value is "<expiresAt ms>:<profile>", or "s<expiresAt ms>:<profile>#<tag>"
 * once spent (kept with its TTL so `release` can put it back; the tag names the
 * consumer, so `UNCONSUME` puts back only its own), with "r<binding digest>" in
 * front when the consume named a binding (`SPENT_BY` matches it, and turns the
 * "r" into "R" once it matched a re-send: `RELEASE` and `UNCONSUME` then refuse;
 * a replica running the scripts from before bindings reads either as neither
 * live nor spent, and refuses it). An expired one (by ARGV[1], the caller's clock) is refused and left to its TTL:
 * Redis drops it by its own clock, and a replica whose clock runs ahead must not delete a challenge the others still
 * accept.
 * Checked before the first write: a key of another type than a string, and a live value (one that starts with a
 * digit) that is not "<expiresAt ms>:<profile>" with the ms by record.ts `isMs` (the Lua `ms()`), are `CORRUPT
 * challenge (…)` (corrupt.ts), nothing written.
 * Returns 1 when consumed, else 0.
 */
export const CONSUME = script(
  "consume",
  `${MS}
local t = redis.call('TYPE', KEYS[1]).ok
if t ~= 'string' and t ~= 'none' then return redis.error_reply('CORRUPT challenge (not a string)') end
local v = redis.call('GET', KEYS[1])
if not v or not string.match(v, '^%d') then return 0 end
local sep = string.find(v, ':', 1, true)
if not sep then return redis.error_reply('CORRUPT challenge (not <expiresAt ms>:<profile>)') end
if not ms(string.sub(v, 1, sep - 1)) then return redis.error_reply('CORRUPT challenge (its expiresAt is not a time in ms)') end
if string.sub(v, sep + 1) ~= ARGV[2] then return 0 end
if tonumber(string.sub(v, 1, sep - 1)) <= tonumber(ARGV[1]) then return 0 end
local mark = 's'
if ARGV[4] and ARGV[4] ~= '' then mark = 'r' .. ARGV[4] .. 's' end
local ttl = redis.call('PTTL', KEYS[1])
if ttl > 0 then redis.call('SET', KEYS[1], mark .. v .. '#' .. ARGV[3], 'PX', ttl) else redis.call('DEL', KEYS[1]) end
return 1
`,
);

/**
 * Lua: the parts of a spent value ("s<v>#<tag>", "s<v>" as written before the tag, either with "r<binding digest>"
 * in front, or "R<binding digest>" once a re-send matched it): the binding digest ("" when none), the value from its
 * "s" on, the live value inside, and whether a re-send matched (true for "R"). Nil when the value is not a spent one.
 */
const SPENT_PARTS = `
local function spentParts(v)
  local marker, binding, rest = string.match(v, '^([rR])(%x+)(s.*)$')
  if not binding then
    if string.sub(v, 1, 1) ~= 's' then return nil end
    marker, binding, rest = '', '', v
  end
  local live = string.match(rest, '^s(.*)#%x%x%x%x%x%x%x%x%x%x%x%x%x%x%x%x$')
  return binding, rest, live or string.sub(rest, 2), marker == 'R'
end
`;

/**
 * Lua: whether a live value ("<expiresAt ms>:<profile>", as {@link SPENT_PARTS} returns it for a spent one) is of
 * `profile` and still valid at `now` (ms). `RELEASE` and `SPENT_BY` read the spent value's inside through it.
 */
const LIVE_FOR = `
local function liveFor(live, profile, now)
  local sep = string.find(live, ':', 1, true)
  if not sep or string.sub(live, sep + 1) ~= profile then return false end
  return tonumber(string.sub(live, 1, sep - 1)) > tonumber(now)
end
`;

/**
 * unconsume: the undo of a consume that failed or was late (it may still run
 * on Redis): puts the challenge back only while it is spent by this consumer
 * (its tag), never one another consumer spent, nor one whose re-send was matched.
 * KEYS[1] the challenge's key; ARGV[1] the consumer's tag.
 * Returns 1 when put back, else 0.
 */
export const UNCONSUME = script(
  "unconsume",
  `${SPENT_PARTS}
local v = redis.call('GET', KEYS[1])
if not v then return 0 end
local binding, rest, live, resent = spentParts(v)
if not binding or resent or string.sub(rest, -17) ~= '#' .. ARGV[1] then return 0 end
local ttl = redis.call('PTTL', KEYS[1])
if ttl <= 0 then return 0 end
redis.call('SET', KEYS[1], live, 'PX', ttl)
return 1
`,
);

/**
 * release: puts a spent challenge back (same value, same remaining TTL; its binding gone).
 * KEYS[1] the challenge's key; ARGV[1] now, ARGV[2] profile, ARGV[3] the
 * consumer's tag or "" (any consumer).
 * Returns 1 when it is usable again; 0 when unknown, not spent, spent by
 * another consumer than ARGV[3], of another profile, expired, or a re-send of it was matched ("R").
 */
export const RELEASE = script(
  "release",
  `${SPENT_PARTS}${LIVE_FOR}
local v = redis.call('GET', KEYS[1])
if not v then return 0 end
local binding, rest, live, resent = spentParts(v)
if not binding or resent then return 0 end
if ARGV[3] ~= '' and string.sub(rest, -17) ~= '#' .. ARGV[3] then return 0 end
if not liveFor(live, ARGV[2], ARGV[1]) then return 0 end
local ttl = redis.call('PTTL', KEYS[1])
if ttl <= 0 then return 0 end
redis.call('SET', KEYS[1], live, 'PX', ttl)
return 1
`,
);

/**
 * spentBy: whether a challenge is spent by a consume that named this binding; on a match, the mark's "r" becomes "R"
 * (same TTL): a re-send is being forwarded, so `RELEASE` and `UNCONSUME` refuse from then on. A miss changes nothing.
 * KEYS[1] the challenge's key; ARGV[1] now, ARGV[2] profile, ARGV[3] the binding's digest (64 hex digits).
 * Returns 1 when spent with exactly that binding, of that profile and not expired by ARGV[1]; else 0.
 */
export const SPENT_BY = script(
  "spent-by",
  `${SPENT_PARTS}${LIVE_FOR}
local v = redis.call('GET', KEYS[1])
if not v then return 0 end
local binding, rest, live, resent = spentParts(v)
if not binding or binding == '' or binding ~= ARGV[3] then return 0 end
if not liveFor(live, ARGV[2], ARGV[1]) then return 0 end
if not resent then
  local ttl = redis.call('PTTL', KEYS[1])
  if ttl <= 0 then return 0 end
  redis.call('SET', KEYS[1], 'R' .. string.sub(v, 2), 'PX', ttl)
end
return 1
`,
);

/** The most digits of a count ({@link isCount}). */
const COUNT_DIGITS = 18;
const COUNT_TEXT = new RegExp(`^(?:0|-?[1-9]\\d{0,${COUNT_DIGITS - 1}})$`);

/**
 * The one rule for a counter field's value: what `HINCRBY` takes as an integer and can add a delta to without
 * overflowing. `0`, or an optional `-` and 1 to {@link COUNT_DIGITS} digits without a leading zero: HINCRBY refuses
 * `007`, `-0` and anything outside int64, and 18 digits plus or minus a delta (a count of requests, far below 2^53)
 * stay within int64. `RedisCounterStore.read` reads by it, and the Lua `count(v)` ({@link COUNT_VALUE}, built from the
 * same constant) checks the same, so a field `read` leaves out is one the next flush sets afresh, and no other.
 */
export function isCount(text: string): boolean {
  return COUNT_TEXT.test(text);
}

/** Lua: `count(v)`, {@link isCount}. */
const COUNT_VALUE = `
local function count(v)
  if type(v) ~= 'string' then return false end
  local digits = string.match(v, '^%-?([1-9]%d*)$')
  return v == '0' or (digits ~= nil and #digits <= ${COUNT_DIGITS})
end
`;

/**
 * Lua: `label(key, field, fresh, max)`, the field a count of `field` goes to: `field` itself when the hash holds it, or
 * is an outcome (five at most), or while the hash holds fewer than `max` fields (`fresh`: fields this call adds on
 * top), else `reason:other`, as @scep/core's MemoryCounterStore counts a label past its `maxLabels` under `other`: a validator or
 * webhook naming ever new reasons cannot grow the hash without limit. Returns the field and whether it is new.
 */
const LABEL = `
local function label(key, field, fresh, max)
  if redis.call('HEXISTS', key, field) == 1 then return field, false end
  if string.sub(field, 1, 7) ~= 'reason:' or redis.call('HLEN', key) + fresh < max then return field, true end
  return 'reason:other', redis.call('HEXISTS', key, 'reason:other') == 0
end
`;

/**
 * counters: adds deltas to one profile's counter hash and refreshes its TTL, and marks the write as done by this
 * batch (for `UNCOUNT`). A field that is not a count (written by someone else: `HINCRBY` would fail half-way, after the
 * fields before it were added, and every retry of the batch would add those again) is set to the delta instead, in
 * the same step; every field is read before the first write. A label new to a hash that holds ARGV[3] fields already
 * is counted under `reason:other` ({@link LABEL}).
 * KEYS[1] the hash, KEYS[2] the writing store's marker; ARGV[1] the hash's TTL in ms, ARGV[2] the batch's number,
 * ARGV[3] the most fields of the hash, ARGV[4..] field, delta, field, delta, ….
 * Returns 1 + the number of fields that were set afresh.
 */
export const COUNT = script(
  "count",
  `${COUNT_VALUE}${LABEL}
local target, reset, fresh, seen = {}, {}, 0, {}
for i = 4, #ARGV - 1, 2 do
  local field, new = label(KEYS[1], ARGV[i], fresh, tonumber(ARGV[3]))
  if new and not seen[field] then fresh = fresh + 1 end
  seen[field] = true
  target[i] = field
  local v = redis.call('HGET', KEYS[1], field)
  if v and not count(v) then reset[field] = true end
end
local n = 1
for i = 4, #ARGV - 1, 2 do
  local field = target[i]
  if reset[field] then
    redis.call('HSET', KEYS[1], field, ARGV[i + 1])
    reset[field] = nil
    n = n + 1
  else
    redis.call('HINCRBY', KEYS[1], field, ARGV[i + 1])
  end
end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
redis.call('SET', KEYS[2], ARGV[2], 'PX', 60000)
return n
`,
);

/**
 * uncount: the undo of a counter write that failed or was late (it may still run on Redis; its counts go back into
 * the buffer and are written again): takes its deltas off only when that very batch ran (the marker holds its
 * number), so a late write is never counted twice and one that never ran is never taken off. A field that is no
 * longer a count is left alone (see `COUNT`); a label the hash does not hold was counted under `<kind>:other` by
 * `COUNT` (the hash was full) under `reason:other`, and is taken off there.
 * KEYS[1] the hash, KEYS[2] the writing store's marker; ARGV[1] the batch's number, ARGV[2..] field, delta, ….
 * Returns 1 when taken off, else 0.
 */
export const UNCOUNT = script(
  "uncount",
  `${COUNT_VALUE}
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[2])
for i = 2, #ARGV - 1, 2 do
  local field = ARGV[i]
  if redis.call('HEXISTS', KEYS[1], field) == 0 and string.sub(field, 1, 7) == 'reason:' then field = 'reason:other' end
  if count(redis.call('HGET', KEYS[1], field) or '0') then redis.call('HINCRBY', KEYS[1], field, -tonumber(ARGV[i + 1])) end
end
return 1
`,
);

/**
 * Lua: Redis's own clock (`TIME`) as microseconds since the epoch, a decimal string without leading zeros
 * (`redisMicros()`), and `startRevision(key)`, which sets a missing revision counter to it. A shared counter that
 * must never go back after a flush starts there, not at a replica's clock: every replica reads the one clock, so a
 * replica whose clock is ahead does not set a start that the next flush's start goes below, nor does one behind start
 * below what was answered before the flush. Reading TIME before a write needs effects replication, the only mode
 * since Redis 7 and the default since 5 (the stores need 6).
 */
const REDIS_MICROS = `
local function redisMicros()
  local t = redis.call('TIME')
  return (string.gsub(t[1] .. string.format('%06d', tonumber(t[2])), '^0+(%d)', '%1'))
end
local function startRevision(key)
  if redis.call('EXISTS', key) == 0 then redis.call('SET', key, redisMicros()) end
end
`;

/** What is wrong with a revision counter that is not {@link isRevision}'s, for the `CORRUPT` reply and `revision()`. */
export const REVISION_PROBLEM = "revocation revision counter (not an integer from 0 to 2^53 - 1 without leading zeros)";

/** The largest revision counter ({@link isRevision}): 2^53 - 1, the largest safe integer. */
const MAX_REVISION = Number.MAX_SAFE_INTEGER;
const REVISION_TEXT = new RegExp(`^(?:0|[1-9]\\d{0,${String(MAX_REVISION).length - 1}})$`);

/**
 * The one rule for the revision counter: a decimal integer from 0 to {@link MAX_REVISION} without leading zeros: what
 * `INCR` takes as an integer (it refuses `007`, and anything outside int64) and `revision()` answers exactly (a safe
 * integer). `RedisRevocationStore.revision` reads by it and the Lua `revision(v)` ({@link REVISION_VALUE}) checks the
 * same; `REVOKE` also refuses the largest itself, before its first write: its INCR would move past the rule.
 */
export function isRevision(text: string): boolean {
  return REVISION_TEXT.test(text) && Number(text) <= MAX_REVISION;
}

/** Lua: `revision(v)`, {@link isRevision} (`tonumber` is exact to 2^53 and rounds monotonically past it). */
const REVISION_VALUE = `
local function revision(v)
  return v == '0' or (string.match(v, '^[1-9]%d*$') ~= nil and #v <= ${String(MAX_REVISION).length} and tonumber(v) <= ${MAX_REVISION})
end
`;

/**
 * revoke: the first revocation of a serial wins (HSETNX); a later one rewrites the entry as `<its ms>:<ARGV[4]>` (the
 * reason changed, the revocationDate kept: core's upgradesRevocationReason) when its reason ARGV[4] is keyCompromise
 * and the entry's is one of ARGV[3] (space-separated: core's KEY_COMPROMISE_UPGRADABLE_REASONS; CA/B BR §4.9.1.1), or
 * the entry is on certificateHold and ARGV[4] is any other reason (a hold made permanent, RFC 5280 §5.3.1; nothing
 * puts an entry back on hold). Only a created or an
 * upgraded entry moves the revision counter on, in the same atomic step (a GetCRL between the two could otherwise
 * cache a CRL under a revision that never changes again). The counter starts at Redis's own clock in µs
 * ({@link REDIS_MICROS}) when it does not exist: a flushed Redis starts it above every value it had before, whichever
 * replica writes first and whatever its own clock says.
 * KEYS[1] the revocations hash, KEYS[2] the revision counter; ARGV[1] serial, ARGV[2] `<ms>:<reason>`, ARGV[3] upgradable
 * reasons, ARGV[4] the requested reason.
 * Checked before the first write: a revision counter that is not {@link isRevision}'s, or is its largest, is `CORRUPT`
 * (corrupt.ts): INCR would fail after the entry was written ("not an integer", "would overflow"), and the new
 * revocation would never move the revision on (a CA would keep serving the CRL cached without it; the retry answers
 * "unchanged"). An entry is `<ms>:<reason>` with the ms by record.ts `isMs` (the Lua `ms()`), as
 * `RedisRevocationStore` decodes it: ARGV[2] that is not one is an error, an existing entry that is not one is never
 * upgraded (answered unchanged: the store then refuses it, having changed nothing).
 * Returns `{code, value}`: code 1 created, 2 upgraded, 0 unchanged; value the entry as stored after the call.
 */
export const REVOKE = script(
  "revoke",
  `${REDIS_MICROS}${MS}${REVISION_VALUE}
local function entry(v)
  local at, reason = string.match(v, '^(%-?%d+):(%a+)$')
  if at and ms(at) then return at, reason end
  return nil
end
if not entry(ARGV[2]) then return redis.error_reply('ERR revoke: argument 2 is not <ms>:<reason>') end
local counter = redis.call('GET', KEYS[2])
if counter and not revision(counter) then return redis.error_reply('CORRUPT ${REVISION_PROBLEM}') end
if counter == '${MAX_REVISION}' then return redis.error_reply('CORRUPT revocation revision counter (at its largest, 2^53 - 1: a revocation cannot move it on)') end
local created = redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2])
if created == 0 then
  local value = redis.call('HGET', KEYS[1], ARGV[1])
  local at, reason = entry(value)
  if not at then return {0, value} end
  local held = reason == 'certificateHold' and ARGV[4] ~= 'certificateHold'
  local compromised = ARGV[4] == 'keyCompromise' and reason and string.find(' ' .. ARGV[3] .. ' ', ' ' .. reason .. ' ', 1, true)
  if not held and not compromised then
    return {0, value}
  end
  value = at .. ':' .. ARGV[4]
  redis.call('HSET', KEYS[1], ARGV[1], value)
  startRevision(KEYS[2])
  redis.call('INCR', KEYS[2])
  return {2, value}
end
startRevision(KEYS[2])
redis.call('INCR', KEYS[2])
return {1, ARGV[2]}
`,
);

/**
 * revision: the revision counter, started at Redis's own clock in µs ({@link REDIS_MICROS}) when it does not exist
 * yet (a new or flushed store). KEYS[1] the revision counter. Returns the counter as a string.
 */
export const REVISION = script(
  "revision",
  `${REDIS_MICROS}
startRevision(KEYS[1])
return redis.call('GET', KEYS[1])
`,
);

/**
 * next CRL number (RFC 5280 §5.2.3): the counter + 1, or Redis's own clock (`TIME`) in ms × 1000 when the counter does
 * not exist (a new or flushed Redis: above every number handed out before it, whichever replica asks, since every
 * replica reads the one clock; a replica's clock ahead no longer sets a start that a later start goes below), raised
 * to ARGV[1] (the caller's floor, "0" for none) when that is larger. When the result is at most ARGV[2] (the largest
 * CRL number, 2^159 - 1) it is stored as the counter and returned; above it nothing is written and the script returns
 * false (a nil reply: the numbers are used up). All values are non-negative decimal strings, compared and incremented
 * as strings: a CRL number may have up to 20 octets, beyond Lua's doubles (exact to 2^53) and INCR's int64. A counter
 * that is not decimal digits is an error (nothing written). TIME before a write needs effects replication, the only
 * mode since Redis 7 and the default since 5 (the stores need 6). KEYS[1] the counter. Returns the number as a string.
 */
export const NEXT_CRL_NUMBER = script(
  "next-crl-number",
  `${REDIS_MICROS}
local function above(a, b)
  if #a ~= #b then return #a > #b end
  return a > b
end
local function plus1(s)
  local i = #s
  while i > 0 and string.byte(s, i) == 57 do i = i - 1 end
  if i == 0 then return '1' .. string.rep('0', #s) end
  return string.sub(s, 1, i - 1) .. string.char(string.byte(s, i) + 1) .. string.rep('0', #s - i)
end
local n = redis.call('GET', KEYS[1])
if n then
  if not string.match(n, '^%d+$') then return redis.error_reply('CORRUPT CRL number counter (not a number)') end
  n = plus1((string.gsub(n, '^0+(%d)', '%1')))
else
  n = string.sub(redisMicros(), 1, -4) .. '000'
  if string.match(n, '^0+$') then n = '1' end
end
if above(ARGV[1], n) then n = ARGV[1] end
if above(n, ARGV[2]) then return false end
redis.call('SET', KEYS[1], n)
return n
`,
);
