"""The logic behind coord's MCP tools, without the SDK: the session's identity, fixed at start and
checked against its checkout; registration and heartbeats by the server itself; one store and one
lock for the tools (worker threads) and the heartbeat beside them. Split from coord.mcp_server,
the face that wires this to the mcp SDK and serves it (`coord mcp`); this module never imports
the SDK, and stdout is the MCP wire, so it logs to stderr.
"""

import contextlib
import os
import sys
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from coord import tool_results as results
from coord.actor import Actor, email_from_git, resolve_actor
from coord.config import Config, load_config
from coord.errors import CoordError, IdentityError, NotFoundError, SessionEndedError
from coord.held_checkout import HeldCheckout, cwd_or
from coord.messages import MessageType, parse_agent_type
from coord.repo import RepoPaths, find_repo
from coord.session_env import PRESENCE_BY_HOOKS, PRESENCE_ENV

UNSENT_KEPT = 100  # failed publishes whose ids are kept for an identical resend

if TYPE_CHECKING:
    from coord.store import Store

SESSION_ENV = "CLAUDE_CODE_SESSION_ID"
T = TypeVar("T")
FALLBACK_SESSION_ENV = "COORD_SESSION_ID"


def log(text: str) -> None:
    """stderr only: stdout carries the protocol."""
    print(f"coord mcp: {text}", file=sys.stderr, flush=True)


def session_id_from(environ: Mapping[str, str]) -> str:
    """Claude Code's own session id (it sets it in the server's environment), else COORD_SESSION_ID,
    else a fresh one."""
    for name in (SESSION_ENV, FALLBACK_SESSION_ENV):
        value = environ.get(name, "").strip()
        if value:
            return value
    return f"mcp-{uuid.uuid4()}"


# -- the service behind the tools ---------------------------------------------------------
class RegistrationState(StrEnum):
    PENDING = "pending"  # not registered yet (e.g. Redis was down at start): retried on every call and tick
    REGISTERED = "registered"  # this session holds its role: heartbeats keep it live
    REFUSED = "refused"  # another live session holds the role: reported by the tools, retried on ticks
    DEREGISTERED = "deregistered"  # the agent deregistered itself: no automatic heartbeats
    ENDED = "ended"  # the session's end hook ran first: never revived automatically, only if it resumes


