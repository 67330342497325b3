"""The store's Lua scripts, each registered once and run with EVALSHA (EVAL on NOSCRIPT).

Why Lua: every store call must be ONE round trip whatever the number of agents or messages,
and presence changes must be atomic (check who holds a role and take it in one step).
Every key a script touches is passed in KEYS so that Redis Cluster can route it; all of
them share the repository's hash tag (coord.keys), so they live in one slot.

The staleness rule is decided in coord/presence.py (`is_stale`: age >= stale_seconds is
stale); the Lua prelude (coord.lua) mirrors it with the same comparison on the same doubles, and the
integration tests pin both sides at 299.999 s and 300 s.
"""

from __future__ import annotations

from coord.lua import Script

# KEYS: presence, alive:<role>
# ARGV: role, session_id, worktree_path, now ('' = server time), stale_seconds, ttl_seconds, revive, host
# -> {'ok', 'new'|'same'|'restart'|'takeover', previous_session, previous_age} | {'held', holder, age, holder_host}
#    (restart: the previous session had ended cleanly; takeover: it had gone stale)
REGISTER = Script(
    "register",
    r"""
local role, session, path = ARGV[1], ARGV[2], ARGV[3]
local now, stale_s, ttl = now_of(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local revive = ARGV[7] ~= '0'
local raw = redis.call('HGET', KEYS[1], role)
local alive = redis.call('GET', KEYS[2])
local registered_at = now
local how, prev, prev_age = 'new', '', ''
if raw then
  local rec = cjson.decode(raw)
  if rec.session_id == session and rec.status == 'inactive' and not revive then
    return {'ended'}
  end
  if rec.session_id == session then
    registered_at = rec.registered_at
    how = 'same'
  else
    if live(rec, alive, now, stale_s) then
      return {'held', rec.session_id, num(now - rec.last_heartbeat), rec.host or ''}
    end
    how = rec.status == 'inactive' and 'restart' or 'takeover'
    prev, prev_age = rec.session_id, num(now - rec.last_heartbeat)
  end
end
local rec = {role = role, session_id = session, worktree_path = path,
  registered_at = registered_at, last_heartbeat = now, status = 'active', host = ARGV[8]}
if how == 'same' then
  local old = cjson.decode(raw)
  rec.activity, rec.activity_since, rec.activity_event = old.activity, old.activity_since, old.activity_event
end
if not rec.activity or rec.activity == '' then set_activity(rec, 'idle', 'SessionStart', now) end
redis.call('HSET', KEYS[1], role, enc_record(rec))
redis.call('SET', KEYS[2], session, 'EX', ttl)
return {'ok', how, prev, prev_age}
""",
)

# KEYS: presence, alive:<role>
# ARGV: role, session_id, now ('' = server time), stale_seconds, ttl_seconds, revive ('0': an ended
#       session stays ended)
# -> {'ok', was_stale('1'|'0')} | {'missing'} | {'ended'} | {'held', holder, age, live('1'|'0')}
HEARTBEAT = Script(
    "heartbeat",
    r"""
local role, session = ARGV[1], ARGV[2]
local now, stale_s, ttl = now_of(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local revive = ARGV[6] ~= '0'
local raw = redis.call('HGET', KEYS[1], role)
if not raw then return {'missing'} end
local rec = cjson.decode(raw)
if rec.session_id ~= session then
  local alive = redis.call('GET', KEYS[2])
  local l = live(rec, alive, now, stale_s) and '1' or '0'
  return {'held', rec.session_id, num(now - rec.last_heartbeat), l}
end
if rec.status == 'inactive' and not revive then return {'ended'} end
local was = (rec.status ~= 'active' or stale(rec.last_heartbeat, now, stale_s)) and '1' or '0'
rec.last_heartbeat = now
rec.status = 'active'
redis.call('HSET', KEYS[1], role, enc_record(rec))
redis.call('SET', KEYS[2], session, 'EX', ttl)
return {'ok', was}
""",
)

# KEYS: presence, alive:<role>
# ARGV: role, session_id ('' = forced by a human)
# -> {'ok'} | {'missing'} | {'held', holder}
DEREGISTER = Script(
    "deregister",
    r"""
local role, session = ARGV[1], ARGV[2]
local raw = redis.call('HGET', KEYS[1], role)
if not raw then return {'missing'} end
local rec = cjson.decode(raw)
if session ~= '' and rec.session_id ~= session then return {'held', rec.session_id} end
rec.status = 'inactive'
redis.call('HSET', KEYS[1], role, enc_record(rec))
if session == '' or redis.call('GET', KEYS[2]) == session then redis.call('DEL', KEYS[2]) end
return {'ok'}
""",
)

