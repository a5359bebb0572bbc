"""Every Lua script of the Redis driver, one documented constant per operation.

Records are strings `"<seq>|<priority>|<attempts>|<holder>|<payload>"`: the signed payload
travels untouched after four header fields, so attempts never rewrite signed bytes.
`seq` comes from the queue's `:seq` counter and is fresh each time a job enters the
pending or delayed set, so it doubles as the reservation token: a worker whose lease
expired holds a member that no longer exists, and its ZREM/ZADD XX simply fail.

The pending set is a zset scored by -priority; members of equal score sort
lexicographically, and `seq` is zero-padded to 15 digits, so ZPOPMIN yields the highest
priority first and the oldest first within a priority.

Every key a script touches is passed in KEYS (all share the queue's `{name}` hash tag);
time is always ARGV from Python's clock, never Redis TIME.
"""
from __future__ import annotations

# Lua pieces the scripts are built from. A script defines only the functions it calls: EVALSHA
# runs the whole text on every call, so each function defined is a closure built per call. Lua
# numbers handed to redis.call are formatted by Redis on every call, so constant arguments are
# string literals ('0', '500', '1').
_SPLIT = """
local function split(rec)
  -- nil for a member without the driver's framing (four '|', a finite priority, whole attempts):
  -- the store may hold anything, and a script that raised here would stop every worker
  local a = string.find(rec, '|', 1, true)
  if not a then return nil end
  local b = string.find(rec, '|', a + 1, true)
  if not b then return nil end
  local c = string.find(rec, '|', b + 1, true)
  if not c then return nil end
  local d = string.find(rec, '|', c + 1, true)
  if not d then return nil end
  local prio = tonumber(string.sub(rec, a + 1, b - 1))
  local n = string.sub(rec, b + 1, c - 1)
  if not prio or prio ~= prio or prio == math.huge or prio == -math.huge then return nil end
  if #n == 0 or #n > 9 or string.find(n, '[^0-9]') then return nil end
  return string.sub(rec, 1, a - 1), prio, tonumber(n), string.sub(rec, d + 1)
end
"""

_RECORD = """
local function record(seq, prio, attempts, holder, payload)
  return seq .. '|' .. prio .. '|' .. attempts .. '|' .. holder .. '|' .. payload
end
local function next_seq(key, n)
  return redis.call('incrby', key, n or 1)
end
local function pad(n)
  return string.format('%015d', n)
end
"""

_FRAMED = _SPLIT + _RECORD + """
local function framed(rec, seqkey)
  -- split(rec), or for an unframed member a fresh frame around it as an opaque payload:
  -- the worker then refuses it (no signature) into failed_jobs instead of the script failing
  local seq, prio, attempts, payload = split(rec)
  if seq then return seq, prio, attempts, payload end
  return pad(next_seq(seqkey)), 0, 0, rec
end
local function reframe(rec, seqkey, holder, add)
  -- `rec` as reserved by `holder` with `add` more attempts: record(framed(rec)) with attempts + add.
  -- The driver's own members (whole attempts, a whole priority written as Lua prints it) take a
  -- short cut that copies the seq and priority text; it gives the same bytes the long way gives.
  local at, p, n, body = string.match(rec, '^[^|]*|()(%-?%d+)|(%d+)|[^|]*|()')
  if at and #n <= 9 and #p <= 14 and not string.find(p, '^%-?0%d') then
    return string.sub(rec, 1, at + #p) .. (n + add) .. '|' .. holder .. '|' .. string.sub(rec, body)
  end
  local seq, prio, attempts, payload = framed(rec, seqkey)
  return record(seq, prio, attempts + add, holder, payload)
end
"""

