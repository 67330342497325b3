"""Presence records and the staleness decision, with the clock passed in.

Decision, documented in README and the rules: a session whose last heartbeat is
`stale_seconds` old or OLDER is stale (the boundary itself is stale), so a heartbeat every
`heartbeat_seconds` < `stale_seconds` keeps a session live with room for a missed beat.
"""

from __future__ import annotations

from enum import StrEnum
from typing import NamedTuple


class Activity(StrEnum):
    """What a live agent is doing, as its hooks last reported it."""

    WORKING = "working"  # a prompt was submitted or a tool just ran
    IDLE = "idle"  # its turn ended (Stop) or it has just started: it waits at its prompt
    NEEDS_INPUT = "needs_input"  # the CLI asks its human (a permission prompt, or an idle prompt notification)


class Status(StrEnum):
    """What a role's presence says to its peers."""

    ACTIVE = "active"  # registered and heartbeating
    STALE = "stale"  # registered, but no heartbeat for stale_seconds
    INACTIVE = "inactive"  # deregistered (session ended); history kept
    ABSENT = "absent"  # never registered
    UNKNOWN = "unknown"  # the store could not be reached


def _seconds(value: object) -> float:
    """A timestamp field of a stored record (a JSON number, or text); TypeError for anything else."""
    if isinstance(value, str | int | float):
        return float(value)
    raise TypeError(f"expected a number, got {type(value).__name__}")


class PresenceRecord(NamedTuple):
    """One role's stored presence. Times are Unix seconds (float). A NamedTuple, not a dataclass:
    presence reads build one per role (200 at a time) and a frozen dataclass costs 3x more to make."""

    role: str
    session_id: str
    worktree_path: str
    registered_at: float
    last_heartbeat: float
    status: str  # Status.ACTIVE or Status.INACTIVE as stored; STALE is derived, never stored
    host: str = ""  # the machine the session runs on (worktree_path is a path on that machine)
    # What the agent is doing, written by its hooks (coord.delivery): working, idle or needs_input
    # ("" before any hook said); since when (server time); and the hook event that said so.
    activity: str = ""
    activity_since: float = 0.0
    activity_event: str = ""

    def to_dict(self) -> dict[str, object]:
        return self._asdict()

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> PresenceRecord:
        return cls(
            str(data["role"]),
            str(data.get("session_id", "")),
            str(data.get("worktree_path", "")),
            _seconds(data.get("registered_at", 0.0)),
            _seconds(data.get("last_heartbeat", 0.0)),
            str(data.get("status", Status.INACTIVE.value)),
            str(data.get("host", "")),
            str(data.get("activity", "") or ""),
            _seconds(data.get("activity_since", 0.0) or 0.0),
            str(data.get("activity_event", "") or ""),
        )


def is_stale(last_heartbeat: float, now: float, stale_seconds: int) -> bool:
    """True when the last heartbeat is stale_seconds old or older (the boundary is stale)."""
    return now - last_heartbeat >= stale_seconds


def effective_status(record: PresenceRecord | None, now: float, stale_seconds: int) -> Status:
    """The status peers should act on: stored active turns stale when heartbeats stop."""
    if record is None:
        return Status.ABSENT
    if record.status == "inactive":  # Status.INACTIVE's value; a plain str compare is the hot one
        return Status.INACTIVE
    if is_stale(record.last_heartbeat, now, stale_seconds):
        return Status.STALE
    return Status.ACTIVE


def may_claim(
    holder: PresenceRecord | None, session_id: str, now: float, stale_seconds: int
) -> bool:
    """A session may take a role unless ANOTHER session holds it and is still live."""
    if holder is None or holder.session_id == session_id:
        return True
    return effective_status(holder, now, stale_seconds) is not Status.ACTIVE


AGE_UNITS = ((120, 1), (7200, 60), (172800, 3600))  # below this many seconds, count in this unit


def age_parts(seconds: float) -> tuple[int, int]:
    """(count, unit index 0..3 = s, min, h, d): the largest unit that keeps an age readable. One
    rule for the tables' short ages (describe_age) and the agents' words (coord.texts.span)."""
    seconds = max(0, int(seconds))
    for index, (below, unit) in enumerate(AGE_UNITS):
        if seconds < below:
            return seconds // unit, index
    return seconds // 86400, len(AGE_UNITS)


def describe_age(seconds: float) -> str:
    """Short human age for tables and hook context: 42s, 7m, 3h, 2d."""
    count, unit = age_parts(seconds)
    return f"{count}{'smhd'[unit]}"
