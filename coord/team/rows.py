"""The team's status rows, assembled from plain values (no git, no Redis, the clock passed in).

coord.team.gather collects the facts (one Redis round trip, git per worktree in parallel); this
module decides what each row says, how `coord status` prints it and in which order the cockpit
shows it (needs-input first). Kept pure so every rule here is tested without a server.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from coord.presence import Status, describe_age

ACTIVITY_STATES = ("working", "idle", "needs_input")  # written by the team loop into presence
JSON_FIELDS = ("role", "presence", "activity", "host", "branch", "ahead", "behind", "dirty", "unread",
               "last_status", "claims", "conflicts_with")
UNKNOWN = "-"


class GitFacts(NamedTuple):
    """One role's checkout as git sees it. None: not known (no worktree, or git failed)."""

    path: str
    branch: str | None
    head: str | None
    ahead: int | None
    behind: int | None
    dirty: bool | None
    missing: bool = False
    locked: bool = False


class RoleRecord(NamedTuple):
    """One role's stored presence, with the fields later helpers add read when present."""

    status: Status
    seconds_since_heartbeat: float | None
    worktree_path: str
    activity: str  # "" when unknown
    activity_at: float  # 0.0 when unknown
    host: str  # "" when the record carries none


class StatusNote(NamedTuple):
    """The newest STATUS_UPDATE a role sent: its first line and when."""

    text: str
    at: float


class ClaimItem(NamedTuple):
    pattern: str
    role: str
    status: str  # live / lapsed / expired (coord.claims.claim_status)
    reason: str
    seconds_left: float


@dataclass(frozen=True)
class Stored:
    """Everything the status needs from Redis, decoded. reachable False: Redis could not be asked."""

    reachable: bool
    error: str = ""
    presence: Mapping[str, RoleRecord] = field(default_factory=dict)
    unread: Mapping[str, int] = field(default_factory=dict)
    last_status: Mapping[str, StatusNote] = field(default_factory=dict)
    claims: Sequence[ClaimItem] = ()


@dataclass(frozen=True)
class AgentRow:
    role: str
    presence: str
    activity: str
    activity_seconds: float | None
    host: str
    branch: str | None
    ahead: int | None
    behind: int | None
    dirty: bool | None
    unread: int | None
    last_status: StatusNote | None
    last_status_seconds: float | None
    claims: tuple[str, ...]
    conflicts_with: tuple[str, ...]
    path: str = ""

    def to_json(self) -> dict[str, object]:
        """Exactly JSON_FIELDS. activity and last_status are objects with their age, or null."""
        return {
            "role": self.role,
            "presence": self.presence,
            "activity": None if not self.activity else {
                "state": self.activity,
                "seconds": None if self.activity_seconds is None else round(self.activity_seconds, 1)},
            "host": self.host,
            "branch": self.branch,
            "ahead": self.ahead,
            "behind": self.behind,
            "dirty": self.dirty,
            "unread": self.unread,
            "last_status": None if self.last_status is None else {
                "text": self.last_status.text,
                "seconds": None if self.last_status_seconds is None else round(self.last_status_seconds, 1)},
            "claims": list(self.claims),
            "conflicts_with": list(self.conflicts_with),
        }


def first_line(body: str, width: int = 120) -> str:
    for line in body.splitlines():
        if line.strip():
            text = line.strip()
            return text if len(text) <= width else text[: width - 1] + "…"
    return ""


def host_of(record: RoleRecord | None, facts: GitFacts | None, local_host: str) -> str:
    """The host stored with the presence record; else this machine for a worktree found here."""
    if record is not None and record.host:
        return record.host
    if facts is not None and not facts.missing and facts.path:
        return local_host
    return UNKNOWN