# KEYS: published:<publish id>, repeat:<digest>, then per recipient: inbox, pending, alive
# ARGV: sender, recipient (role or 'all'), type, body, timestamp ('' = server time), id_ttl, repeat_limit,
#       repeat_window
# -> {'ok'|'dup', waiting ('1'|'0' per recipient: no live session), timestamp stored, id1, id2, ...} in KEYS order
#  | {'loop', count, ms_left}
# Exactly once: a publish id already stored is a resend whose reply was lost: the ids it got are
# returned and nothing is delivered again. Loop guard: identical messages (same sender, recipient,
# type and body: the digest) beyond repeat_limit within repeat_window seconds are refused.
PUBLISH = Script(
    "publish",
    r"""
local waiting = {}
for i = 5, #KEYS, 3 do
  waiting[#waiting + 1] = (redis.call('EXISTS', KEYS[i]) == 1) and '0' or '1'
end
local waits = table.concat(waiting)
local done = redis.call('GET', KEYS[1])
if done then
  local first = cjson.decode(done)
  local out = {'dup', waits, first.ts}
  for _, id in ipairs(first.ids) do out[#out + 1] = id end
  return out
end
local limit, window = tonumber(ARGV[7]), tonumber(ARGV[8])
local count = redis.call('INCR', KEYS[2])
if count == 1 then redis.call('EXPIRE', KEYS[2], window) end
if count > limit then return {'loop', count - 1, redis.call('PTTL', KEYS[2])} end
local ids = {}
local ts = ARGV[5]
if ts == '' then ts = num(now_of('')) end
for i = 3, #KEYS, 3 do
  local id = redis.call('XADD', KEYS[i], '*', 'sender', ARGV[1], 'recipient', ARGV[2],
    'type', ARGV[3], 'body', ARGV[4], 'ts', ts)
  redis.call('HSET', KEYS[i + 1], id, ARGV[3])
  ids[#ids + 1] = id
end
redis.call('SET', KEYS[1], cjson.encode({ts = ts, ids = ids}), 'EX', tonumber(ARGV[6]))
local out = {'ok', waits, ts}
for _, id in ipairs(ids) do out[#out + 1] = id end
return out
""",
)

# KEYS: inbox, pending
# ARGV: limit
# -> {total, {id, fields}...}: the oldest `limit` unacknowledged messages
CHECK = Script(
    "check",
    r"""
local ids = sorted_ids(redis.call('HKEYS', KEYS[2]), nil)
local out = {#ids}
local limit = tonumber(ARGV[1])
for i = 1, #ids do
  if #out > limit then break end
  local row = fetch(KEYS[1], ids[i][3])
  if row then out[#out + 1] = row end
end
return out
""",
)

# KEYS: pending
# ARGV: id...
# -> {1|0 per id}: removed or not pending
ACK = Script(
    "ack",
    r"""
local out = {}
for i = 1, #ARGV do out[i] = redis.call('HDEL', KEYS[1], ARGV[i]) end
return out
""",
)

# KEYS: inbox, pending
# ARGV: recent (how many of the newest to return)
# -> {count, {type, n, type, n...}, {id, fields}...(newest first)}
NOTIFICATIONS = Script(
    "notifications",
    r"""
local flat = redis.call('HGETALL', KEYS[2])
local counts, ids = {}, {}
for i = 1, #flat, 2 do
  ids[#ids + 1] = flat[i]
  counts[flat[i + 1]] = (counts[flat[i + 1]] or 0) + 1
end
local by_type = {}
for t, n in pairs(counts) do by_type[#by_type + 1] = t; by_type[#by_type + 1] = n end
local rows = sorted_ids(ids, nil)
local out = {#ids, by_type}
local recent = tonumber(ARGV[1])
for i = #rows, 1, -1 do
  if #out - 2 >= recent then break end
  local row = fetch(KEYS[1], rows[i][3])
  if row then out[#out + 1] = row end
end
return out
""",
)

