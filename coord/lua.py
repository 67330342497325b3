"""A Lua script run on Redis (Script: its source and SHA1, EVALSHA first, EVAL when the server has
not seen it) and the prelude of Lua helpers every coord script shares: the time that decides, the
presence record's encoding, the staleness rule, sorted stream ids, the "seen" cursor. Split from
coord.scripts (the store's scripts); claims, radar, the feed and the merge notifier add their own
scripts on it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from coord.resp import Arg, Connection, RespError


class Script:
    """A Lua source and its SHA1; run() tries EVALSHA first so the body crosses the wire once."""

    def __init__(self, name: str, source: str) -> None:
        self.name = name
        self.source = _PRELUDE + source
        self.sha = hashlib.sha1(self.source.encode("utf-8")).hexdigest()

    def run(self, conn: Connection, keys: Sequence[str], args: Sequence[Arg]) -> object:
        """One round trip normally; two the first time a server sees the script."""
        reply = conn.pipeline([["EVALSHA", self.sha, len(keys), *keys, *args]])[0]
        if isinstance(reply, RespError) and reply.kind == "NOSCRIPT":
            reply = conn.pipeline([["EVAL", self.source, len(keys), *keys, *args]])[0]
        if isinstance(reply, RespError):
            raise reply
        return reply

    def run_then(
        self, conn: Connection, keys: Sequence[str], args: Sequence[Arg], then: Sequence[Arg]
    ) -> tuple[object, object]:
        """run() with one more command in the same round trip (WAIT for replicas, coord.store):
        (the script's reply, that command's reply)."""
        first, after = conn.pipeline([["EVALSHA", self.sha, len(keys), *keys, *args], then])
        if isinstance(first, RespError) and first.kind == "NOSCRIPT":
            first, after = conn.pipeline([["EVAL", self.source, len(keys), *keys, *args], then])
        if isinstance(first, RespError):
            raise first
        return first, after


# Helpers shared by every script. Times are doubles (Unix seconds); they are written with
# %.17g so a value read back in Python is bit-for-bit the double Lua compared.
_PRELUDE = r"""
local function num(x) return string.format('%.17g', x) end
-- The time that decides: the server's (TIME; scripts are effect-replicated, the default since
-- Redis 5 and the only mode in Redis/Valkey 7+, so replicas get the written values, not TIME).
-- A non-empty argument is a clock injected by tests (coord.store.Store(clock=...)).
local function now_of(arg)
  if arg == nil or arg == '' then
    local t = redis.call('TIME')
    return tonumber(t[1]) + tonumber(t[2]) / 1000000
  end
  return tonumber(arg)
end
local function enc_record(r)
  return '{"role":' .. cjson.encode(r.role) ..
    ',"session_id":' .. cjson.encode(r.session_id) ..
    ',"worktree_path":' .. cjson.encode(r.worktree_path) ..
    ',"registered_at":' .. num(r.registered_at) ..
    ',"last_heartbeat":' .. num(r.last_heartbeat) ..
    ',"status":' .. cjson.encode(r.status) ..
    ',"host":' .. cjson.encode(r.host or '') ..
    ',"activity":' .. cjson.encode(r.activity or '') ..
    ',"activity_since":' .. num(tonumber(r.activity_since) or 0) ..
    ',"activity_event":' .. cjson.encode(r.activity_event or '') .. '}'
end
-- What the agent is doing (coord.presence.Activity); the time moves only when the activity changes.
local function set_activity(r, activity, event, now)
  if r.activity ~= activity then r.activity_since = now end
  r.activity = activity
  r.activity_event = event
end
-- Mirrors coord.presence.is_stale: the boundary itself is stale.
local function stale(last, now, stale_seconds) return (now - last) >= stale_seconds end
-- A holder is live when its record is active, not stale, and its alive key still exists.
local function live(rec, alive, now, stale_seconds)
  return rec.status == 'active' and (not stale(rec.last_heartbeat, now, stale_seconds)) and alive ~= false
end
local function split_id(id)
  local ms, seq = string.match(id, '^(%d+)-(%d+)$')
  return tonumber(ms) or 0, tonumber(seq) or 0
end
-- Stream ids sorted oldest first, keeping only those after `after` (an id, or nil for all).
-- Ids are parsed once, not in the comparator: a role with thousands pending stays cheap.
local function sorted_ids(ids, after)
  local am, as = -1, -1
  if after then am, as = split_id(after) end
  local rows = {}
  for i = 1, #ids do
    local ms, seq = split_id(ids[i])
    if ms > am or (ms == am and seq > as) then rows[#rows + 1] = {ms, seq, ids[i]} end
  end
  table.sort(rows, function(a, b)
    if a[1] ~= b[1] then return a[1] < b[1] end
    return a[2] < b[2]
  end)
  return rows
end
-- The message stored under a stream id, as the flat field list, or nil.
local function fetch(stream, id)
  local rows = redis.call('XRANGE', stream, id, id)
  if rows[1] then return rows[1] end
  return nil
end
-- Append the first `limit` readable messages of fresh (ids after the cursor) to out, move the
-- cursor (seen_key) past what was consumed, and return how many of fresh are left unshown.
local function take(out, stream, seen_key, fresh, limit)
  local shown, consumed = 0, 0
  for i = 1, #fresh do
    if shown >= limit then break end
    consumed = i
    local row = fetch(stream, fresh[i][3])
    if row then out[#out + 1] = row; shown = shown + 1 end
  end
  if consumed > 0 then redis.call('SET', seen_key, fresh[consumed][3]) end
  return #fresh - consumed
end
"""
