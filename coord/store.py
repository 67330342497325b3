"""Presence, heartbeat, messages and notifications on Redis: one round trip per call.

The decisions (who may claim a role, what counts as stale, which types are lifecycle events,
what a valid body is) live in coord.presence / coord.messages / coord.identity; this module
validates with them, then does the I/O with a Lua script (coord.scripts) or a pipeline.
Stdlib only at import time: the per-prompt hook imports it on every turn.

Sender identity: `publish` takes the sender as a parameter, but the faces (MCP server, CLI,
hooks) fill it from their own fixed identity, never from a tool or command argument.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, NamedTuple, TypeVar

from coord.config import Config
from coord.errors import IdentityError, InvalidInputError, NotFoundError, SessionEndedError, StoreUnavailableError
from coord.identity import check_role_syntax, validate_role
from coord.keys import Keys, clean_namespace
from coord.messages import BROADCAST, LIFECYCLE_TYPES, Message, MessageType, check_body, parse_type
from coord.presence import PresenceRecord, Status, describe_age, effective_status
from coord.resp import DEFAULT_TIMEOUT, Arg, Connection, RespError, items, pairs
from coord.resp import number as resp_number
from coord.scripts import ACK, CHECK, DEREGISTER, HEARTBEAT, NOTIFICATIONS, PUBLISH, REGISTER, TURN, Script

T = TypeVar("T")

if TYPE_CHECKING:
    from coord.repo import RepoPaths

EVENTS_MAXLEN = 10000  # lifecycle events kept (approximately: MAXLEN ~)
MAX_LIMIT = 1000  # most messages one check/turn returns, and most ids one ack takes
TURN_LIMIT = 20  # messages a per-turn hook shows at most
MAX_SESSION_ID = 200
PUBLISH_ID_TTL = 86400  # seconds a publish id is remembered: a resend within it is not delivered again
_PUBLISH_ID = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
_STREAM_ID = re.compile(r"\d{1,20}-\d{1,20}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


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
    """How a registration went: 'new', 'same' (idempotent re-registration) or 'takeover'."""

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
    The Lua `live()` in coord.scripts mirrors this."""
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


def check_session_id(session_id: object) -> str:
    """Session ids are opaque printable strings; refuse anything that could garble a record."""
    if not isinstance(session_id, str) or not session_id.strip():
        raise InvalidInputError("session id is empty", "pass the Claude Code session id (CLAUDE_CODE_SESSION_ID)")
    if len(session_id) > MAX_SESSION_ID or _CONTROL.search(session_id) or not _encodable(session_id):
        raise InvalidInputError(
            "session id is too long or has control characters", f"use at most {MAX_SESSION_ID} printable characters"
        )
    return session_id


def _encodable(text: str) -> bool:
    """Lone surrogates (JSON "\\ud800") cannot be sent to Redis as UTF-8."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def this_host() -> str:
    """This machine's name as presence shows it (the `host` setting, COORD_HOST, overrides it)."""
    import socket

    return socket.gethostname() or "localhost"


def check_limit(limit: object, name: str = "limit") -> int:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise InvalidInputError(f"{name} must be a whole number from 1 to {MAX_LIMIT}", f"got {limit!r}")
    return limit


def _float(value: object) -> float | None:
    if value in (None, ""):
        return None
    number = resp_number(value)
    return number if math.isfinite(number) else None


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


def new_publish_id() -> str:
    """A fresh publish id: random, so two clients never share one."""
    import secrets

    return secrets.token_hex(12)


def check_publish_id(publish_id: object) -> str:
    if not isinstance(publish_id, str) or not _PUBLISH_ID.fullmatch(publish_id):
        raise InvalidInputError(
            f"publish id must be 1 to 64 letters, digits or ._:- , got {publish_id!r}",
            "omit it (one is generated), or resend the id of the publish whose reply was lost",
        )
    return publish_id


def repeat_digest(sender: str, recipient: str, type: str, body: str) -> str:
    """What makes two messages 'the same' for the loop guard."""
    import hashlib

    return hashlib.sha1("\0".join((sender, recipient, type, body)).encode("utf-8")).hexdigest()