# KEYS: presence, alive:<role>, inbox, pending, seen, continued:<role> (optional: a new prompt ends a
#       run of Stop continuations)
# ARGV: role, session_id, worktree_path, now ('' = server time), stale_seconds, ttl_seconds, limit, host
# -> {state, holder, age, pending_count, more, {id, fields}...}
# state: 'active' (heartbeat done), 'claimed' (role was free: registered now), 'held'.
TURN = Script(
    "turn",
    r"""
local role, session, path = ARGV[1], ARGV[2], ARGV[3]
local now, stale_s, ttl, limit = now_of(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local raw = redis.call('HGET', KEYS[1], role)
local alive = redis.call('GET', KEYS[2])
local state, holder, age = 'claimed', '', ''
local rec
if raw then
  local old = cjson.decode(raw)
  if old.session_id == session then
    rec = old
    if old.status == 'active' then state = 'active' end
    if path == '' then path = old.worktree_path end
  elseif live(old, alive, now, stale_s) then
    return {'held', old.session_id, num(now - old.last_heartbeat), redis.call('HLEN', KEYS[4]), 0}
  else
    holder, age = old.session_id, num(now - old.last_heartbeat)
  end
end
if not rec then
  rec = {role = role, session_id = session, worktree_path = path, registered_at = now}
end
rec.worktree_path = path
rec.host = ARGV[8]
rec.last_heartbeat = now
rec.status = 'active'
set_activity(rec, 'working', 'UserPromptSubmit', now)
redis.call('HSET', KEYS[1], role, enc_record(rec))
redis.call('SET', KEYS[2], session, 'EX', ttl)
if KEYS[6] then redis.call('DEL', KEYS[6]) end
local seen = redis.call('GET', KEYS[5]) or '0-0'
local ids = redis.call('HKEYS', KEYS[4])
local fresh = sorted_ids(ids, seen)
local out = {state, holder, age, #ids, 0}
out[5] = take(out, KEYS[3], KEYS[5], fresh, limit)
return out
""",
)

# The team loop's hooks (coord.delivery): PostToolUse / PostToolUseFailure ('tool'), Stop ('stop'),
# Notification ('notify'). Heartbeat and activity for the holding session, and the mail not seen yet
# (the cursor shared with TURN), in one round trip.
# KEYS: presence, alive:<role>, inbox, pending, seen, continued:<role>
# ARGV: role, session_id, now ('' = server time), ttl_seconds, limit, mode, event, stop_active ('1'|'0'),
#       keep_going_max, actionable types (comma-separated), activity for 'notify', heartbeat refresh seconds
# -> {'other'} (not this session's role: nothing done) | {state, pending_count, more, continued, {id, fields}...}
# state: 'show' (tool: the rows are new mail, now seen), 'block' (stop: actionable mail, rows now seen,
# continued counts this continuation), 'pass' (stop or notify: nothing shown; more = unseen count).
LOOP = Script(
    "loop",
    r"""
local role, session = ARGV[1], ARGV[2]
local now, ttl, limit, mode, event = now_of(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5]), ARGV[6], ARGV[7]
local raw = redis.call('HGET', KEYS[1], role)
if not raw then return {'other'} end
local rec = cjson.decode(raw)
if rec.session_id ~= session or rec.status ~= 'active' then return {'other'} end
-- Write only what changed: a tool call of a working agent with nothing new writes nothing (on a
-- server with appendfsync always every write is an fsync, milliseconds per tool call). The
-- heartbeat is refreshed when it is older than ARGV[12] seconds (the MCP server beats as well).
local function save(activity, force)
  local changed = force or rec.activity ~= activity
  if changed then set_activity(rec, activity, event, now) end
  if changed or (now - rec.last_heartbeat) >= tonumber(ARGV[12]) then
    rec.last_heartbeat = now
    redis.call('HSET', KEYS[1], role, enc_record(rec))
    redis.call('SET', KEYS[2], session, 'EX', ttl)
  end
end
local flat = redis.call('HGETALL', KEYS[4])
local types, ids = {}, {}
for i = 1, #flat, 2 do ids[#ids + 1] = flat[i]; types[flat[i]] = flat[i + 1] end
local fresh = sorted_ids(ids, redis.call('GET', KEYS[5]) or '0-0')
local function show(state, count)
  local out = {state, #ids, 0, count}
  out[3] = take(out, KEYS[3], KEYS[5], fresh, limit)
  return out
end
if mode == 'notify' then
  save(ARGV[11], rec.activity_event ~= event)  -- another kind of notification is news to the waker
  return {'pass', #ids, #fresh, 0}
end
if mode == 'tool' then
  save('working')
  return show('show', 0)
end
local count = tonumber(redis.call('GET', KEYS[6]) or '0') or 0
if ARGV[8] ~= '1' then count = 0 end
local wanted = {}
for t in string.gmatch(ARGV[10], '[^,]+') do wanted[t] = true end
local actionable = false
for i = 1, #fresh do
  if wanted[types[fresh[i][3]]] then actionable = true; break end
end
if actionable and count < tonumber(ARGV[9]) then
  redis.call('SET', KEYS[6], count + 1, 'EX', 86400)
  save('working')
  return show('block', count + 1)
end
redis.call('DEL', KEYS[6])
save('idle')
return {'pass', #ids, #fresh, count}
""",
)

ALL: tuple[Script, ...] = (REGISTER, HEARTBEAT, DEREGISTER, PUBLISH, CHECK, ACK, NOTIFICATIONS, TURN, LOOP)