_MIGRATE = _FRAMED + """
local function migrate(pending, delayed, reserved, notify, seqkey, now)
  local due = redis.call('zrangebyscore', delayed, '-inf', now, 'LIMIT', '0', '500')
  local expired = redis.call('zrangebyscore', reserved, '-inf', now, 'LIMIT', '0', '500')
  if #due + #expired == 0 then return end
  for _, rec in ipairs(due) do
    local _, prio = split(rec)
    redis.call('zrem', delayed, rec)
    if prio then
      redis.call('zadd', pending, -prio, rec)
    else
      redis.call('zadd', pending, 0, record(pad(next_seq(seqkey)), 0, 0, '', rec))
    end
  end
  for _, rec in ipairs(expired) do
    local _, prio, attempts, payload = framed(rec, seqkey)
    redis.call('zrem', reserved, rec)
    redis.call('zadd', pending, -prio, record(pad(next_seq(seqkey)), prio, attempts, '', payload))
  end
  for _ = 1, #due + #expired do redis.call('rpush', notify, '1') end
end
"""

_SYNC_NOTIFY = """
local function sync_notify(pending, notify)
  -- keep one wake-up token per ready job: trim extras, top up a short list (bounded)
  local ready = redis.call('zcard', pending)
  local tokens = redis.call('llen', notify)
  if tokens > ready then
    if ready == 0 then redis.call('del', notify) else redis.call('ltrim', notify, '0', ready - 1) end
  elseif tokens < ready then
    for _ = 1, math.min(ready - tokens, 16) do redis.call('rpush', notify, '1') end
  end
end
"""

_DONE = """
local function signature(rec)
  -- the hex HMAC a signed payload ends with (records end with their payload), or nil
  if string.sub(rec, -2) ~= '"}' or string.sub(rec, -80, -67) ~= ',"signature":"' then return nil end
  return string.sub(rec, -66, -3)
end
local function seen(done, rec, now)
  -- 1 when this exact signed payload completed and its done marker is still live (replay guard)
  local sig = signature(rec)
  if not sig then return 0 end
  local until_ = redis.call('zscore', done, sig)
  if until_ and tonumber(until_) > tonumber(now) then return 1 end
  return 0
end
local function mark_done(done, rec, now, until_, refresh)
  -- note a completed payload's signature until `until_` (QUEUE_STATUS_TTL). With `refresh` (seconds,
  -- '' = not this time) also drop expired markers and make the set outlive `until_` + `refresh`.
  -- The writer (RedisQueue.done_refresh) asks for it before it notes a marker living past that, so
  -- the set never expires under a live marker, and most acks cost two calls fewer
  if until_ == '' then return end
  local sig = signature(rec)
  if sig then redis.call('zadd', done, until_, sig) end
  if refresh == '' then return end
  redis.call('zremrangebyscore', done, '-inf', now)
  redis.call('expire', done, math.max(1, math.ceil(tonumber(until_) - tonumber(now) + tonumber(refresh)) + 1))
end
"""

_RESERVE = _SYNC_NOTIFY + """
local function reserve(pending, reserved, notify, expiry, holder, seqkey)
  local popped = redis.call('zpopmin', pending)
  if popped[1] == nil then return false end
  local rec = reframe(popped[1], seqkey, holder, 1)
  redis.call('zadd', reserved, expiry, rec)
  sync_notify(pending, notify)
  return rec
end
"""

_NEXT_WAKE = """
local function next_wake(delayed, reserved)
  -- the earliest time a delayed job becomes due or a lease expires (for the blocking wait)
  local d = redis.call('zrange', delayed, '0', '0', 'WITHSCORES')
  local r = redis.call('zrange', reserved, '0', '0', 'WITHSCORES')
  local t = false
  if d[2] then t = tonumber(d[2]) end
  if r[2] and (not t or tonumber(r[2]) < t) then t = tonumber(r[2]) end
  if t then return tostring(t) end
  return false
end
"""

_CLAIM = _MIGRATE + _DONE + _RESERVE + _NEXT_WAKE  # what POP and DELETE_AND_POP use

