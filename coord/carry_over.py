"""Carry an older namespace's data into the current one (coord.namespace says which).

Why: before namespaces were derived from the project, they were derived from the folder's path,
and a repository with no commit yet has a provisional namespace. Upgrading, or making the first
commit, must not orphan a pending message, a presence record or a claim.

How: one pipeline reads every key of the old namespace (coord.keys names them all; no SCAN, so it
works on Cluster too), then ONE Lua script in the new namespace's slot merges them and records the
old namespace in `carried`, atomically: two processes carrying at once, or a crash half way, can
neither lose nor duplicate anything (the script does nothing when the old namespace is already
recorded). Nothing is deleted from the old namespace (the way back).

Merge rules, for a new namespace that already holds data (another clone got there first):
a role's presence record and liveness key are taken only when the new namespace has no record for
that role; claims and conflict cache entries only when absent; inbox entries keep their ids when the
stream accepts them (else get fresh ones) and stay pending when they were pending.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from coord.keys import Keys
from coord.lua import Script
from coord.resp import Arg, Connection, items, pairs

# KEYS: carried, presence, claims, conflicts, warned, events, then per role: alive, inbox, pending, seen
# ARGV: old namespace, JSON {shared: {...}, roles: [{role, alive, pttl, inbox, pending, seen}...]}
# -> {'done'} (already carried) | {'ok', entries carried}
CARRY = Script(
    "carry_over",
    r"""
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 1 then return {'done'} end
local data = cjson.decode(ARGV[2])
local s = data.shared
local taken = {}
for i = 1, #s.presence, 2 do
  if redis.call('HSETNX', KEYS[2], s.presence[i], s.presence[i + 1]) == 1 then taken[s.presence[i]] = true end
end
for i = 1, #s.claims, 2 do redis.call('HSETNX', KEYS[3], s.claims[i], s.claims[i + 1]) end
for i = 1, #s.conflicts, 2 do redis.call('HSETNX', KEYS[4], s.conflicts[i], s.conflicts[i + 1]) end
for i = 1, #s.warned do redis.call('SADD', KEYS[5], s.warned[i]) end
for i = 1, #s.events do redis.call('XADD', KEYS[6], '*', unpack(s.events[i][2])) end
local moved = 0
for r = 1, #data.roles do
  local d = data.roles[r]
  local base = 6 + (r - 1) * 4
  if taken[d.role] and d.alive ~= cjson.null and d.pttl > 0 then
    redis.call('SET', KEYS[base + 1], d.alive, 'PX', d.pttl, 'NX')
  end
  local pending = {}
  for i = 1, #d.pending, 2 do pending[d.pending[i]] = d.pending[i + 1] end
  local same = true
  for i = 1, #d.inbox do
    local id, fields = d.inbox[i][1], d.inbox[i][2]
    local new = redis.pcall('XADD', KEYS[base + 2], id, unpack(fields))
    if type(new) == 'table' and new.err then
      new = redis.call('XADD', KEYS[base + 2], '*', unpack(fields))
      same = false
    end
    if pending[id] then redis.call('HSET', KEYS[base + 3], new, pending[id]) end
    moved = moved + 1
  end
  if same and d.seen ~= cjson.null then redis.call('SET', KEYS[base + 4], d.seen, 'NX') end
end
redis.call('SADD', KEYS[1], ARGV[1])
return {'ok', moved}
""",
)


def _rows(reply: object) -> list[list[object]]:
    """XRANGE rows as [id, [field, value...]] lists (JSON-ready)."""
    return [[str(row[0]), [str(x) for x in items(row[1])]] for row in (items(r) for r in items(reply))]


def carry_over(conn: Connection, old_namespace: str, new_namespace: str, roles: Sequence[str]) -> int | None:
    """Merge old_namespace's data into new_namespace. Returns how many inbox entries moved, or None
    when it had been carried before. Unreachable server: StoreUnavailableError (try again later)."""
    old, new = Keys(old_namespace), Keys(new_namespace)
    if old.namespace == new.namespace:
        return None
    if conn.pipeline([["SISMEMBER", new.carried, old.namespace]])[0] == 1:
        return None
    known = conn.pipeline([["HKEYS", old.presence]])[0]
    everyone = list(dict.fromkeys([*roles, *(str(r) for r in items(known))]))
    commands: list[list[Arg]] = [
        ["HGETALL", old.presence], ["HGETALL", old.claims], ["HGETALL", old.conflicts],
        ["SMEMBERS", old.warned], ["XRANGE", old.events, "-", "+"],
    ]
    for role in everyone:
        alive, inbox, pending, seen = old.per_role(role)
        commands += [["GET", alive], ["PTTL", alive], ["XRANGE", inbox, "-", "+"], ["HGETALL", pending], ["GET", seen]]
    replies = conn.pipeline(commands)
    for reply in replies:
        if isinstance(reply, Exception):
            raise reply
    flat = [[str(x) for x in items(r)] for r in replies[:4]]
    data: dict[str, object] = {
        "shared": {"presence": flat[0], "claims": flat[1], "conflicts": flat[2], "warned": flat[3],
                   "events": _rows(replies[4])},
        "roles": [],
    }
    keys = [new.carried, *new.shared()]
    rows: list[dict[str, object]] = []
    data["roles"] = rows
    for i, role in enumerate(everyone):
        got_alive, pttl, got_inbox, got_pending, got_seen = replies[5 + i * 5: 10 + i * 5]
        if got_alive is None and not got_inbox and not got_pending and got_seen is None:
            continue
        rows.append({
            "role": role, "alive": got_alive, "pttl": int(str(pttl)),
            "inbox": _rows(got_inbox), "pending": [str(x) for kv in pairs(items(got_pending)).items() for x in kv],
            "seen": got_seen,
        })
        keys += list(new.per_role(role))
    reply = CARRY.run(conn, keys, [old.namespace, json.dumps(data)])
    state = items(reply)
    return None if state[0] == "done" else int(str(state[1]))
