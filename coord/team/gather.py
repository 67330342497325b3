"""The effects behind `coord status`, `coord agent.list` and the cockpit: collect every stored fact
in ONE Redis round trip (a pipeline) and the git facts of every worktree in parallel threads.

Cost with N agents: one `git worktree list`, then N `git status` in a thread pool, concurrently
with the Redis pipeline; ahead/behind counts come from a cache keyed by both commits (so they are
computed once per new commit, by a `git rev-list --count` in the same pool). Conflicts are read from
the radar's cache (filled by the MCP servers' background radar and `coord agent.conflicts`), never
computed here: comparing 50 branches pairwise is the radar's job, not a status read's.
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from coord.config import Config
from coord.conflicts import BranchTip, MergeFacts, PairResult, all_pairs, conflicts_by_role, result_of
from coord.errors import CoordError, StoreUnavailableError
from coord.git import WorktreeEntry, parse_worktree_list
from coord.identity import role_of_worktree
from coord.messages import Message, MessageType
from coord.presence import Status
from coord.radar import _git as git_run  # the thread-safe subprocess runner (coord.git's `sh` is not)
from coord.radar import base_branch
from coord.repo import RepoPaths
from coord.resp import Arg, items, number, pairs
from coord.team.rows import AgentRow, ClaimItem, GitFacts, RoleRecord, StatusNote, Stored, build_rows, first_line

if TYPE_CHECKING:
    from coord.store import Store

GIT_WORKERS = max(4, 2 * (os.cpu_count() or 1))  # git processes at once; the bench baseline uses the same
INBOX_SCAN = 30  # newest messages read from each inbox: the message stream and each role's last status
HOST_ENV = "COORD_HOST"
AGENT_BRANCH = "agent/{role}/active"


def local_host(environ: Mapping[str, str] | None = None) -> str:
    environ = os.environ if environ is None else environ
    return environ.get(HOST_ENV) or socket.gethostname()


@dataclass
class Snapshot:
    """One gathering: the rows, plus what the cockpit shows beside them."""

    rows: list[AgentRow]
    stored: Stored
    messages: list[Message] = field(default_factory=list)  # newest first, broadcast copies merged
    pairs: list[PairResult] = field(default_factory=list)
    tips: dict[str, str] = field(default_factory=dict)  # role -> tip commit
    facts: dict[str, GitFacts] = field(default_factory=dict)  # role -> its checkout, in git's order
    unanswered: int = 0  # branch pairs the radar cache had no answer for
    git_error: str = ""
    taken_at: float = 0.0


# -- git ------------------------------------------------------------------------------------------
def role_entries(paths: RepoPaths, config: Config, entries: Sequence[WorktreeEntry]) -> dict[str, WorktreeEntry]:
    """role -> its checkout: the main role's is the main checkout, an agent's is the worktree on its
    branch (or, off its branch, the one in the worktree folder named after it)."""
    main = os.path.realpath(paths.main_root)
    folder = os.path.realpath(paths.main_root / config.worktree_dir)
    found: dict[str, WorktreeEntry] = {}
    for entry in entries:
        real = os.path.realpath(entry.path)
        role = config.main_role if real == main else role_of_worktree(real, entry.branch, folder)
        if role is not None:  # a worktree moved with `git worktree move` keeps its branch's role
            found[role] = entry
    return found


def list_worktrees(paths: RepoPaths) -> list[WorktreeEntry]:
    _code, text = git_run(paths.main_root, "worktree", "list", "--porcelain", "-z")
    return parse_worktree_list(text)


def is_dirty(path: Path) -> bool:
    """Uncommitted changes or untracked files. --no-optional-locks: a watcher must never take the
    index lock an agent's own git command is about to need."""
    _code, text = git_run(path, "--no-optional-locks", "status", "--porcelain")
    return bool(text.strip())


def count_commits(repo: Path, tip: str, base: str) -> tuple[int, int]:
    _code, text = git_run(repo, "rev-list", "--left-right", "--count", f"{tip}...{base}")
    ahead, _, behind = text.strip().partition("\t")
    return int(ahead), int(behind)


def counts_field(tip: str, base: str) -> str:
    return f"{tip}..{base}"


def base_tip(paths: RepoPaths, config: Config, entries: Sequence[WorktreeEntry]) -> tuple[str | None, str | None]:
    """The base branch and its tip: from the worktree list when checked out, else one rev-parse."""
    base = base_branch(paths, config)
    if base is None:
        return None, None
    for entry in entries:
        if entry.branch == base and entry.head:
            return base, entry.head
    try:
        _code, text = git_run(paths.main_root, "rev-parse", "--verify", "-q", f"refs/heads/{base}^{{commit}}",
                              ok=(0, 1))
    except CoordError:
        return base, None
    return base, text.strip() or None


