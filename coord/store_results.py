"""What the store returns, and how Redis replies become values: the result types of coord.store's
calls, the presence view peers see, and the decoding of records, stream rows and TIME replies.
Split from coord.store so the store's module holds the I/O; stdlib only at import time (the
per-prompt hook imports it on every turn)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import NamedTuple

from coord.messages import Message, MessageType
from coord.presence import PresenceRecord, Status, describe_age, effective_status
from coord.resp import items, pairs
from coord.resp import number as resp_number


# -- results ----------------------------------------------------------------------------
class PresenceView(NamedTuple):
    """One role as its peers should see it. Times are Unix seconds; None when never registered.
    A NamedTuple: presence() makes one per role, and a frozen dataclass costs 3x more to build."""

    role: str
    status: Status
    stale: bool
    seconds_since_heartbeat: float | None
    session_id: str | None
    worktree_path: str | None
    registered_at: float | None
    last_heartbeat: float | None
    configured: bool = True  # False: registered once, no longer in the configured roles
    host: str | None = None  # the machine the session runs on; worktree_path is a path there
    activity: str | None = None  # working / idle / needs_input (coord.delivery); None when never said
    activity_since: float | None = None  # server time the activity last changed

    def to_dict(self) -> dict[str, object]:
        # by hand: dataclasses.asdict deep-copies every field and dominated presence() at 200 roles
        return {
            "role": self.role,
            "status": self.status.value,
            "stale": self.stale,
            "seconds_since_heartbeat": self.seconds_since_heartbeat,
            "session_id": self.session_id,
            "worktree_path": self.worktree_path,
            "registered_at": self.registered_at,
            "last_heartbeat": self.last_heartbeat,
            "configured": self.configured,
            "host": self.host,
            "activity": self.activity,
            "activity_since": self.activity_since,
        }

    def summary(self) -> dict[str, object]:
        """What an agent needs to decide whom to delegate to (the MCP tool's row): every field of
        it is context the agent pays for on every call, times the number of roles."""
        age = self.seconds_since_heartbeat
        return {
            "role": self.role,
            "status": self.status.value,
            "stale": self.stale,
            "seconds_since_heartbeat": None if age is None else round(age, 1),
            "session_id": self.session_id,
            "host": self.host,
            "activity": self.activity,
            "activity_since": self.activity_since,
        }

    @property
    def age(self) -> str:
        """Short age of the last heartbeat ('-' when never registered)."""
        return "-" if self.seconds_since_heartbeat is None else describe_age(self.seconds_since_heartbeat)


@dataclass(frozen=True)
class RegisterResult:
    """How a registration went: 'new', 'same' (idempotent re-registration), 'restart' (the previous
    session ended cleanly) or 'takeover' (of a stale session)."""

    role: str
    session_id: str
    outcome: str
    previous_session: str | None = None
    previous_age: float | None = None

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class HeartbeatResult:
    role: str
    session_id: str
    reactivated: bool  # the session was stale or inactive before this heartbeat

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class PublishResult:
    """Where a message went. `ids` maps each recipient role to the message's id in its inbox;
    a lifecycle event has one id under the key 'events'."""

    sender: str
    recipient: str
    type: MessageType
    timestamp: float
    ids: dict[str, str]
    event: bool
    publish_id: str = ""
    duplicate: bool = False  # this publish id was delivered before (a resend): nothing delivered again
    waiting: tuple[str, ...] = ()  # recipients with no live session: the mail waits in their inbox

    def to_dict(self) -> dict[str, object]:
        data = asdict(self)
        data["type"] = self.type.value
        data["waiting"] = list(self.waiting)
        if self.waiting:
            data["note"] = waiting_note(self.waiting)
        return data


def waiting_note(roles: Sequence[str]) -> str:
    """One line telling the sender that the recipients are not there (the message is kept)."""
    names = ", ".join(roles)
    verb = "has" if len(roles) == 1 else "have"
    return f"{names} {verb} no live session: the message waits in the inbox until a session takes the role"


@dataclass(frozen=True)
class CheckResult:
    """The role's unacknowledged messages, oldest first, and how many there are in all."""

    role: str
    messages: list[Message]
    total: int

    def to_dict(self) -> dict[str, object]:
        return {"role": self.role, "total": self.total, "messages": [m.to_dict() for m in self.messages]}


@dataclass(frozen=True)
class AckResult:
    acknowledged: list[str]
    unknown: list[str]  # not pending for this role (already acknowledged, someone else's, or no such id)

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class Notifications:
    """Pending messages of a role in summary: the count, per type, and the newest few (newest first)."""

    role: str
    count: int
    by_type: dict[str, int]
    recent: list[Message]

    def to_dict(self) -> dict[str, object]:
        return {
            "role": self.role,
            "count": self.count,
            "by_type": dict(self.by_type),
            "recent": [m.to_dict() for m in self.recent],
        }


@dataclass(frozen=True)
class TurnResult:
    """What the per-turn hook needs, from one round trip.

    state: 'active' (this session holds the role; heartbeat done), 'claimed' (the role was free:
    never registered, inactive, stale or held by a session that is no longer live, and this session
    registered it now) or 'held' (another live session holds it: nothing changed, no messages; the
    hook should block the prompt and say so). messages: pending messages not shown before (oldest
    first, at most `limit`); more: how many further unseen ones wait; pending: every unacknowledged one.
    """

    role: str
    session_id: str
    state: str
    holder_session: str | None = None
    holder_age: float | None = None
    messages: list[Message] = field(default_factory=list)
    more: int = 0
    pending: int = 0

    @property
    def held(self) -> bool:
        return self.state == "held"

    def to_dict(self) -> dict[str, object]:
        data = asdict(self)
        data["messages"] = [m.to_dict() for m in self.messages]
        return data


# -- pure helpers -----------------------------------------------------------------------
def decode_records(raw: dict[str, object]) -> dict[str, PresenceRecord]:
    """JSON presence records by role, decoded in one pass (one json.loads for all of them: at 200
    roles the per-record calls were most of presence()'s time); a corrupt record is dropped, so
    it shows as absent rather than breaking every reader."""
    import json

    roles = list(raw)
    try:
        decoded = json.loads("[" + ",".join(str(raw[r]) for r in roles) + "]")
        if not isinstance(decoded, list) or len(decoded) != len(roles):
            raise ValueError("record count")
    except ValueError:
        decoded = []
        for role in roles:
            try:
                decoded.append(_json_loads(str(raw[role])))
            except ValueError:
                decoded.append(None)
    records: dict[str, PresenceRecord] = {}
    for role, data in zip(roles, decoded, strict=True):
        try:
            records[role] = PresenceRecord.from_dict(data)
        except (ValueError, KeyError, TypeError, AttributeError):
            continue
    return records


def is_live(record: PresenceRecord | None, alive_session: str | None, now: float, stale_seconds: int) -> bool:
    """Live = effectively active by coord.presence AND the alive key (TTL) still exists.
    The Lua `live()` in coord.lua mirrors this."""
    if record is None or alive_session is None:
        return False
    return effective_status(record, now, stale_seconds) is Status.ACTIVE


def view(
    role: str, record: PresenceRecord | None, alive_session: str | None, now: float, stale_seconds: int,
    configured: bool = True,
) -> PresenceView:
    """A stored record as peers see it. An active record whose alive key expired counts as stale."""
    if record is None:
        return PresenceView(role, Status.ABSENT, False, None, None, None, None, None, configured)
    status = effective_status(record, now, stale_seconds)
    if status is Status.ACTIVE and alive_session is None and configured:
        status = Status.STALE
    return PresenceView(
        role=role,
        status=status,
        stale=status is Status.STALE,
        seconds_since_heartbeat=max(0.0, now - record.last_heartbeat),
        session_id=record.session_id,
        worktree_path=record.worktree_path,
        registered_at=record.registered_at,
        last_heartbeat=record.last_heartbeat,
        configured=configured,
        host=record.host or None,
        activity=record.activity or None,
        activity_since=record.activity_since or None,
    )


def seconds_of(reply: object) -> float:
    """A TIME reply [seconds, microseconds] as Unix seconds."""
    sec, usec = items(reply)
    return int(str(sec)) + int(str(usec)) / 1_000_000


def id_seconds(stream_id: str) -> float:
    """The server's time when it made a stream id '<ms>-<seq>'."""
    return int(stream_id.split("-", 1)[0]) / 1000


def message_from_row(row: Sequence[object]) -> Message:
    """A stream entry [id, [field, value, ...]] as a Message; without a ts field, the id's time."""
    fields = pairs(items(row[1]))
    ts = fields.get("ts")
    return Message(
        id=str(row[0]),
        sender=str(fields.get("sender", "")),
        recipient=str(fields.get("recipient", "")),
        type=str(fields.get("type", "")),
        body=str(fields.get("body", "")),
        timestamp=resp_number(ts) if ts not in (None, "") else id_seconds(str(row[0])),
    )


def _json_loads(text: str) -> dict[str, object]:
    import json

    data = json.loads(text)
    if not isinstance(data, dict):
        raise ValueError("record is not an object")
    return data