PUSH = _RECORD + """
-- Push jobs (one or many, at most ~1,000 per call) to a queue, with one ZADD per set.
-- KEYS[1] pending zset, KEYS[2] delayed zset, KEYS[3] notify list, KEYS[4] seq counter
-- ARGV[1] now (unix seconds); then triples: available_at (0 = now), priority, payload
-- The per-job loop is the hot part of a bulk dispatch: one string.format builds the whole
-- record (the layout `record(pad(seq), prio, 0, '', payload)` gives) and counters replace #t.
local n = (#ARGV - 1) / 3
local first = next_seq(KEYS[4], n) - n
local now = tonumber(ARGV[1])
local ready, later = {}, {}
local nr, nl = 0, 0
for i = 1, n do
  local j = i * 3
  local at, prio = tonumber(ARGV[j - 1]), ARGV[j]
  local rec = string.format('%015d|%s|0||%s', first + i, prio, ARGV[j + 1])
  if at > now then
    later[nl + 1], later[nl + 2] = at, rec
    nl = nl + 2
  else
    ready[nr + 1], ready[nr + 2] = -tonumber(prio), rec
    nr = nr + 2
  end
end
if nl > 0 then redis.call('zadd', KEYS[2], unpack(later)) end
if nr > 0 then
  redis.call('zadd', KEYS[1], unpack(ready))
  local tokens = {}
  for i = 1, nr / 2 do tokens[i] = 1 end
  redis.call('rpush', KEYS[3], unpack(tokens))
end
return n
"""

DISPATCH = """
-- Store one dispatched job and everything its dispatch writes, atomically: one round trip.
-- Every single dispatch runs this and waits for it, so it defines no helper, the caller hands in
-- the zset, score and token decision, and an argument that is absent is not sent at all.
-- The record layout is PUSH's string.format.
-- KEYS[1] the zset the job goes to (pending, or delayed when it is due later), KEYS[2] seq counter,
-- KEYS[3] notify list, then the status key when there is a status, then the unique lock key when there is a lock
-- ARGV[1] the job's score in KEYS[1] (-priority in pending, available_at in delayed), ARGV[2] priority,
-- ARGV[3] payload, ARGV[4] '1' when the job is ready now (push a wake-up token), '' when delayed;
-- then, with a status: its value "<expiry>|<json>" and server TTL in ms ('' = none);
-- then, with a lock: its value "<expires_at_ms>|<owner>", now (unix ms) and its PX (ms, 0 = none).
-- So #ARGV says what comes: 4 neither, 6 a status, 7 a lock, 9 both.
-- Returns 1 when stored, 0 when another live owner holds the lock (then nothing is written).
local na = #ARGV
if na >= 7 then  -- Cache/RedisLocks ACQUIRE; an unreadable expiry counts as expired
  local lock, a = KEYS[#KEYS], na - 2
  local current = redis.call('get', lock)
  local sep = current and string.find(current, '|', 1, true)
  if sep and (tonumber(string.sub(current, 1, sep - 1)) or 0) > tonumber(ARGV[a + 1]) then return 0 end
  if tonumber(ARGV[a + 2]) > 0 then redis.call('set', lock, ARGV[a], 'PX', ARGV[a + 2]) else redis.call('set', lock, ARGV[a]) end
end
if na == 6 or na == 9 then
  if ARGV[6] == '' then redis.call('set', KEYS[4], ARGV[5]) else redis.call('set', KEYS[4], ARGV[5], 'PX', ARGV[6]) end
end
redis.call('zadd', KEYS[1], ARGV[1], string.format('%015d|%s|0||%s', redis.call('incr', KEYS[2]), ARGV[2], ARGV[3]))
if ARGV[4] ~= '' then redis.call('rpush', KEYS[3], '1') end
return 1
"""

POP = _CLAIM + """
-- Migrate due delayed and expired reserved jobs, then reserve the next job.
-- KEYS[1] pending zset, KEYS[2] delayed zset, KEYS[3] reserved zset, KEYS[4] notify list, KEYS[5] seq counter,
-- KEYS[6] done zset (signatures of completed payloads, scored by when the marker expires)
-- ARGV[1] now (unix seconds), ARGV[2] lease expiry (unix seconds), ARGV[3] holder (worker id)
-- Returns {reserved record, 1 when that payload already completed} or {false, next wake-up time or false}
migrate(KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], ARGV[1])
local rec = reserve(KEYS[1], KEYS[3], KEYS[4], ARGV[2], ARGV[3], KEYS[5])
if rec then return {rec, seen(KEYS[6], rec, ARGV[1])} end
return {false, next_wake(KEYS[2], KEYS[3])}
"""