def build_rows(
    roles: Sequence[str],
    stored: Stored,
    git: Mapping[str, GitFacts],
    conflicts: Mapping[str, Sequence[str]],
    local_host: str,
    now: float,
) -> list[AgentRow]:
    """One row per role, in the configured order."""
    rows = []
    claims_by_role: dict[str, list[str]] = {}
    for claim in stored.claims:
        if claim.status == "live":
            claims_by_role.setdefault(claim.role, []).append(claim.pattern)
    for role in roles:
        record = stored.presence.get(role)
        facts = git.get(role)
        if not stored.reachable:
            presence = Status.UNKNOWN.value
        else:
            presence = (record.status if record is not None else Status.ABSENT).value
        activity = record.activity if record is not None and record.activity in ACTIVITY_STATES else ""
        activity_seconds = None
        if activity and record is not None and record.activity_at > 0:
            activity_seconds = max(0.0, now - record.activity_at)
        note = stored.last_status.get(role)
        rows.append(AgentRow(
            role=role,
            presence=presence,
            activity=activity,
            activity_seconds=activity_seconds,
            host=host_of(record, facts, local_host),
            branch=None if facts is None else facts.branch,
            ahead=None if facts is None else facts.ahead,
            behind=None if facts is None else facts.behind,
            dirty=None if facts is None else facts.dirty,
            unread=stored.unread.get(role) if stored.reachable else None,
            last_status=note,
            last_status_seconds=None if note is None else max(0.0, now - note.at),
            claims=tuple(sorted(claims_by_role.get(role, ()))),
            conflicts_with=tuple(sorted(conflicts.get(role, ()))),
            path="" if facts is None else facts.path,
        ))
    return rows


# -- ordering and text -----------------------------------------------------------------------------
_ATTENTION = {"needs_input": 0, "working": 2, "idle": 3, "": 4}
_PRESENCE_RANK = {"active": 0, "stale": 1, "unknown": 2, "inactive": 3, "absent": 4}


def attention_order(rows: Iterable[AgentRow]) -> list[AgentRow]:
    """Needs-input first, then agents with conflicts, then working, idle, and the rest; stable."""
    def key(row: AgentRow) -> tuple[int, int]:
        rank = _ATTENTION.get(row.activity, 4)
        if rank > 1 and row.conflicts_with:
            rank = 1
        return rank, _PRESENCE_RANK.get(row.presence, 5)

    return sorted(rows, key=key)


def activity_text(row: AgentRow) -> str:
    if not row.activity:
        return UNKNOWN
    shown = row.activity.replace("_", " ")
    return shown if row.activity_seconds is None else f"{shown} {describe_age(row.activity_seconds)}"


def branch_text(row: AgentRow) -> str:
    if row.branch is None:
        return UNKNOWN
    parts = [row.branch]
    if row.ahead is not None and row.behind is not None:
        parts.append(f"+{row.ahead}/-{row.behind}")
    if row.dirty:
        parts.append("dirty")
    return " ".join(parts)


def status_text(row: AgentRow, width: int = 40) -> str:
    if row.last_status is None:
        return UNKNOWN
    text = row.last_status.text
    if len(text) > width:
        text = text[: width - 1] + "…"
    return f"{describe_age(row.last_status_seconds or 0)} {text}"


HEADER = ("ROLE", "PRESENCE", "ACTIVITY", "HOST", "BRANCH", "UNREAD", "CLAIMS", "CONFLICTS", "LAST STATUS")


def cells(row: AgentRow) -> tuple[str, ...]:
    return (
        row.role, row.presence, activity_text(row), row.host, branch_text(row),
        UNKNOWN if row.unread is None else str(row.unread),
        ",".join(row.claims) or UNKNOWN, ",".join(row.conflicts_with) or UNKNOWN, status_text(row),
    )


def format_table(rows: Sequence[AgentRow]) -> str:
    """`coord status`: one aligned line per role."""
    table = [HEADER, *(cells(r) for r in rows)]
    widths = [max(len(r[i]) for r in table) for i in range(len(HEADER) - 1)]
    return "\n".join(
        ("  ".join(c.ljust(w) for c, w in zip(r[:-1], widths, strict=True)) + "  " + r[-1]).rstrip() for r in table
    )


# -- the conflict matrix ---------------------------------------------------------------------------
CLEAN, TOUCH, CONFLICT, NOT_KNOWN = "clean", "touch", "conflict", "?"


def matrix(roles: Sequence[str], pair_states: Mapping[tuple[str, str], str]) -> list[list[str]]:
    """role x role states (symmetric; the diagonal is empty); '?' where the radar has no answer."""
    grid = []
    for a in roles:
        line = []
        for b in roles:
            if a == b:
                line.append("")
            else:
                line.append(pair_states.get((a, b)) or pair_states.get((b, a)) or NOT_KNOWN)
        grid.append(line)
    return grid
