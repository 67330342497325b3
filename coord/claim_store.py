"""File claims on Redis: read, claim, release. The rules are coord.claims; this is the I/O.

Stdlib-light at import time (the PreToolUse hook imports it on every edit). Reading is ONE
round trip (a pipeline: the claims hash, the presence hash and every role's liveness key), so
the hook answers in about the time of one local Redis call.

Claiming is decided in Python (glob overlap is no job for Lua) and written by a Lua script that
first checks the claims hash is byte-for-byte what was read (a SHA1 over the sorted entries):
if another role claimed in between, nothing is written and the claim is decided again on fresh
data (optimistic concurrency, a few tries). So two roles racing for overlapping paths can never
both win.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from coord.claims import Claim, blocking_claim, check_patterns, check_reason, check_ttl, decide_claim, refusal_line
from coord.errors import ClaimConflictError, CoordError
from coord.identity import validate_role
from coord.lua import Script
from coord.presence import PresenceRecord
from coord.resp import Arg, items, pairs

if TYPE_CHECKING:
    from coord.store import Store

CLAIM_TRIES = 5

# KEYS: claims
# ARGV: expected digest, n_remove, remove..., pattern, json, pattern, json...
# -> {'ok'} | {'changed'}
CLAIM = Script(
    "claim",
    r"""
local flat = redis.call('HGETALL', KEYS[1])
local entries = {}
for i = 1, #flat, 2 do entries[#entries + 1] = {flat[i], flat[i + 1]} end
table.sort(entries, function(x, y) return x[1] < y[1] end)
local parts = {}
for i = 1, #entries do parts[#parts + 1] = entries[i][1]; parts[#parts + 1] = entries[i][2] end
if redis.sha1hex(table.concat(parts, '\0')) ~= ARGV[1] then return {'changed'} end
local n = tonumber(ARGV[2])
for i = 3, 2 + n do redis.call('HDEL', KEYS[1], ARGV[i]) end
for i = 3 + n, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
return {'ok'}
""",
)

# KEYS: claims
# ARGV: role, pattern... (none: every claim of the role)
# -> {released..., '', not_held...}
RELEASE = Script(
    "release",
    r"""
local role = ARGV[1]
local released, missed = {}, {}
local function mine(raw)
  local ok, rec = pcall(cjson.decode, raw)
  return ok and type(rec) == 'table' and rec.role == role