DELETE_AND_POP = _CLAIM + """
-- Delete a finished reservation (only if still ours), note its payload as done, then reserve
-- the next job of the same queue: the replay guard's write and read ride on the ack and the claim.
-- KEYS[1] pending zset, KEYS[2] delayed zset, KEYS[3] reserved zset, KEYS[4] notify list, KEYS[5] seq counter,
-- KEYS[6] done zset
-- ARGV[1] now, ARGV[2] lease expiry, ARGV[3] holder, ARGV[4] the finished reserved record,
-- ARGV[5] its done marker's expiry ('' = it did not complete: no marker), ARGV[6] mark_done's refresh
-- Returns {1 or 0 (deleted), reserved record, 1 when it already completed} or {1 or 0, false, next wake-up time or false}
local deleted = redis.call('zrem', KEYS[3], ARGV[4])
mark_done(KEYS[6], ARGV[4], ARGV[1], ARGV[5], ARGV[6])
migrate(KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], ARGV[1])
local rec = reserve(KEYS[1], KEYS[3], KEYS[4], ARGV[2], ARGV[3], KEYS[5])
if rec then return {deleted, rec, seen(KEYS[6], rec, ARGV[1])} end
return {deleted, false, next_wake(KEYS[2], KEYS[3])}
"""

POP_MANY = _MIGRATE + _SYNC_NOTIFY + _DONE + _NEXT_WAKE + """
-- Batch mode: migrate due delayed and expired reserved jobs, then reserve up to ARGV[4] jobs
-- in one round trip. Their attempts are NOT counted here (unless ARGV[5] is '1'): BEGIN counts each
-- one as it starts, so jobs a dead worker held but never started come back with attempts untouched.
-- A caller that starts every job it claims at once passes ARGV[5] = '1': the claim counts them, no
-- BEGIN follows, and an ack sent later on another connection cannot overtake a BEGIN still in flight.
-- Also hands the holder the count of its BEGINs that found a reservation gone (BEGIN gets no reply).
-- KEYS[1] pending zset, KEYS[2] delayed zset, KEYS[3] reserved zset, KEYS[4] notify list, KEYS[5] seq counter,
-- KEYS[6] lost hash ("<holder>|start" / "<holder>|ack" -> count), KEYS[7] done zset
-- ARGV[1] now, ARGV[2] lease expiry, ARGV[3] holder, ARGV[4] how many at most, ARGV[5] '1' to count their attempts now
-- Returns {lost starts, lost acks, flags, reserved records...} where flags has one character per
-- record, '1' when that payload already completed (replay guard), else '0';
-- or {lost starts, lost acks, false, next wake-up time or false}
local lost = redis.call('hmget', KEYS[6], ARGV[3] .. '|start', ARGV[3] .. '|ack')
if lost[1] or lost[2] then redis.call('hdel', KEYS[6], ARGV[3] .. '|start', ARGV[3] .. '|ack') end
local out = {tonumber(lost[1]) or 0, tonumber(lost[2]) or 0}
migrate(KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], ARGV[1])
local popped = redis.call('zpopmin', KEYS[1], ARGV[4])
if popped[1] == nil then
  out[3] = false
  out[4] = next_wake(KEYS[2], KEYS[3])
  return out
end
local scored, flags = {}, {}
local started = (ARGV[5] == '1') and 1 or 0
out[3] = ''
for i = 1, #popped, 2 do
  local rec = reframe(popped[i], KEYS[5], ARGV[3], started)
  out[#out + 1] = rec
  flags[#flags + 1] = seen(KEYS[7], rec, ARGV[1])
  scored[#scored + 1] = ARGV[2]
  scored[#scored + 1] = rec
end
out[3] = table.concat(flags)
redis.call('zadd', KEYS[3], unpack(scored))
sync_notify(KEYS[1], KEYS[4])
return out
"""