class Service:
    """The tools' logic without the SDK: identity fixed at construction, one store, one lock
    (tools run in worker threads and the heartbeat runs beside them on the same connection)."""

    def __init__(
        self,
        environ: Mapping[str, str] | None = None,
        cwd: Path | str | None = None,
        store_factory: Callable[[RepoPaths, Config], "Store"] | None = None,
    ) -> None:
        environ = dict(os.environ if environ is None else environ)
        self.session_id = session_id_from(environ)
        self.actor: Actor | None = None
        self.problem: CoordError | None = None
        self.state = RegistrationState.PENDING
        self.refusal: str | None = None
        self._lock = threading.RLock()  # re-entered when a tool finds its checkout gone (_end_gone)
        # publish ids of sends that failed (the reply may have been lost after delivery): an identical
        # resend reuses the id, so the store recognises it and does not deliver it twice
        self._unsent: dict[tuple[str, str, str], str] = {}
        self._store: Store | None = None
        self._store_factory = store_factory
        self._radar_store: Store | None = None
        self._checkout: HeldCheckout | None = None  # coord.held_checkout: is the worktree still there?
        self._gone_said = False
        if environ.get(PRESENCE_ENV, "").strip() == PRESENCE_BY_HOOKS:
            # Codex / Gemini CLI: the hooks own presence (they know the session id; this server does
            # not), so a registration here would hold the role against the session's own hooks. The
            # tools still act as the role; the server never registers, heartbeats or deregisters.
            self.state = RegistrationState.DEREGISTERED
        try:
            paths = find_repo(cwd if cwd is not None else os.getcwd())
            config = load_config(paths.main_root, environ)
            self.actor = resolve_actor(paths, config, environ, lambda: email_from_git(paths))
            self._checkout = HeldCheckout(paths.toplevel)
        except CoordError as exc:
            self.problem = exc
        self.waker = None
        if self.actor is not None:
            from coord.waker import waker_for

            cfg = self.actor.config
            self.waker = waker_for(environ, self.actor.role, self.session_id, cfg.main_role, cfg.wake_after_seconds)

    # -- plumbing -----------------------------------------------------------------------
    @property
    def role(self) -> str | None:
        return self.actor.role if self.actor else None

    @property
    def heartbeat_seconds(self) -> int:
        return self.actor.config.heartbeat_seconds if self.actor else Config().heartbeat_seconds

    def _require(self) -> Actor:
        if self.actor is None:
            assert self.problem is not None
            raise self.problem
        self._check_checkout(self.actor)
        return self.actor

    def _check_checkout(self, actor: Actor) -> None:
        """The session's worktree must still be the one it started in (coord.held_checkout)."""
        top = actor.paths.toplevel
        if self._checkout is not None and not self._checkout.gone():
            return
        gone = NotFoundError(
            f"this session's checkout {top} is gone (its worktree was torn down or deleted): it can no longer "
            f"act as {actor.role}",
            f"end this session; start a new one in a live worktree (coord session.start {actor.role})",
        )
        self._end_gone(actor, gone)
        raise gone

    def _end_gone(self, actor: Actor, gone: NotFoundError) -> None:
        """The first time the checkout is found gone: said once, and this session's own presence is
        ended (a deleted worktree must not look live until it goes stale). Never raises."""
        self.state = RegistrationState.ENDED
        if self._gone_said:
            return
        self._gone_said = True
        log(gone.line())
        with self._lock, contextlib.suppress(CoordError):  # held by another session, or Redis down: leave it
            self._store_of(actor).deregister(actor.role, self.session_id)

    def store(self) -> "Store":
        return self._store_of(self._require())

    def _store_of(self, actor: Actor) -> "Store":
        if self._store is None:
            if self._store_factory is not None:
                self._store = self._store_factory(actor.paths, actor.config)
            else:
                from coord.store import open_store

                self._store = open_store(actor.paths, actor.config, start_server=True)
        return self._store

    def close(self) -> None:
        with self._lock:
            if self._checkout is not None:
                self._checkout.close()
            if self._store is not None:
                self._store.close()
            if self._radar_store is not None:
                self._radar_store.close()

    def _register_locked(self, revive: bool = True) -> dict[str, Any]:
        actor = self._require()
        try:
            result = self.store().register(actor.role, self.session_id, str(actor.paths.toplevel), revive=revive)
        except SessionEndedError:
            self.state = RegistrationState.ENDED
            raise
        except IdentityError as exc:
            self.state = RegistrationState.REFUSED
            self.refusal = exc.line()
            raise
        self.state = RegistrationState.REGISTERED
        self.refusal = None
        return result.to_dict()

    def _ensure_registered_locked(self) -> None:
        """Registration deferred by an outage, or refused while another live session held the role,
        is tried again before the next tool runs (there is no registration tool: the server does it),
        so a session takes a role freed since (its holder ended or went stale) at its next call."""
        if self.state in (RegistrationState.PENDING, RegistrationState.REFUSED):
            # the tool itself reports what is wrong, if it needs the store at all
            with contextlib.suppress(CoordError):
                self._register_locked()

    def call(self, fn: Callable[["Store", Actor], T]) -> T:
        """Run one tool body under the lock; CoordError propagates (the SDK layer turns it into
        a ToolError)."""
        actor = self._require()
        with self._lock:
            self._ensure_registered_locked()
            return fn(self.store(), actor)

    # -- tools --------------------------------------------------------------------------
    def register(self) -> dict[str, Any]:
        """Registration (the server does it at start and on ticks; tests and the benchmarks call it)."""
        self._require()
        with self._lock:
            return self._register_locked()

    def heartbeat(self) -> dict[str, Any]:
        def beat(store: "Store", actor: Actor) -> dict[str, Any]:
            result = store.heartbeat(actor.role, self.session_id)
            self.state = RegistrationState.REGISTERED
            return result.to_dict()

        return self.call(beat)

    def presence(self) -> results.Presence:
        views, here = self.call(lambda store, actor: (store.presence(), store.host))
        refused = self.refusal if self.state is RegistrationState.REFUSED else None
        return results.presence(self._require().role, views, here, refused)

    def publish(self, to: str, type: MessageType | str, body: str) -> results.Sent:
        # The sender is this server's role, never an argument; lifecycle types are coord's own.
        from coord.errors import StoreUnavailableError
        from coord.store_checks import new_publish_id

        kind = parse_agent_type(type)
        key = (str(to), kind.value, str(body))
        publish_id = self._unsent.get(key) or new_publish_id()
        try:
            sent = self.call(lambda store, actor: store.publish(actor.role, to, kind, body, publish_id))
        except StoreUnavailableError:
            if len(self._unsent) >= UNSENT_KEPT:
                self._unsent.pop(next(iter(self._unsent)))
            self._unsent[key] = publish_id
            raise
        self._unsent.pop(key, None)
        return results.sent(sent.type.value, sent.recipient, sent.ids, sent.waiting, sent.duplicate)

    def check(self, limit: int = 20) -> results.Inbox:
        found = self.call(lambda store, actor: store.check(actor.role, limit))
        return results.inbox(found.messages, found.total, time.time())

    def ack(self, ids: list[str]) -> results.Acked:
        done = self.call(lambda store, actor: store.ack(actor.role, ids))
        return results.acked(done.acknowledged, done.unknown)

    def notifications(self) -> results.Summary:
        notes = self.call(lambda store, actor: store.notifications(actor.role))
        return results.summary(notes.count, notes.by_type, notes.recent, time.time())

    # -- conflict radar and file claims (coord.radar, coord.claim_store) --------------------
    def check_conflicts(self) -> results.Conflicts:
        """This agent's pairs: its branch against every other agent's and the base branch."""
        from coord import radar

        report = self.call(lambda store, actor: radar.run(actor.paths, actor.config, store, only=actor.role))
        return results.conflicts(self._require().role, report.results, report.store_error)

    def claim_files(self, paths: list[str], reason: str, ttl_seconds: int | None = None) -> results.Claimed:
        from coord import claim_store
        from coord.claims import to_repo_pattern

        actor = self._require()
        cwd = cwd_or(actor.paths.toplevel)
        patterns = [to_repo_pattern(p, cwd, str(actor.paths.toplevel)) if isinstance(p, str) else p for p in paths]
        done = self.call(lambda store, a: claim_store.claim(store, a.role, patterns, reason, ttl_seconds))
        return results.claimed(done.granted, done.removed_lapsed)

    def release_files(self, paths: list[str] | None = None) -> results.Released:
        from coord import claim_store
        from coord.claims import to_repo_pattern

        actor = self._require()
        cwd = cwd_or(actor.paths.toplevel)
        patterns = [to_repo_pattern(p, cwd, str(actor.paths.toplevel)) for p in paths or []]
        done = self.call(lambda store, a: claim_store.release(store, a.role, patterns))
        return results.released(done.released, done.not_held)

    def get_claims(self) -> results.Claims:
        from coord import claim_store

        view = self.call(lambda store, actor: claim_store.read(store))
        return results.claims(view.claims, view.live_roles, view.now)

    def radar_tick(self) -> None:
        """The background conflict check for this agent's branch (announces new conflicts once).
        Its own store connection, outside the tools' lock: git merges must not hold up the tools.
        Never raises."""
        if self.actor is None or self.state is not RegistrationState.REGISTERED:
            return
        from coord import radar

        try:
            if self._radar_store is None:
                if self._store_factory is not None:
                    self._radar_store = self._store_factory(self.actor.paths, self.actor.config)
                else:
                    from coord.store import open_store

                    self._radar_store = open_store(self.actor.paths, self.actor.config, start_server=False)
            from coord.remote import push_quietly

            # across machines: this agent's new commits go to the shared remote before the radar runs
            push_quietly(self.actor.paths, self.actor.config, self.actor.role, log)
            radar.run_quietly(self.actor.paths, self.actor.config, self._radar_store, self.actor.role, log)
        except CoordError as exc:
            log(f"conflict radar: {exc.line()}")

    # -- the team loop (coord.delivery, coord.waker) -----------------------------------------
    def hook(self, event: str, stop_hook_active: str = "", notification_type: str = "") -> str:
        """Claude Code's mcp_tool hooks (PostToolUse, PostToolUseFailure, Stop, Notification): the
        JSON text a command hook would print, or "" (nothing new). For this server's own session
        only (no session or role argument). An invalid identity is an error like every tool's; an
        unreachable store says nothing rather than disturb every tool call."""
        import json

        from coord import delivery

        def given(value: str) -> str:  # a field the event lacks may come through unsubstituted
            return "" if not isinstance(value, str) or value.startswith("${") else value

        self._require()
        fields = {"stop_hook_active": given(stop_hook_active), "notification_type": given(notification_type)}
        try:
            out = self.call(lambda store, actor: delivery.answer(store, actor.role, self.session_id, given(event),
                                                                 fields))
        except CoordError as exc:
            log(f"hook {event}: {exc.line()}")
            return ""
        return json.dumps(out) if out else ""

    def wake_tick(self) -> None:
        """The idle waker's look (coord.waker), for sessions coord started in tmux. Never raises."""
        if self.waker is None or self.state is not RegistrationState.REGISTERED:
            return
        with self._lock:
            try:
                line = self.waker.tick(self.store())
            except CoordError as exc:
                log(f"waker: {exc.line()}")
                return
        if line:
            log(f"waker typed: {line}")

    def shutdown(self) -> None:
        """The client went away (session over): mark the role inactive, history kept. A killed
        server never gets here; its session goes stale instead. Never raises."""
        if self.actor is not None and self.state is RegistrationState.REGISTERED:
            with self._lock:
                try:
                    self.store().deregister(self.actor.role, self.session_id)
                    self.state = RegistrationState.DEREGISTERED
                except CoordError as exc:
                    log(exc.line())
        self.close()

    def _checkout_gone(self, actor: Actor) -> bool:
        """True when the session's checkout is gone (see _end_gone)."""
        try:
            self._check_checkout(actor)
            return False
        except NotFoundError:
            return True

    # -- background -----------------------------------------------------------------------
    def tick(self) -> None:
        """The automatic heartbeat: keeps a registered session live, retries a deferred or refused
        registration, leaves a deregistered session alone. Never raises. It never revives a session
        whose end was recorded (the server can outlive, or start after, the SessionEnd hook): that
        would hold the role for stale_seconds after the agent left. A resumed session is re-registered
        by its hooks, and the next tick follows it."""
        if self.actor is None or self.state is RegistrationState.DEREGISTERED:
            return
        with self._lock:
            if self._checkout_gone(self.actor):
                return
            try:
                if self.state is RegistrationState.REGISTERED:
                    try:
                        self.store().heartbeat(self.actor.role, self.session_id, revive=False)
                    except SessionEndedError:
                        self.state = RegistrationState.ENDED
                    except NotFoundError:
                        self._register_locked(revive=False)  # the store lost the record (flushed): take it again
                else:
                    self._register_locked(revive=False)
            except SessionEndedError:
                pass  # still ended: said once at start-up, not every tick
            except CoordError as exc:
                log(exc.line())
