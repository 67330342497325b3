"""The conflict radar's effects: branch tips and merges from git, the cache and warnings in Redis.

Decisions are coord.conflicts; this module only gathers and writes. What triggers a run:
- `coord agent.conflicts` (every pair) and `coord agent.list` (the CONFLICTS column);
- `coord_check_conflicts` (the calling agent's pairs);
- the MCP server's background loop, every heartbeat_seconds, for its own agent's pairs, so a
  conflict is announced within about a minute of the commit that causes it, with nobody asking.
Never the per-prompt hook: merges cost git processes, and the hot path's budget is a few ms.

git runs through coord.git's runner (subprocess, safe in the MCP server's worker threads).
Comparing two branches costs three git processes
(merge-tree, and a three-dot diff each way for the files both changed), and only for pairs whose
tips are not cached. Redis: one pipeline to read (cache, warned set, presence), at most one to
store new results, one script to announce new conflicts atomically (SADD decides "once").
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from coord.config import Config
from coord.conflicts import (
    RADAR_SENDER,
    BranchTip,
    MergeFacts,
    PairResult,
    RadarReport,
    WarnPlan,
    all_pairs,
    needs_merge,
    plan_warnings,
    result_of,
    touched_files,
)
from coord.errors import CoordError, GitError, StoreUnavailableError
from coord.identity import role_of_branch
from coord.lua import Script
from coord.messages import MessageType
from coord.repo import RepoPaths
from coord.resp import Arg, items

if TYPE_CHECKING:
    from coord.store import Store

GIT_TIMEOUT = 60.0  # seconds for one git process; a merge of huge trees still finishes well within
AGENT_PREFIX = "refs/heads/agent/"
AGENT_SUFFIX = "/active"

# KEYS: conflicts
# ARGV: prune ('1': delete every field that is neither written now nor listed as current), n,
#       field, json (n pairs), current field...
SAVE = Script(
    "radar_save",
    r"""
local n = tonumber(ARGV[2])
local keep = {}
for i = 3, 2 + 2 * n, 2 do
  redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
  keep[ARGV[i]] = true
end
if ARGV[1] == '1' then
  for i = 3 + 2 * n, #ARGV do keep[ARGV[i]] = true end
  local names = redis.call('HKEYS', KEYS[1])
  for i = 1, #names do if not keep[names[i]] then redis.call('HDEL', KEYS[1], names[i]) end end
end
return 1
""",
)

# KEYS: warned, then per warning: inbox a, pending a, inbox b, pending b
# ARGV: n_forget, forget..., then per warning: fingerprint, recipient a, body a, recipient b, body b;
#       last: sender, type, ts ('' = server time)
# -> the fingerprints announced now (those SADD added: announced exactly once, whoever runs the radar)
WARN = Script(
    "radar_warn",
    r"""