def loop_error(sender: str, recipient: str, type: str, count: int, ms_left: int, config: Config) -> InvalidInputError:
    wait = max(1, math.ceil(ms_left / 1000)) if ms_left > 0 else config.repeat_window_seconds
    return InvalidInputError(
        f"refused as a loop: {sender} already sent this same {type} to {recipient} {count} times in "
        f"{config.repeat_window_seconds}s (repeat_limit {config.repeat_limit})",
        f"do not resend it; change the message, or wait {wait}s",
    )


def ended_error(role: str, session_id: str) -> SessionEndedError:
    return SessionEndedError(
        f"session {session_id} of role {role} has ended", "start a new session, or register explicitly to resume"
    )


def held_error(role: str, holder: str, age: float | None, host: str = "") -> IdentityError:
    shown = "" if age is None else f", last heartbeat {describe_age(age)} ago"
    where = f" on {host}" if host else ""
    return IdentityError(
        f"role {role} is held by another live session{where} ({holder}{shown})",
        "end that session first, or wait until it goes stale; use another role meanwhile",
    )


# -- the store --------------------------------------------------------------------------
class Store:
    """coord's coordination state for one repository namespace.

    `url` is a URL or a callable returning one: the callable is asked again after the server
    could not be reached, so an embedded server restarted on another port is found again.
    `clock` None (the default): every time that decides something (heartbeats, staleness, claim
    expiry, message timestamps) is the Redis server's (TIME in the scripts and pipelines), so the
    machines of a team may disagree about the time without taking over each other's roles. A
    callable returning Unix seconds replaces it; tests inject one to cross the stale boundary exactly.
    """

    def __init__(
        self,
        url: str | Callable[[], str],
        namespace: str,
        config: Config,
        clock: Callable[[], float] | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        carry_from: Sequence[str] = (),
        on_carried: Callable[[str], None] | None = None,
    ) -> None:
        self._url = url
        self.namespace = clean_namespace(namespace)
        self.keys = Keys(self.namespace)
        self.config = config
        self.clock = clock
        self.host = config.host or this_host()
        self.timeout = timeout
        self._conn: Connection | None = None
        self._spent = 0  # round trips of connections already dropped
        self._carry_from = tuple(clean_namespace(n) for n in carry_from if clean_namespace(n) != self.namespace)
        self._on_carried = on_carried

    # -- plumbing -----------------------------------------------------------------------
    @property
    def connection(self) -> Connection:
        if self._conn is None:
            url = self._url() if callable(self._url) else self._url
            self._conn = Connection(url, self.timeout)
        return self._conn

    @property
    def url(self) -> str:
        """The server URL without password."""
        return self.connection.endpoint.display()

    @property
    def round_trips(self) -> int:
        """Round trips to Redis made by this store so far (tests check they stay constant)."""
        return self._spent + (self._conn.round_trips if self._conn is not None else 0)

    def close(self) -> None:
        if self._conn is not None:
            self._spent += self._conn.round_trips
            self._conn.close()
            self._conn = None

    def _failed(self) -> None:
        """After an unreachable server: forget the connection so the URL is looked up again."""
        if callable(self._url):
            self.close()

    def _server_error(self, exc: RespError) -> StoreUnavailableError:
        return StoreUnavailableError(
            f"Redis at {self.url} answered with an error: {exc.message}",
            "check the server (coord redis.status) and that it is Redis >= 7 or Valkey with Lua enabled",
        )

    def _retrying(self, call: Callable[[Connection], T]) -> T:
        """Run call on the connection. With a URL callable (the embedded server), an unreachable
        server is looked up again, and so restarted when allowed, and the call made once more."""
        try:
            if self._carry_from:
                self._carry(self.connection)
            return call(self.connection)
        except StoreUnavailableError as exc:
            if not callable(self._url):
                # a configured server: `coord redis.up` cannot help, so the fix names the setting
                raise StoreUnavailableError(exc.message, CONFIGURED_FIX) from None
            self._failed()
        return call(self.connection)

    def _carry(self, conn: Connection) -> None:
        """First use after an upgrade or a first commit: bring older namespaces' data here before
        anything reads this one (coord.carry_over). An error reply (an ACL that does not cover the
        old keys) leaves the old data where it is and is not retried by this process."""
        from coord.carry_over import carry_over

        while self._carry_from:
            old = self._carry_from[0]
            try:
                carry_over(conn, old, self.namespace, self.config.roles)
            except RespError as exc:
                if exc.kind != "NOPERM":
                    self._carry_from = ()
                    return
            self._carry_from = self._carry_from[1:]
            if self._on_carried is not None:
                self._on_carried(old)

    def _script(self, script: Script, keys: Sequence[str], args: Sequence[Arg]) -> object:
        try:
            return self._retrying(lambda conn: script.run(conn, keys, args))
        except StoreUnavailableError:
            self._failed()
            raise
        except RespError as exc:
            raise self._server_error(exc) from None

    def _pipeline(self, commands: Sequence[Sequence[Arg]]) -> list[object]:
        try:
            replies: list[object] = self._retrying(lambda conn: conn.pipeline(commands))
        except StoreUnavailableError:
            self._failed()
            raise
        for reply in replies:
            if isinstance(reply, RespError):
                raise self._server_error(reply)
        return replies

    def run_script(self, script: Script, keys: Sequence[str], args: Sequence[Arg]) -> object:
        """Run a Lua script in one round trip, for modules that add their own (claims, radar).
        Unreachable server -> StoreUnavailableError; an error reply -> StoreUnavailableError naming it."""
        return self._script(script, keys, args)

    def pipeline(self, commands: Sequence[Sequence[Arg]]) -> list[object]:
        """Several commands in one round trip; an error reply raises StoreUnavailableError."""
        return self._pipeline(commands)

    # -- time -----------------------------------------------------------------------------
    def time_commands(self) -> list[list[Arg]]:
        """Append to a pipeline whose reads decide on time: [TIME] unless a clock is injected."""
        return [["TIME"]] if self.clock is None else []

    def now_of(self, replies: Sequence[object]) -> float:
        """The time of a pipeline built with time_commands() (its last reply), in Unix seconds."""
        if self.clock is not None:
            return float(self.clock())
        return seconds_of(replies[-1])

    def now_arg(self) -> str:
        """The `now` argument of a script: '' lets the script read the server's TIME itself."""
        return "" if self.clock is None else repr(float(self.clock()))

    def server_time(self) -> float:
        """The server's clock, Unix seconds (doctor compares it with this machine's)."""
        return seconds_of(self._pipeline([["TIME"]])[0])

    def ping(self) -> float:
        """Round-trip time in seconds (doctor, redis.status)."""
        start = time.perf_counter()
        self._pipeline([["PING"]])
        return time.perf_counter() - start

    # -- presence -----------------------------------------------------------------------
    def register(self, role: str, session_id: str, worktree_path: str, revive: bool = True) -> RegisterResult:
        """Take the role for this session; refused (IdentityError) while ANOTHER live session holds it.
        A stale or inactive holder is taken over; the same session again is idempotent. revive=False
        (the MCP server's start-up registration, which may come after the session's end hook) raises
        SessionEndedError instead of bringing this session's ended record back."""
        validate_role(role, self.config.roles)
        check_session_id(session_id)
        if not isinstance(worktree_path, str):
            raise InvalidInputError("worktree path must be text", "pass the checkout's absolute path")
        reply = self._script(
            REGISTER,
            [self.keys.presence, self.keys.alive(role)],
            [role, session_id, worktree_path, self.now_arg(), self.config.stale_seconds,
             self.config.presence_ttl_seconds, "1" if revive else "0", self.host],
        )
        state = items(reply)
        if state[0] == "ended":
            raise ended_error(role, session_id)
        if state[0] == "held":
            raise held_error(role, str(state[1]), _float(state[2]), str(state[3]))
        return RegisterResult(
            role=role,
            session_id=session_id,
            outcome=str(state[1]),
            previous_session=str(state[2]) or None,
            previous_age=_float(state[3]),
        )

    def heartbeat(self, role: str, session_id: str, revive: bool = True) -> HeartbeatResult:
        """Refresh this session's hold on its role (reactivating it if it had gone stale). revive=False
        (automatic heartbeats) raises SessionEndedError for a session whose end was recorded."""
        validate_role(role, self.config.roles)
        check_session_id(session_id)
        reply = self._script(
            HEARTBEAT,
            [self.keys.presence, self.keys.alive(role)],
            [role, session_id, self.now_arg(), self.config.stale_seconds, self.config.presence_ttl_seconds,
             "1" if revive else "0"],
        )
        state = items(reply)
        if state[0] == "ended":
            raise ended_error(role, session_id)
        if state[0] == "missing":
            raise NotFoundError(
                f"role {role} is not registered, so it cannot heartbeat",
                "register first (coord_register_presence, or start the session with `coord session.start "
                f"{role}`)",
            )
        if state[0] == "held":
            if state[3] == "1":
                raise held_error(role, str(state[1]), _float(state[2]))
            raise IdentityError(
                f"role {role} is registered to another session ({state[1]}), which is no longer live",
                "register again to take the role over",
            )
        return HeartbeatResult(role, session_id, reactivated=state[1] == "1")

    def deregister(self, role: str, session_id: str | None = None) -> bool:
        """Mark the role inactive (history kept) and drop its liveness key. session_id None is a
        human's forced teardown; otherwise only the holding session may deregister itself.
        Returns False when the role was never registered (nothing to do)."""
        check_role_syntax(role)
        if session_id is not None:
            check_session_id(session_id)
        reply = self._script(
            DEREGISTER, [self.keys.presence, self.keys.alive(role)], [role, session_id or ""]
        )
        state = items(reply)
        if state[0] == "held":
            raise IdentityError(
                f"role {role} is held by session {state[1]}, not by {session_id}",
                "a session can deregister only itself; a human can force it with `coord agent.teardown`",
            )
        return bool(state[0] == "ok")

    def presence(self) -> list[PresenceView]:
        """Every configured role (ABSENT when never registered), then any registered role no longer
        configured. One round trip: the presence hash and every configured role's liveness key."""
        roles = self.config.roles
        replies = self._pipeline(
            [["HGETALL", self.keys.presence], ["MGET", *(self.keys.alive(r) for r in roles)], *self.time_commands()]
        )
        now = self.now_of(replies)
        records = decode_records(pairs(items(replies[0])))
        alive = {r: None if v is None else str(v) for r, v in zip(roles, items(replies[1]), strict=True)}
        views = [view(r, records.get(r), alive.get(r), now, self.config.stale_seconds) for r in roles]
        for role in sorted(set(records) - set(roles)):
            views.append(view(role, records[role], None, now, self.config.stale_seconds, configured=False))
        return views

    def live_elsewhere(self, role: str) -> PresenceView | None:
        """The role's view when a live session holds it on ANOTHER machine (one holder team-wide),
        else None."""
        validate_role(role, self.config.roles)
        found = next((v for v in self.presence() if v.role == role), None)
        if found is None or found.status is not Status.ACTIVE or not found.host or found.host == self.host:
            return None
        return found

    # -- messages -----------------------------------------------------------------------
    def recipients(self, sender: str, recipient: str) -> list[str]:
        """A configured role, or every configured role but the sender for BROADCAST."""
        if recipient == BROADCAST:
            return [r for r in self.config.roles if r != sender]
        return [validate_role(recipient, self.config.roles)]

    def publish(
        self, sender: str, recipient: str, type: MessageType | str, body: str, publish_id: str | None = None
    ) -> PublishResult:
        """Deliver to one role or to all; lifecycle types go to the event log instead of inboxes.

        Exactly once: every call carries a publish id (generated here unless the caller resends one);
        the script remembers it with the ids it produced, so a retry after a lost reply (here, or by
        a caller passing the same id) gets the first delivery's ids back and delivers nothing again.
        Identical messages beyond repeat_limit within repeat_window_seconds are refused (a loop)."""
        validate_role(sender, self.config.roles)
        kind = parse_type(type)
        check_body(body, self.config.max_body_bytes)
        if recipient != BROADCAST:
            validate_role(recipient, self.config.roles)
        publish_id = check_publish_id(publish_id) if publish_id is not None else new_publish_id()
        if kind in LIFECYCLE_TYPES:
            # server time: no ts field; the entry id is the server's millisecond clock (message_from_row)
            stamp = [] if self.clock is None else ["ts", repr(float(self.clock()))]
            replies = self._pipeline([[
                "XADD", self.keys.events, "MAXLEN", "~", EVENTS_MAXLEN, "*",
                "sender", sender, "recipient", recipient, "type", kind.value, "body", body, *stamp,
            ]])
            event_id = str(replies[0])
            when = float(stamp[1]) if stamp else id_seconds(event_id)
            return PublishResult(sender, recipient, kind, when, {"events": event_id}, True, publish_id)
        targets = self.recipients(sender, recipient)
        if not targets:
            return PublishResult(sender, recipient, kind, 0.0, {}, False, publish_id)
        keys = [self.keys.published(publish_id), self.keys.repeat(repeat_digest(sender, recipient, kind.value, body))]
        for role in targets:
            keys += [self.keys.inbox(role), self.keys.pending(role), self.keys.alive(role)]
        reply = items(self._script(
            PUBLISH, keys,
            [sender, recipient, kind.value, body, self.now_arg(), PUBLISH_ID_TTL, self.config.repeat_limit,
             self.config.repeat_window_seconds],
        ))
        if reply[0] == "loop":
            sent, window = int(resp_number(reply[1])), int(resp_number(reply[2]))
            raise loop_error(sender, recipient, kind.value, sent, window, self.config)
        waits = str(reply[1])
        waiting = tuple(r for r, flag in zip(targets, waits, strict=True) if flag == "1")
        stamped = float(str(reply[2]))
        ids = [str(i) for i in reply[3:]]
        return PublishResult(sender, recipient, kind, stamped, dict(zip(targets, ids, strict=True)), False,
                             publish_id, duplicate=reply[0] == "dup", waiting=waiting)

    def check(self, role: str, limit: int = 50) -> CheckResult:
        """The role's unacknowledged messages, oldest first: read them, act, then ack. A reader that
        crashes before acknowledging gets the same messages again."""
        validate_role(role, self.config.roles)
        check_limit(limit)
        reply = items(self._script(CHECK, [self.keys.inbox(role), self.keys.pending(role)], [limit]))
        return CheckResult(role, [message_from_row(items(r)) for r in reply[1:]], int(resp_number(reply[0])))

    def ack(self, role: str, ids: Iterable[str]) -> AckResult:
        """Remove the role's own messages from its pending set. Ids that are not pending for this
        role are reported back, not an error (acknowledging twice is harmless)."""
        validate_role(role, self.config.roles)
        if isinstance(ids, str):
            ids = [ids]
        wanted = list(dict.fromkeys(ids))
        if len(wanted) > MAX_LIMIT:
            raise InvalidInputError(f"too many ids ({len(wanted)})", f"acknowledge at most {MAX_LIMIT} at a time")
        valid = [i for i in wanted if isinstance(i, str) and _STREAM_ID.fullmatch(i)]
        if not valid:
            return AckResult([], [str(i) for i in wanted])
        reply = self._script(ACK, [self.keys.pending(role)], valid)
        removed = {i for i, n in zip(valid, items(reply), strict=True) if int(resp_number(n))}
        return AckResult([i for i in valid if i in removed], [str(i) for i in wanted if i not in removed])

    def notifications(self, role: str) -> Notifications:
        """How many messages wait for the role, per type, and the newest few."""
        validate_role(role, self.config.roles)
        reply = items(self._script(
            NOTIFICATIONS, [self.keys.inbox(role), self.keys.pending(role)], [self.config.recent_notifications]
        ))
        by_type = {str(k): int(resp_number(v)) for k, v in pairs(items(reply[1])).items()}
        ordered = dict(sorted(by_type.items()))
        return Notifications(role, int(resp_number(reply[0])), ordered, [message_from_row(items(r)) for r in reply[2:]])

    def events(self, limit: int = 20) -> list[Message]:
        """The newest lifecycle events (session start/end, heartbeats), newest first."""
        check_limit(limit)
        rows = self._pipeline([["XREVRANGE", self.keys.events, "+", "-", "COUNT", limit]])[0]
        return [message_from_row(items(r)) for r in items(rows)]

    # -- the per-turn call --------------------------------------------------------------
    def turn(self, role: str, session_id: str, worktree_path: str = "", limit: int = TURN_LIMIT) -> TurnResult:
        """Heartbeat (claiming the role if it is free), the pending messages not shown before, and
        the pending count, in one round trip. Never raises for a role held by another live session:
        reports it (state 'held') so the hook can block the prompt with the reason."""
        validate_role(role, self.config.roles)
        check_session_id(session_id)
        check_limit(limit)
        k = self.keys
        reply = items(self._script(
            TURN,
            [k.presence, k.alive(role), k.inbox(role), k.pending(role), k.seen(role), k.continued(role)],
            [role, session_id, worktree_path or "", self.now_arg(), self.config.stale_seconds,
             self.config.presence_ttl_seconds, limit, self.host],
        ))
        return TurnResult(
            role=role,
            session_id=session_id,
            state=str(reply[0]),
            holder_session=str(reply[1]) or None,
            holder_age=_float(reply[2]),
            messages=[message_from_row(items(r)) for r in reply[5:]],
            more=int(resp_number(reply[4])),
            pending=int(resp_number(reply[3])),
        )

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _json_loads(text: str) -> dict[str, object]:
    import json

    data = json.loads(text)
    if not isinstance(data, dict):
        raise ValueError("record is not an object")
    return data