BEGIN = _DONE + """
-- Batch mode: as a prefetched job starts, count its attempt and renew its lease, and ack the
-- job that finished just before it; one call that the worker sends without waiting for a reply.
-- KEYS[1] reserved zset, KEYS[2] lost hash (see POP_MANY), KEYS[3] done zset
-- ARGV[1] the record as reserved, ARGV[2] new lease expiry, ARGV[3] finished record to delete ('' for none),
-- ARGV[4] holder, ARGV[5] now, ARGV[6] the finished record's done marker expiry ('' = none),
-- ARGV[7] mark_done's refresh
-- The started record is ARGV[1] with its attempts field plus one (the worker builds the same string).
if ARGV[3] ~= '' then
  if redis.call('zrem', KEYS[1], ARGV[3]) == 0 then redis.call('hincrby', KEYS[2], ARGV[4] .. '|ack', '1') end
  mark_done(KEYS[3], ARGV[3], ARGV[5], ARGV[6], ARGV[7])
end
if redis.call('zrem', KEYS[1], ARGV[1]) == 0 then
  redis.call('hincrby', KEYS[2], ARGV[4] .. '|start', '1')
  return 0
end
local rec = ARGV[1]
local a = string.find(rec, '|', 1, true)
local b = string.find(rec, '|', a + 1, true)
local c = string.find(rec, '|', b + 1, true)
local started = string.sub(rec, 1, b) .. string.format('%d', tonumber(string.sub(rec, b + 1, c - 1)) + 1) .. string.sub(rec, c)
redis.call('zadd', KEYS[1], ARGV[2], started)
return 1
"""

RELEASE = _FRAMED + """
-- Put a reserved job back (only if still ours), pending now or delayed until ARGV[2].
-- KEYS[1] pending zset, KEYS[2] delayed zset, KEYS[3] reserved zset, KEYS[4] notify list, KEYS[5] seq counter
-- ARGV[1] now, ARGV[2] available_at, ARGV[3] the reserved record, ARGV[4] 1 to un-count this attempt
-- Returns 1 when released, 0 when the reservation was lost
if redis.call('zrem', KEYS[3], ARGV[3]) == 0 then return 0 end
local _, prio, attempts, payload = framed(ARGV[3], KEYS[5])
if ARGV[4] == '1' then attempts = math.max(attempts - 1, 0) end
local rec = record(pad(next_seq(KEYS[5])), prio, attempts, '', payload)
if tonumber(ARGV[2]) > tonumber(ARGV[1]) then
  redis.call('zadd', KEYS[2], ARGV[2], rec)
else
  redis.call('zadd', KEYS[1], -prio, rec)
  redis.call('rpush', KEYS[4], 1)
end
return 1
"""

ACK = _DONE + """
-- Delete a finished reservation (only if still ours) and, when it completed, note its payload as done.
-- KEYS[1] reserved zset, KEYS[2] done zset
-- ARGV[1] the reserved record, ARGV[2] now, ARGV[3] done marker expiry ('' = no marker: failed, refused),
-- ARGV[4] mark_done's refresh
-- Returns 1 when deleted, 0 when the reservation was lost
local deleted = redis.call('zrem', KEYS[1], ARGV[1])
mark_done(KEYS[2], ARGV[1], ARGV[2], ARGV[3], ARGV[4])
return deleted
"""

RENEW = """
-- Extend a lease, only while the reservation is still ours.
-- KEYS[1] reserved zset
-- ARGV[1] new lease expiry (unix seconds), ARGV[2] the reserved record
-- Returns 1 when renewed, 0 when the reservation was lost
if redis.call('zscore', KEYS[1], ARGV[2]) then
  redis.call('zadd', KEYS[1], ARGV[1], ARGV[2])
  return 1
end
return 0
"""