def radar_tips(
    config: Config, base: str | None, base_sha: str | None, by_role: Mapping[str, WorktreeEntry],
) -> list[BranchTip]:
    """The branches the radar compares, as its cache knows them: the base under the main role's name,
    and every agent role whose worktree is on its agent branch."""
    tips = []
    if base and base_sha:
        tips.append(BranchTip(config.main_role, base, base_sha, base=True))
    for role, entry in sorted(by_role.items()):
        if role != config.main_role and role in config.roles and entry.head \
                and entry.branch and entry.branch.endswith(AGENT_BRANCH.format(role=role)):  # or REMOTE/agent/…
            tips.append(BranchTip(role, entry.branch, entry.head))
    return tips


# -- Redis ----------------------------------------------------------------------------------------
def stored_commands(store: Store, roles: Sequence[str], conflict_fields: Sequence[str]) -> list[list[Arg]]:
    k = store.keys
    commands: list[list[Arg]] = [
        ["HGETALL", k.presence],
        ["MGET", *(k.alive(r) for r in roles)],
        ["HGETALL", k.claims],
        ["HGETALL", k.counts],
    ]
    commands += [["HLEN", k.pending(r)] for r in roles]
    commands += [["XREVRANGE", k.inbox(r), "+", "-", "COUNT", INBOX_SCAN] for r in roles]
    if conflict_fields:
        commands.append(["HMGET", k.conflicts, *conflict_fields])
    return commands


def _records(
    raw: Mapping[str, object], alive: Mapping[str, object], config: Config, now: float,
) -> dict[str, RoleRecord]:
    from coord.presence import PresenceRecord
    from coord.store_results import _json_loads, view

    out = {}
    for role, text in raw.items():
        try:
            data = _json_loads(str(text))
            record = PresenceRecord.from_dict(data)
        except (ValueError, KeyError, TypeError):
            continue
        session = alive.get(role)
        seen = view(role, record, None if session is None else str(session), now, config.stale_seconds,
                    role in config.roles)
        try:
            activity_at = number(data.get("activity_since") or 0.0)
        except (TypeError, ValueError):
            activity_at = 0.0
        out[role] = RoleRecord(seen.status, seen.seconds_since_heartbeat, record.worktree_path,
                               str(data.get("activity") or ""), activity_at, str(data.get("host") or ""))
    return out


def decode_stored(
    replies: Sequence[object], config: Config, roles: Sequence[str], conflict_fields: Sequence[str], now: float,
) -> tuple[Stored, dict[str, str], dict[str, MergeFacts | None], list[Message]]:
    """The pipeline's replies as Stored, the counts cache, the radar cache and the message stream."""
    from coord.claims import Claim, claim_status
    from coord.store_results import message_from_row

    n = len(roles)
    alive = dict(zip(roles, items(replies[1]), strict=True))
    presence = _records(pairs(items(replies[0])), alive, config, now)
    live = {r for r, rec in presence.items() if rec.status is Status.ACTIVE}
    claims = []
    for pattern, raw in sorted(pairs(items(replies[2])).items()):
        claim = Claim.from_json(str(pattern), str(raw))
        if claim is not None:
            claims.append(ClaimItem(claim.pattern, claim.role, claim_status(claim, live, now), claim.reason,
                                    max(0.0, claim.expires_at - now)))
    counts = {str(k): str(v) for k, v in pairs(items(replies[3])).items()}
    unread = {r: int(number(v)) for r, v in zip(roles, replies[4:4 + n], strict=True)}
    seen: dict[tuple[str, str, str, str], Message] = {}
    for rows in replies[4 + n:4 + 2 * n]:
        for row in items(rows):
            msg = message_from_row(items(row))
            key = (msg.sender, repr(msg.timestamp), msg.type, msg.body)  # one broadcast lands in every inbox
            if key not in seen:
                seen[key] = msg
    messages = sorted(seen.values(), key=lambda m: m.timestamp, reverse=True)
    last: dict[str, StatusNote] = {}
    for msg in messages:
        if msg.type == MessageType.STATUS_UPDATE.value and msg.sender not in last:
            last[msg.sender] = StatusNote(first_line(msg.body), msg.timestamp)
    cache: dict[str, MergeFacts | None] = {}
    if conflict_fields:
        values = replies[4 + 2 * n]
        cache = {f: MergeFacts.from_json(None if v is None else str(v))
                 for f, v in zip(conflict_fields, items(values), strict=True)}
    stored = Stored(True, "", presence, unread, last, tuple(claims))
    return stored, counts, cache, messages


# -- the whole gathering ---------------------------------------------------------------------------
def gather(
    paths: RepoPaths, config: Config, store: Store | None, roles: Sequence[str] | None = None,
    clock: Callable[[], float] = time.time, environ: Mapping[str, str] | None = None,
    pool: ThreadPoolExecutor | None = None, dirty_cache: Mapping[str, bool] | None = None,
    worktrees_only: bool = False,
) -> Snapshot:
    """Every role's row. store None: Redis facts unknown (presence "unknown"), git still read.
    dirty_cache (the cockpit between full refreshes): reuse these dirty flags instead of running git status.
    worktrees_only (agent.list): the rows are the worktrees in the worktree folder, configured or not."""
    own_pool = pool is None
    pool = pool or ThreadPoolExecutor(GIT_WORKERS, thread_name_prefix="coord-git")
    try:
        return _gather(paths, config, store, roles, clock, environ, pool, dirty_cache, worktrees_only)
    finally:
        if own_pool:
            pool.shutdown(wait=True)