CONFIGURED_FIX = "check that the server runs and that COORD_REDIS_URL / redis_url is right"


def unreachable_fix(config: Config) -> str:
    """How to bring the store back: start the embedded server, or fix the configured one."""
    return CONFIGURED_FIX if config.redis_url else "start it with `coord redis.up`"


def store_namespace(paths: RepoPaths, config: Config) -> str:
    """The `namespace` setting, else the project's (coord.namespace: from the root commit)."""
    if config.namespace:
        return config.namespace
    from coord.namespace import resolve

    return resolve(paths).namespace


def open_store(
    paths: RepoPaths, config: Config, start_server: bool = True, clock: Callable[[], float] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> Store:
    """The store for a repository: config.redis_url when set, else the repository's embedded server
    (started when start_server and not running; else StoreUnavailableError with the fix). The
    not-running check reads a state file only, so the per-prompt hook stays fast. No connection is
    opened until the first call."""
    carry: tuple[str, ...] = ()
    on_carried: Callable[[str], None] | None = None
    if config.namespace:
        namespace = config.namespace
    else:
        from coord import namespace as project

        choice = project.resolve(paths)
        namespace, carry = choice.namespace, choice.carry_from

        def on_carried(old: str) -> None:
            project.mark_carried(paths, old)

    if config.redis_url:
        return Store(config.redis_url, namespace, config, clock, timeout, carry, on_carried)
    from coord import embedded

    url = embedded.server_url(paths, start=start_server)

    def again() -> str:
        # First the state file's URL (hot path: a file read); after a failed connection the server
        # must prove it is ours, so a recycled pid or a stale file does not keep every call failing.
        nonlocal url
        if url:
            found, url = url, ""
            return found
        return embedded.server_url(paths, start=start_server, verified=True)

    return Store(again, namespace, config, clock, timeout, carry, on_carried)