end
if #ARGV == 1 then
  local flat = redis.call('HGETALL', KEYS[1])
  for i = 1, #flat, 2 do
    if mine(flat[i + 1]) then redis.call('HDEL', KEYS[1], flat[i]); released[#released + 1] = flat[i] end
  end
else
  for i = 2, #ARGV do
    local raw = redis.call('HGET', KEYS[1], ARGV[i])
    if raw and mine(raw) then
      redis.call('HDEL', KEYS[1], ARGV[i]); released[#released + 1] = ARGV[i]
    else
      missed[#missed + 1] = ARGV[i]
    end
  end
end
local out = released
out[#out + 1] = ''
for i = 1, #missed do out[#out + 1] = missed[i] end
return out
""",
)

SCRIPTS: tuple[Script, ...] = (CLAIM, RELEASE)


@dataclass(frozen=True)
class ClaimsView:
    """The claims as read in one round trip, with who is live and the digest for a later write."""

    claims: tuple[Claim, ...]
    live_roles: frozenset[str]
    digest: str
    now: float

    def to_dict(self) -> dict[str, object]:
        from coord.claims import claim_status

        return {
            "claims": [
                {**c.to_dict(), "status": claim_status(c, self.live_roles, self.now),
                 "seconds_left": max(0.0, c.expires_at - self.now)}
                for c in self.claims
            ],
            "live_roles": sorted(self.live_roles),
        }


def digest_of(entries: dict[str, object]) -> str:
    """The SHA1 the CLAIM script computes over the hash: fields sorted, field NUL value NUL ..."""
    parts: list[str] = []
    for name in sorted(entries, key=lambda s: str(s).encode("utf-8", "surrogateescape")):
        parts += [str(name), str(entries[name])]
    return hashlib.sha1("\0".join(parts).encode("utf-8", "surrogateescape")).hexdigest()


def presence_commands(store: Store) -> list[list[Arg]]:
    """The two reads that tell who is live; pipelined with whatever else a caller needs."""
    k = store.keys
    return [["HGETALL", k.presence], ["MGET", *(k.alive(r) for r in store.config.roles)]]


def live_roles(store: Store, records_reply: object, alive_reply: object, now: float) -> set[str]:
    """Roles live by coord.store_results.is_live, from the replies to presence_commands."""
    from coord.store_results import _json_loads, is_live

    roles = store.config.roles
    records = pairs(items(records_reply))
    alive = {r: None if v is None else str(v) for r, v in zip(roles, items(alive_reply), strict=True)}
    live = set()
    for role in roles:
        raw = records.get(role)
        if raw is None:
            continue
        try:
            record = PresenceRecord.from_dict(_json_loads(str(raw)))
        except (ValueError, KeyError, TypeError):
            continue  # a corrupt record is not live
        if is_live(record, alive.get(role), now, store.config.stale_seconds):
            live.add(role)
    return live


def read(store: Store) -> ClaimsView:
    """Every claim and every live role, in one round trip."""
    replies = store.pipeline([["HGETALL", store.keys.claims], *presence_commands(store), *store.time_commands()])
    now = store.now_of(replies)  # the server's: claims expire on one clock, whoever wrote them
    raw_claims = pairs(items(replies[0]))
    claims = []
    for pattern, raw in sorted(raw_claims.items()):
        claim = Claim.from_json(str(pattern), str(raw))
        if claim is not None:
            claims.append(claim)
    live = live_roles(store, replies[1], replies[2], now)
    return ClaimsView(tuple(claims), frozenset(live), digest_of(raw_claims), now)


@dataclass(frozen=True)
class ClaimResult:
    role: str
    granted: tuple[Claim, ...]
    removed_lapsed: tuple[str, ...]

    def to_dict(self) -> dict[str, object]:
        return {"role": self.role, "granted": [c.to_dict() for c in self.granted],
                "removed_lapsed_or_expired": list(self.removed_lapsed)}


def claim(store: Store, role: str, patterns: object, reason: object, ttl_seconds: object = None) -> ClaimResult:
    """Claim patterns for role: all granted, or ClaimConflictError naming each holder and reason."""
    validate_role(role, store.config.roles)
    wanted = check_patterns(patterns)
    why = check_reason(reason)
    ttl = check_ttl(ttl_seconds, store.config.claim_ttl_seconds)
    for _ in range(CLAIM_TRIES):
        view = read(store)
        decision = decide_claim(role, wanted, view.claims, view.live_roles, view.now)
        if not decision.ok:
            raise ClaimConflictError(
                f"claim refused: {refusal_line(decision.refused, view.now)}",
                "ask the holder to release it, wait for it to expire, or claim other paths",
            )
        made = tuple(Claim(p, role, why, view.now, view.now + ttl) for p in decision.granted)
        args: list[Arg] = [view.digest, len(decision.remove), *decision.remove]
        for c in made:
            args += [c.pattern, c.to_json()]
        reply = items(store.run_script(CLAIM, [store.keys.claims], args))
        if reply[0] == "ok":
            return ClaimResult(role, made, decision.remove)
    raise CoordError("the claims kept changing while this claim was decided", "try again")


@dataclass(frozen=True)
class ReleaseResult:
    role: str
    released: tuple[str, ...]
    not_held: tuple[str, ...]  # not claimed by this role (someone else's, or no such claim)

    def to_dict(self) -> dict[str, object]:
        return {"role": self.role, "released": list(self.released), "not_held": list(self.not_held)}


def release(store: Store, role: str, patterns: Sequence[str] | None = None) -> ReleaseResult:
    """Drop this role's claims (all of them when patterns is None or empty). Another role's claim is
    never released, only reported back in not_held."""
    validate_role(role, store.config.roles)
    wanted = check_patterns(patterns) if patterns else []
    reply = [str(x) for x in items(store.run_script(RELEASE, [store.keys.claims], [role, *wanted]))]
    cut = reply.index("")
    return ReleaseResult(role, tuple(sorted(reply[:cut])), tuple(reply[cut + 1:]))


def find_blocking(store: Store, role: str, paths: Sequence[str]) -> tuple[str, Claim] | None:
    """The first of paths (repository-relative) covered by another live role's claim, with that
    claim; None when every path is free for role. One round trip."""
    view = read(store)
    if not view.claims:
        return None
    for path in paths:
        found = blocking_claim(role, path, view.claims, view.live_roles, view.now)
        if found is not None:
            return path, found
    return None


# ---------------------------------------------------------------------------------------------
# The git pre-commit guard (optional; `coord agent.guard` installs it).


def staged_paths(toplevel: str) -> list[str]:
    """Paths the commit being made would change (both sides of a rename). git's own environment
    is kept on purpose: `git commit -- PATHS` runs the hook with GIT_INDEX_FILE pointing at a
    temporary index, and that index, not the checkout's, is what gets committed."""
    from coord import git

    result = git.run(Path(toplevel), "diff", "--cached", "--name-only", "--no-renames", "-z", timeout=60,
                     keep_git_env=True, errors="surrogateescape")
    return [p for p in result.stdout.split("\0") if p]


def guard_commit(store: Store | None, role: str | None, staged: Sequence[str]) -> list[tuple[str, Claim]]:
    """Every staged path covered by another live role's claim (role None: an unknown committer,
    whom every live claim binds). Empty: the commit may go ahead."""
    if store is None or not staged:
        return []
    view = read(store)
    found = []
    for path in staged:
        hit = blocking_claim(role or "", path, view.claims, view.live_roles, view.now)
        if hit is not None:
            found.append((path, hit))
    return found