local n = tonumber(ARGV[1])
for i = 2, 1 + n do redis.call('SREM', KEYS[1], ARGV[i]) end
local sender, kind, ts = ARGV[#ARGV - 2], ARGV[#ARGV - 1], ARGV[#ARGV]
if ts == '' then ts = num(now_of('')) end
local out = {}
local w = 0
for i = 2 + n, #ARGV - 3, 5 do
  local fp = ARGV[i]
  if redis.call('SADD', KEYS[1], fp) == 1 then
    for side = 0, 1 do
      local inbox, pending = KEYS[2 + w * 4 + side * 2], KEYS[3 + w * 4 + side * 2]
      local id = redis.call('XADD', inbox, '*', 'sender', sender, 'recipient', ARGV[i + 1 + side * 2],
        'type', kind, 'body', ARGV[i + 2 + side * 2], 'ts', ts)
      redis.call('HSET', pending, id, kind)
    end
    out[#out + 1] = fp
  end
  w = w + 1
end
return out
""",
)


# ---------------------------------------------------------------------------------------------
# git


def _git(repo: Path, *args: str, ok: Sequence[int] = (0,)) -> tuple[int, str]:
    """coord.git's runner with the radar's timeout; file names kept exact (surrogateescape)."""
    from coord import git

    result = git.run(repo, *args, ok=ok, timeout=GIT_TIMEOUT, errors="surrogateescape")
    return result.code, result.stdout


def base_branch(paths: RepoPaths, config: Config) -> str | None:
    """config.base_branch, else the branch checked out in the main checkout (read from its HEAD
    file: no process), None when it is detached."""
    if config.base_branch:
        return config.base_branch
    try:
        head = (paths.common_dir / "HEAD").read_text(encoding="utf-8").strip()
    except OSError:
        return None
    prefix = "ref: refs/heads/"
    name = head[len(prefix):] if head.startswith(prefix) else None
    return None if role_of_branch(name) else name  # an agent's branch there is no base (worktree.base)


def branch_tips(paths: RepoPaths, config: Config, hosts: Mapping[str, str] | None = None) -> list[BranchTip]:
    """The base branch (under the main role's name) and every configured agent's branch, with
    their tips, from one `git for-each-ref`. hosts (role -> the machine its session runs on) given:
    a role on another machine, or with no branch here, is its branch fetched from the remote
    (coord.remote; named REMOTE/agent/ROLE/active)."""
    _code, text = _git(paths.main_root, "for-each-ref", "--format=%(refname) %(objectname)", "refs/heads/")
    refs: dict[str, str] = {}
    for line in text.splitlines():
        name, _, sha = line.partition(" ")
        if name and sha:
            refs[name] = sha
    tips: list[BranchTip] = []
    base = base_branch(paths, config)
    if base and f"refs/heads/{base}" in refs:
        tips.append(BranchTip(config.main_role, base, refs[f"refs/heads/{base}"], base=True))
    agents = set(config.agent_roles())
    local: dict[str, str] = {}
    for name, sha in sorted(refs.items()):
        if name.startswith(AGENT_PREFIX) and name.endswith(AGENT_SUFFIX):
            role = name[len(AGENT_PREFIX):-len(AGENT_SUFFIX)]
            if role in agents:
                local[role] = sha
    if hosts is None:
        return tips + [BranchTip(role, f"agent/{role}/active", sha) for role, sha in sorted(local.items())]
    from coord import remote
    from coord.store_checks import this_host

    chosen = remote.choose(paths, config, sorted(agents), local, hosts, config.host or this_host())
    for role, pick in sorted(chosen.items()):
        tips.append(BranchTip(role, pick.ref.removeprefix("refs/heads/").removeprefix("refs/remotes/"), pick.tip))
    return tips


def _names(text: str) -> list[str]:
    return [p for p in text.split("\0") if p]


def merge_facts(repo: Path, tip_a: str, tip_b: str) -> MergeFacts:
    """Merge the two tips in memory (`git merge-tree --write-tree`: no worktree, index or ref is
    touched) and list the files both sides changed since their merge base."""
    from coord.git import parse_merge_tree

    code, out = _git(repo, "merge-tree", "--write-tree", "--name-only", "--no-messages", "-z", tip_a, tip_b, ok=(0, 1))
    merged = parse_merge_tree(out, code)
    _c, left = _git(repo, "diff", "--name-only", "--no-renames", "-z", f"{tip_b}...{tip_a}")
    _c, right = _git(repo, "diff", "--name-only", "--no-renames", "-z", f"{tip_a}...{tip_b}")
    return MergeFacts(tuple(merged.conflicted_files), touched_files(_names(left), _names(right)))


# ---------------------------------------------------------------------------------------------
# Redis


def _read(store: Store, fields: Sequence[str]) -> tuple[dict[str, MergeFacts | None], set[str], set[str]]:
    """Cached facts for fields, the warned set and the live roles: one round trip."""
    from coord.claim_store import live_roles, presence_commands

    k = store.keys
    commands: list[list[Arg]] = [["SMEMBERS", k.warned], *presence_commands(store)]
    if fields:
        commands.append(["HMGET", k.conflicts, *fields])
    replies = store.pipeline([*commands, *store.time_commands()])
    warned = {str(m) for m in items(replies[0])}
    live = live_roles(store, replies[1], replies[2], store.now_of(replies))
    cache = {}
    if fields:
        cache = {f: MergeFacts.from_json(None if v is None else str(v))
                 for f, v in zip(fields, items(replies[3]), strict=True)}
    return cache, warned, live


def _save(store: Store, facts: dict[str, MergeFacts], current: Sequence[str] | None) -> None:
    """Store new results; with current (a run over every pair), drop entries of tips that are no
    longer any branch's tip, so the cache holds one entry per live pair, not one per commit ever."""
    if not facts and current is None:
        return
    args: list[Arg] = ["0" if current is None else "1", len(facts)]
    for name, value in facts.items():
        args += [name, value.to_json()]
    args += list(current or ())
    store.run_script(SAVE, [store.keys.conflicts], args)


def _announce(store: Store, plan: WarnPlan) -> list[str]:
    if not plan.send and not plan.forget:
        return []
    k = store.keys
    keys = [k.warned]
    args: list[Arg] = [len(plan.forget), *plan.forget]
    for w in plan.send:
        keys += [k.inbox(w.role_a), k.pending(w.role_a), k.inbox(w.role_b), k.pending(w.role_b)]
        args += [w.fingerprint, w.role_a, w.body_a, w.role_b, w.body_b]
    args += [RADAR_SENDER, MessageType.CONFLICT_WARNING.value, store.now_arg()]
    return [str(x) for x in items(store.run_script(WARN, keys, args))]


# ---------------------------------------------------------------------------------------------


Merger = Callable[[Path, str, str], MergeFacts]


def _across_machines(paths: RepoPaths, config: Config, store: Store | None) -> dict[str, str] | None:
    """With a shared remote: fetch other machines' agent branches (rate-limited) and say where each
    role runs, so branch_tips uses their pushed branches. None without a remote (local branches only)."""
    from coord import remote

    name = remote.remote_name(paths, config)
    if name is None:
        return None
    with contextlib.suppress(GitError):  # the remote is unreachable: compare what was fetched before
        remote.fetch(paths, config, remote=name)
    return remote.holder_hosts(store)


def run(
    paths: RepoPaths, config: Config, store: Store | None, only: str | None = None, warn: bool = True,
    merger: Merger = merge_facts,
) -> RadarReport:
    """Compare the pairs (all, or only those of role `only`), from the cache where the tips are
    known, and announce new conflicts between live agents. With store None, or Redis down, the
    pairs are still compared (no cache, no warnings) and report.store_error says so."""
    tips = branch_tips(paths, config, _across_machines(paths, config, store))
    pairs = all_pairs(tips, only)
    fields = sorted({p.cache_field for p in pairs if p.a.tip != p.b.tip})
    report = RadarReport()
    cache: dict[str, MergeFacts | None] = {}
    warned: set[str] = set()
    live: set[str] = set()
    if store is not None:
        try:
            cache, warned, live = _read(store, fields)
        except StoreUnavailableError as exc:
            store, report.store_error = None, exc.message
    computed: dict[str, MergeFacts] = {}
    errors: dict[str, str] = {}
    for pair in needs_merge(pairs, cache):
        try:
            computed[pair.cache_field] = merger(paths.main_root, pair.a.tip, pair.b.tip)
        except GitError as exc:
            errors[pair.cache_field] = exc.message
    for pair in pairs:
        name = pair.cache_field
        if name in errors:
            report.results.append(PairResult(pair, "error", error=errors[name]))
            continue
        hit = cache.get(name)
        report.results.append(result_of(pair, hit if hit is not None else computed.get(name), hit is not None))
    report.computed = len(computed)
    report.cached = sum(1 for r in report.results if r.cached and r.pair.a.tip != r.pair.b.tip)
    if store is not None:
        try:
            _save(store, computed, fields if only is None else None)
            if warn:
                report.warned = _announce(store, plan_warnings(report.results, live, warned))
        except StoreUnavailableError as exc:
            report.store_error = exc.message
    return report


def run_quietly(paths: RepoPaths, config: Config, store: Store, role: str, log: Callable[[str], None]) -> None:
    """The MCP server's background check: never raises, logs one line on trouble or news."""
    start = time.monotonic()
    try:
        report = run(paths, config, store, only=role)
    except CoordError as exc:
        log(f"conflict radar: {exc.line()}")
        return
    if report.warned or report.computed:
        log(f"conflict radar: {report.computed} pair(s) merged, {len(report.warned)} new conflict(s) announced "
            f"in {time.monotonic() - start:.2f}s")