def _gather(
    paths: RepoPaths, config: Config, store: Store | None, asked: Sequence[str] | None, clock: Callable[[], float],
    environ: Mapping[str, str] | None, pool: ThreadPoolExecutor, dirty_cache: Mapping[str, bool] | None,
    worktrees_only: bool,
) -> Snapshot:
    git_error = ""
    try:
        entries = list_worktrees(paths)
    except CoordError as exc:
        entries, git_error = [], exc.message
    found = role_entries(paths, config, entries)
    if worktrees_only:
        found.pop(config.main_role, None)
        roles = list(found)
    else:
        roles = list(config.roles if asked is None else asked)
    by_role = {r: e for r, e in found.items() if r in roles}
    if not worktrees_only:  # roles working on another machine: their branch fetched from the remote
        from coord.remote import elsewhere_entries

        by_role.update(elsewhere_entries(paths, config, [r for r in roles if r not in by_role]))
    dirty_jobs: dict[str, Future[bool]] = {}
    for role, entry in by_role.items():
        if dirty_cache is not None and role in dirty_cache:
            continue
        if os.path.isdir(entry.path):
            dirty_jobs[role] = pool.submit(is_dirty, entry.path)
    base, base_sha = base_tip(paths, config, entries)
    tips = radar_tips(config, base, base_sha, by_role)
    pairs = all_pairs(tips)
    fields = sorted({p.cache_field for p in pairs if p.a.tip != p.b.tip})
    now = float(clock())
    stored = Stored(False, "Redis not asked")
    counts: dict[str, str] = {}
    cache: dict[str, MergeFacts | None] = {}
    messages: list[Message] = []
    if store is not None:
        try:
            replies = store.pipeline([*stored_commands(store, roles, fields), *store.time_commands()])
            now = store.now_of(replies)  # staleness on the server's clock, as everywhere in coord
            stored, counts, cache, messages = decode_stored(replies, config, roles, fields, now)
        except StoreUnavailableError as exc:
            stored = Stored(False, exc.message)
    count_jobs: dict[str, Future[tuple[int, int]]] = {}
    known_counts: dict[str, tuple[int, int]] = {}
    for role, entry in by_role.items():
        if (role == config.main_role and entry.branch == base) or not entry.head or not base_sha:
            continue
        cached = counts.get(counts_field(entry.head, base_sha), "")
        ahead, _, behind = cached.partition(" ")
        if ahead.isdigit() and behind.isdigit():
            known_counts[role] = (int(ahead), int(behind))
        else:
            count_jobs[role] = pool.submit(count_commits, paths.main_root, entry.head, base_sha)
    facts: dict[str, GitFacts] = {}
    new_counts: dict[str, str] = {}
    for role, entry in by_role.items():
        dirty: bool | None = None
        if role in dirty_jobs:
            try:
                dirty = dirty_jobs[role].result()
            except CoordError as exc:
                git_error = git_error or exc.message
        elif dirty_cache is not None and role in dirty_cache:
            dirty = dirty_cache[role]
        ahead_behind: tuple[int, int] | None = known_counts.get(role)
        if role in count_jobs:
            try:
                ahead_behind = count_jobs[role].result()
                new_counts[counts_field(entry.head or "", base_sha or "")] = f"{ahead_behind[0]} {ahead_behind[1]}"
            except (CoordError, ValueError) as exc:
                git_error = git_error or str(getattr(exc, "message", exc))
        if role == config.main_role and entry.branch == base:
            ahead_behind = (0, 0)
        facts[role] = GitFacts(
            path=str(entry.path), branch=entry.branch, head=entry.head,
            ahead=None if ahead_behind is None else ahead_behind[0],
            behind=None if ahead_behind is None else ahead_behind[1],
            dirty=dirty, missing=not os.path.isdir(entry.path), locked=entry.locked,
        )
    if new_counts and store is not None and stored.reachable:
        _save_counts(store, new_counts, {counts_field(e.head, base_sha) for e in by_role.values()
                                          if e.head and base_sha}, counts)
    results = [result_of(p, cache.get(p.cache_field), True) for p in pairs
               if p.a.tip == p.b.tip or cache.get(p.cache_field) is not None]
    rows = build_rows(roles, stored, facts, conflicts_by_role(results), local_host(environ), now)
    return Snapshot(rows=rows, stored=stored, messages=messages, pairs=results, tips={t.role: t.tip for t in tips},
                    facts=facts, unanswered=len(pairs) - len(results), git_error=git_error, taken_at=now)


def _save_counts(store: Store, new: Mapping[str, str], current: set[str], old: Mapping[str, str]) -> None:
    """Write the new counts and drop those of commits no worktree is on any more (one round trip)."""
    commands: list[list[Arg]] = [["HSET", store.keys.counts, *[x for kv in new.items() for x in kv]]]
    stale = [f for f in old if f not in current]
    if stale:
        commands.append(["HDEL", store.keys.counts, *stale])
    with contextlib.suppress(StoreUnavailableError):  # a cache: the next read computes them again
        store.pipeline(commands)
