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
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from coord.config import Config
from coord.errors import IdentityError, InvalidInputError, NotDurableError, NotFoundError
from coord.identity import check_role_syntax, validate_role
from coord.messages import BROADCAST, LIFECYCLE_TYPES, Message, MessageType, check_body, parse_type
from coord.presence import Status
from coord.resp import DEFAULT_TIMEOUT, items, pairs
from coord.resp import number as resp_number
from coord.scripts import ACK, CHECK, DEREGISTER, HEARTBEAT, NOTIFICATIONS, PUBLISH, REGISTER, TURN
from coord.store_checks import (
    MAX_LIMIT,
    check_limit,
    check_publish_id,
    check_session_id,
    ended_error,
    held_error,
    loop_error,
    new_publish_id,
    repeat_digest,
)
from coord.store_connection import CONFIGURED_FIX, StoreConnection
from coord.store_results import (
    AckResult,
    CheckResult,
    HeartbeatResult,
    Notifications,
    PresenceView,
    PublishResult,
    RegisterResult,
    TurnResult,
    decode_records,
    id_seconds,
    message_from_row,
    view,
)

if TYPE_CHECKING:
    from coord.repo import RepoPaths

EVENTS_MAXLEN = 10000  # lifecycle events kept (approximately: MAXLEN ~)
TURN_LIMIT = 20  # messages a per-turn hook shows at most
PUBLISH_ID_TTL = 86400  # seconds a publish id is remembered: a resend within it is not delivered again
_STREAM_ID = re.compile(r"\d{1,20}-\d{1,20}")


def _float(value: object) -> float | None:
    if value in (None, ""):
        return None
    number = resp_number(value)
    return number if math.isfinite(number) else None


# -- the store --------------------------------------------------------------------------
class Store(StoreConnection):
    """coord's coordination state for one repository namespace.

    `url` is a URL or a callable returning one: the callable is asked again after the server
    could not be reached, so an embedded server restarted on another port is found again.
    `clock` None (the default): every time that decides something (heartbeats, staleness, claim
    expiry, message timestamps) is the Redis server's (TIME in the scripts and pipelines), so the
    machines of a team may disagree about the time without taking over each other's roles. A
    callable returning Unix seconds replaces it; tests inject one to cross the stale boundary exactly.
    """

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
            raise held_error(role, str(state[1]), _float(state[2]), self.config.stale_seconds, str(state[3]))
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
                f"start the session with `coord session.start {role}` (its hooks and MCP server register it)",
            )
        if state[0] == "held":
            if state[3] == "1":
                raise held_error(role, str(state[1]), _float(state[2]), self.config.stale_seconds)
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
            ], *self.wait_commands()])
            self.check_waited(replies)
            event_id = str(replies[0])
            when = float(stamp[1]) if stamp else id_seconds(event_id)
            return PublishResult(sender, recipient, kind, when, {"events": event_id}, True, publish_id)
        targets = self.recipients(sender, recipient)
        if not targets:
            return PublishResult(sender, recipient, kind, 0.0, {}, False, publish_id)
        keys = [self.keys.published(publish_id), self.keys.repeat(repeat_digest(sender, recipient, kind.value, body))]
        for role in targets:
            keys += [self.keys.inbox(role), self.keys.pending(role), self.keys.alive(role)]
        try:
            reply = items(self._script(
                PUBLISH, keys,
                [sender, recipient, kind.value, body, self.now_arg(), PUBLISH_ID_TTL, self.config.repeat_limit,
                 self.config.repeat_window_seconds],
            ))
        except NotDurableError as exc:
            # resending this publish id delivers nothing twice: the script remembers it
            raise NotDurableError(f"{exc.message} (publish id {publish_id})", exc.fix) from None
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




def unreachable_fix(config: Config) -> str:
    """How to bring the store back: start the embedded server, or fix the configured one."""
    return CONFIGURED_FIX if config.redis_url else "start it with `coord redis.up`"


def store_namespace(paths: RepoPaths, config: Config) -> str:
    """The `namespace` setting, else the project's (coord.namespace: from the root commit)."""
    if config.namespace:
        return config.namespace
    from coord.layout import check_shallow_namespace
    from coord.namespace import resolve

    check_shallow_namespace(paths.common_dir, bool(config.redis_url))

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
        from coord.layout import check_shallow_namespace

        check_shallow_namespace(paths.common_dir, bool(config.redis_url))
        choice = project.resolve(paths)
        namespace, carry = choice.namespace, choice.carry_from

        def on_carried(old: str) -> None:
            project.mark_carried(paths, old)

    if config.redis_url:
        from coord.credentials import with_secret

        url = with_secret(config.redis_url, paths.state_dir)
        return Store(url, namespace, config, clock, timeout, carry, on_carried)
    from coord import embedded_start

    url = embedded_start.server_url(paths, start=start_server)

    def again() -> str:
        # First the state file's URL (hot path: a file read); after a failed connection the server
        # must prove it is ours, so a recycled pid or a stale file does not keep every call failing.
        nonlocal url
        if url:
            found, url = url, ""
            return found
        return embedded_start.server_url(paths, start=start_server, verified=True)

    return Store(again, namespace, config, clock, timeout, carry, on_carried)