SIZE = """
-- Count one queue's jobs: ready now, delayed (not yet due), reserved (lease live).
-- KEYS[1] pending zset, KEYS[2] delayed zset, KEYS[3] reserved zset
-- ARGV[1] now (unix seconds)
-- Due delayed jobs and expired leases count as pending: the next pop makes them so.
local due = redis.call('zcount', KEYS[2], '-inf', ARGV[1])
local expired = redis.call('zcount', KEYS[3], '-inf', ARGV[1])
local pending = redis.call('zcard', KEYS[1]) + due + expired
local delayed = redis.call('zcard', KEYS[2]) - due
local reserved = redis.call('zcard', KEYS[3]) - expired
return {pending, delayed, reserved}
"""

CLEAR = """
-- Delete every job of a queue; returns how many there were.
-- KEYS[1] pending zset, KEYS[2] delayed zset, KEYS[3] reserved zset, KEYS[4] notify list, KEYS[5] lost hash
local n = redis.call('zcard', KEYS[1]) + redis.call('zcard', KEYS[2]) + redis.call('zcard', KEYS[3])
redis.call('del', KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5])
return n
"""

CLEAR_RECORDS = """
-- Delete every job of a queue; returns their records (queue:clear marks each job cancelled).
-- KEYS[1] pending zset, KEYS[2] delayed zset, KEYS[3] reserved zset, KEYS[4] notify list, KEYS[5] lost hash
local out = {}
for i = 1, 3 do
  for _, r in ipairs(redis.call('zrange', KEYS[i], 0, -1)) do out[#out + 1] = r end
end
redis.call('del', KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5])
return out
"""

# -- cache store ------------------------------------------------------------------------------
# Cache values are "<expiry>|<json>" with the expiry in Python's unix seconds ("" = forever), so
# expiry follows the one clock (freezegun); the server TTL (PX) only garbage-collects.

CACHE_ADD = """
-- Write a value only if the key is absent or expired.
-- KEYS[1] cache key
-- ARGV[1] now (unix seconds), ARGV[2] stored value "<expiry>|<json>", ARGV[3] server TTL in ms ("" = none)
-- Returns 1 when written, 0 when a live value exists
local cur = redis.call('get', KEYS[1])
local bar = cur and string.find(cur, '|', 1, true)
if bar then  -- a value without the "<expiry>|" frame counts as expired
  local exp = string.sub(cur, 1, bar - 1)
  if exp == '' or (tonumber(exp) or 0) > tonumber(ARGV[1]) then return 0 end
end
if ARGV[3] == '' then redis.call('set', KEYS[1], ARGV[2]) else redis.call('set', KEYS[1], ARGV[2], 'PX', ARGV[3]) end
return 1
"""

CACHE_PUT_MANY = """
-- Write several cache values in one call (bulk status records).
-- KEYS the cache keys
-- ARGV pairs per key: stored value "<expiry>|<json>", server TTL in ms ("" = none)
for i, key in ipairs(KEYS) do
  local px = ARGV[i * 2]
  if px == '' then redis.call('set', key, ARGV[i * 2 - 1]) else redis.call('set', key, ARGV[i * 2 - 1], 'PX', px) end
end
return #KEYS
"""

CACHE_PUT_ALL = """
-- Write one cache value under many keys (the pending statuses of a bulk dispatch): per key
-- only the key travels, so a bulk pays one SET per job and no per-job arguments.
-- KEYS the cache keys
-- ARGV[1] stored value "<expiry>|<json>", ARGV[2] server TTL in ms ("" = none)
local value, px = ARGV[1], ARGV[2]
if px == '' then
  for i = 1, #KEYS do redis.call('set', KEYS[i], value) end
else
  for i = 1, #KEYS do redis.call('set', KEYS[i], value, 'PX', px) end
end
return #KEYS
"""

