"""The conflict radar's decisions: which branch pairs to compare, what is cached, what to announce.

Pure (values in, values out); coord.radar gathers the tips with git, runs `git merge-tree` for
the pairs these functions say are not cached, and stores and announces what they decide.

Pairs: every two agent branches, and every agent branch against the base branch. The base
branch is where the main role works (and where merged work lands), so it takes part under the
main role's name. A pair's merge result depends only on its two tip commits, so the cache key is
the two tips (sorted): a rerun with no new commit does no merge work, and a new commit on one
branch invalidates exactly the pairs that branch is in.

"Warn once": a conflict's fingerprint is its two roles plus the sorted conflicting files, not the
tips, so a further commit that leaves the same collision does not warn again, while a collision
on a different set of files (or one that returns after the pair was clean) is new. A pair keeps
at most one fingerprint in the warned set; it is forgotten when the pair is clean again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

CLEAN = "clean"
TOUCH = "touch"  # both sides changed the same files, but git merges them cleanly
CONFLICT = "conflict"
ERROR = "error"  # git could not compare them (unrelated histories, a vanished commit)

RADAR_SENDER = "coord"  # the sender of CONFLICT_WARNING messages: the radar, not a role


@dataclass(frozen=True)
class BranchTip:
    """A branch taking part in the radar, named by the role that works on it."""

    role: str
    branch: str
    tip: str
    base: bool = False  # the base branch (main role's), not an agent branch


@dataclass(frozen=True)
class Pair:
    a: BranchTip
    b: BranchTip

    @property
    def key(self) -> str:
        """Stable name of the pair (roles sorted), for the warned set."""
        return pair_key(self.a.role, self.b.role)

    @property
    def cache_field(self) -> str:
        return cache_field(self.a.tip, self.b.tip)

    def has(self, role: str) -> bool:
        return role in (self.a.role, self.b.role)

    def other(self, role: str) -> BranchTip:
        return self.b if self.a.role == role else self.a


@dataclass(frozen=True)
class MergeFacts:
    """What git said about merging two tips: the conflicting files, and the files both sides
    changed since their merge base (conflicting ones included)."""

    conflicted: tuple[str, ...]
    touched: tuple[str, ...]

    def to_json(self) -> str:
        return json.dumps({"c": list(self.conflicted), "t": list(self.touched)}, separators=(",", ":"))

    @classmethod
    def from_json(cls, raw: str | None) -> MergeFacts | None:
        """None for a missing or corrupt cache entry (it is recomputed)."""
        if not raw:
            return None
        try:
            data = json.loads(raw)
            return cls(tuple(str(x) for x in data["c"]), tuple(str(x) for x in data["t"]))
        except (ValueError, KeyError, TypeError):
            return None


@dataclass(frozen=True)
class PairResult:
    pair: Pair
    status: str
    conflicted: tuple[str, ...] = ()
    touched: tuple[str, ...] = ()  # both changed, not conflicting
    cached: bool = False
    error: str | None = None

    def to_dict(self) -> dict[str, object]:
        a, b = self.pair.a, self.pair.b
        data: dict[str, object] = {
            "a": a.role, "b": b.role, "branch_a": a.branch, "branch_b": b.branch, "tip_a": a.tip, "tip_b": b.tip,
            "status": self.status, "conflicted_files": list(self.conflicted), "touched_files": list(self.touched),
            "cached": self.cached,
        }
        if self.error:
            data["error"] = self.error
        return data


@dataclass(frozen=True)
class Warning:
    """One CONFLICT_WARNING to send to both roles of a pair, once (fingerprint)."""

    fingerprint: str
    role_a: str
    body_a: str
    role_b: str
    body_b: str


@dataclass(frozen=True)
class WarnPlan:
    send: tuple[Warning, ...] = ()
    forget: tuple[str, ...] = ()  # warned-set members of pairs that are clean now or changed files


@dataclass
class RadarReport:
    """The outcome of one radar run."""

    results: list[PairResult] = field(default_factory=list)
    computed: int = 0  # pairs git had to merge this run
    cached: int = 0  # pairs answered from the cache
    warned: list[str] = field(default_factory=list)  # fingerprints announced by this run
    store_error: str | None = None  # the cache/warnings were skipped: Redis could not be reached

    def to_dict(self) -> dict[str, object]:
        return {
            "pairs": [r.to_dict() for r in self.results], "computed": self.computed, "cached": self.cached,
            "warned": list(self.warned), "store_error": self.store_error,
        }


# ---------------------------------------------------------------------------------------------


def pair_key(a: str, b: str) -> str:
    x, y = sorted((a, b))
    return f"{x}|{y}"


def cache_field(tip_a: str, tip_b: str) -> str:
    """The merge of two commits is the same whichever side is 'ours': the key is the sorted tips."""
    x, y = sorted((tip_a, tip_b))
    return f"{x}..{y}"


def all_pairs(tips: Sequence[BranchTip], only: str | None = None) -> list[Pair]:
    """Every pair of agent branches and every agent branch against the base (only: just the pairs
    that include that role). Order: by the two role names, the base branch first in its pairs."""
    ordered = sorted(tips, key=lambda t: (not t.base, t.role))
    pairs = []
    for i, a in enumerate(ordered):
        for b in ordered[i + 1:]:
            if a.role == b.role:
                continue
            pair = Pair(a, b)
            if only is None or pair.has(only):
                pairs.append(pair)
    return pairs


def needs_merge(pairs: Iterable[Pair], cache: Mapping[str, MergeFacts | None]) -> list[Pair]:
    """Pairs git must compare: their tips are not cached, and they are not the same commit."""
    todo: dict[str, Pair] = {}
    for pair in pairs:
        if pair.a.tip == pair.b.tip or cache.get(pair.cache_field) is not None:
            continue
        todo.setdefault(pair.cache_field, pair)  # two pairs on the same two tips: one merge
    return list(todo.values())


def result_of(pair: Pair, facts: MergeFacts | None, cached: bool) -> PairResult:
    if pair.a.tip == pair.b.tip:
        return PairResult(pair, CLEAN, cached=True)
    if facts is None:
        return PairResult(pair, ERROR, error="not compared")
    conflicted = tuple(sorted(facts.conflicted))
    touched = tuple(sorted(set(facts.touched) - set(conflicted)))
    status = CONFLICT if conflicted else TOUCH if touched else CLEAN
    return PairResult(pair, status, conflicted, touched, cached)


def touched_files(changed_a: Iterable[str], changed_b: Iterable[str]) -> tuple[str, ...]:
    """Files both sides changed since their merge base."""
    return tuple(sorted(set(changed_a) & set(changed_b)))


def fingerprint(role_a: str, role_b: str, files: Iterable[str]) -> str:
    """`<pair key>|<digest of the sorted files>`: the pair key up front lets a pair's entry be
    found and forgotten; the digest keeps the member short whatever the file list."""
    key = pair_key(role_a, role_b)
    digest = hashlib.sha1("\0".join(sorted(set(files))).encode("utf-8")).hexdigest()[:16]
    return f"{key}|{digest}"


def _names(tip: BranchTip) -> str:
    return f"the base branch {tip.branch} (where {tip.role} works and merged work lands)" if tip.base \
        else f"{tip.role}'s branch {tip.branch}"


def warning_body(me: BranchTip, other: BranchTip, files: Sequence[str], tool: str) -> str:
    """Two agents agree who changes what; against the base branch there is nobody to agree with:
    the agent brings the base into its branch (`coord agent.sync`), and the main role waits for it."""
    shown = ", ".join(files[:20]) + (f" and {len(files) - 20} more" if len(files) > 20 else "")
    head = (f"Conflict radar: your branch {me.branch} ({me.tip[:8]}) and {_names(other)} ({other.tip[:8]}) would "
            f"conflict if merged, in: {shown}.")
    if other.base:
        return (f"{head} Run `coord agent.sync` in your worktree: it lists the files; resolve them there with "
                f"`git merge {other.branch}` and commit. {tool} shows the current state.")
    if me.base:
        return (f"{head} {other.role} was told to bring {me.branch} into its branch (`coord agent.sync "
                f"--role {other.role}`); merge it after that. {tool} shows the current state.")
    return f"{head} Agree with {other.role} who changes what before either goes on; {tool} shows the current state."


def plan_warnings(
    results: Iterable[PairResult], live_roles: Iterable[str], warned: Iterable[str],
    tool: str = "coord_check_conflicts",
) -> WarnPlan:
    """Which conflicts to announce now, and which warned entries to forget.

    Announced: a conflict whose fingerprint is new, between two live agents, or between a live
    agent and the base branch (the main role is told too; its inbox keeps the message if it is not
    running). Forgotten: the entry of a pair that is clean or touch-only now, and an older entry of
    a pair whose conflicting files changed (so the new set is announced and the old one could be
    again). Pairs that could not be compared keep their entry.
    """
    live = set(live_roles)
    known = set(warned)
    send: list[Warning] = []
    forget: set[str] = set()
    for result in results:
        if result.status == ERROR:
            continue
        a, b = result.pair.a, result.pair.b
        prefix = result.pair.key + "|"
        mine = {m for m in known if m.startswith(prefix)}
        if result.status != CONFLICT:
            forget |= mine
            continue
        fp = fingerprint(a.role, b.role, result.conflicted)
        forget |= mine - {fp}
        if fp in known:
            continue
        agents = [t for t in (a, b) if not t.base]
        if not all(t.role in live for t in agents):
            continue
        files = list(result.conflicted)
        send.append(Warning(fp, a.role, warning_body(a, b, files, tool), b.role, warning_body(b, a, files, tool)))
    return WarnPlan(tuple(send), tuple(sorted(forget)))


def conflicts_by_role(results: Iterable[PairResult]) -> dict[str, list[str]]:
    """role -> the roles (sorted) its branch conflicts with; the base branch appears as its role."""
    found: dict[str, set[str]] = {}
    for r in results:
        if r.status == CONFLICT:
            found.setdefault(r.pair.a.role, set()).add(r.pair.b.role)
            found.setdefault(r.pair.b.role, set()).add(r.pair.a.role)
    return {role: sorted(others) for role, others in found.items()}


def format_report(report: RadarReport) -> str:
    """A table for `coord agent.conflicts` (JSON is for machines)."""
    if not report.results:
        return "no branches to compare (set up agents with: coord agent.setup ROLE)"
    rows = [("A", "B", "STATUS", "FILES")]
    for r in report.results:
        a = f"{r.pair.a.role} ({r.pair.a.branch})" if r.pair.a.base else r.pair.a.role
        b = f"{r.pair.b.role} ({r.pair.b.branch})" if r.pair.b.base else r.pair.b.role
        files = r.conflicted if r.status == CONFLICT else r.touched
        detail = ", ".join(files) if files else (r.error or "-")
        rows.append((a, b, r.status, detail))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = ["  ".join([*(c.ljust(w) for c, w in zip(row[:3], widths, strict=True)), row[3]]).rstrip()
             for row in rows]
    lines.append(f"{report.computed} pair(s) merged now, {report.cached} from cache")
    if report.store_error:
        lines.append(f"coord: warning: no cache and no warnings sent: {report.store_error}")
    return "\n".join(lines)