CACHE_INCREMENT = """
-- Add to a counter; an absent or expired counter starts from zero with a new expiry.
-- KEYS[1] cache key
-- ARGV[1] now (unix seconds), ARGV[2] amount, ARGV[3] expiry for a new counter ("" = forever),
-- ARGV[4] server TTL in ms for a new counter ("" = none)
-- Returns the new value
local cur = redis.call('get', KEYS[1])
local bar = cur and string.find(cur, '|', 1, true)
if bar and tonumber(string.sub(cur, bar + 1)) then  -- an unframed or non-numeric value starts afresh
  local exp = string.sub(cur, 1, bar - 1)
  if exp == '' or (tonumber(exp) or 0) > tonumber(ARGV[1]) then
    local value = tonumber(string.sub(cur, bar + 1)) + tonumber(ARGV[2])
    redis.call('set', KEYS[1], exp .. '|' .. string.format('%d', value), 'KEEPTTL')
    return value
  end
end
local value = tonumber(ARGV[2])
local stored = ARGV[3] .. '|' .. string.format('%d', value)
if ARGV[4] == '' then redis.call('set', KEYS[1], stored) else redis.call('set', KEYS[1], stored, 'PX', ARGV[4]) end
return value
"""

# -- audit trail ------------------------------------------------------------------------------

AUDIT_APPEND = """
-- Append a batch of audit entries to the capped stream in one call: one argument per entry
-- instead of one XADD command each (a bulk dispatch writes one entry per job). The cap is applied
-- once, after the batch (XTRIM MAXLEN ~): the script is atomic, so nobody sees the stream longer,
-- and a MAXLEN on each XADD cost ~2,500 server instructions per entry (callgrind).
-- KEYS[1] the stream
-- ARGV[1] approximate length cap (MAXLEN ~), then one JSON entry per argument
for i = 2, #ARGV do redis.call('xadd', KEYS[1], '*', 'e', ARGV[i]) end
redis.call('xtrim', KEYS[1], 'MAXLEN', '~', ARGV[1])
return #ARGV - 1
"""

# -- failed jobs (when no database is configured) ---------------------------------------------

FAILED_LOG = """
-- Record a failed job once per uuid (a repeated failure replaces the record under a new id, so a
-- retry that read the old record cannot delete the new one: see FAILED_FORGET_RECORD).
-- KEYS[1] records hash (uuid -> json), KEYS[2] order zset (uuid scored by id), KEYS[3] id counter
-- ARGV[1] uuid, ARGV[2] record json
-- Returns the record's id
local id = redis.call('incr', KEYS[3])
redis.call('zadd', KEYS[2], id, ARGV[1])
redis.call('hset', KEYS[1], ARGV[1], ARGV[2])
return id
"""

FAILED_FORGET_RECORD = """
-- Delete one failed-job record only if it still has the id it was read with.
-- KEYS[1] records hash, KEYS[2] order zset
-- ARGV[1] uuid, ARGV[2] id
-- Returns 1 when deleted, 0 when gone or replaced by a newer failure
local id = redis.call('zscore', KEYS[2], ARGV[1])
if not id or tonumber(id) ~= tonumber(ARGV[2]) then
  return 0
end
redis.call('zrem', KEYS[2], ARGV[1])
return redis.call('hdel', KEYS[1], ARGV[1])
"""

FAILED_FORGET = """
-- Delete failed-job records.
-- KEYS[1] records hash, KEYS[2] order zset
-- ARGV uuids
-- Returns how many were deleted
local n = 0
for _, uuid in ipairs(ARGV) do
  n = n + redis.call('hdel', KEYS[1], uuid)
  redis.call('zrem', KEYS[2], uuid)
end
return n
"""

# -- the dashboard's per-tag index ------------------------------------------------------------

TAG_DROP_STALE = """
-- Drop a tag's failed entries whose failed record is gone (forgotten or retried since).
-- KEYS[1] the tag's zset (job uuids), KEYS[2] failed records hash (uuid -> json)
-- Returns how many entries were dropped
local ids = redis.call('zrange', KEYS[1], 0, -1)
local gone = {}
for _, id in ipairs(ids) do
  if redis.call('hexists', KEYS[2], id) == 0 then
    gone[#gone + 1] = id
  end
end
for i = 1, #gone, 500 do
  redis.call('zrem', KEYS[1], unpack(gone, i, math.min(i + 499, #gone)))
end
return #gone
"""
