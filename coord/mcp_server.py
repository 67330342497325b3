"""The MCP server each agent session runs (`coord mcp`, stdio): the store as tools.

Identity is fixed when the server starts, from its environment (CLAUDE_INSTANCE_ID, else the
checkout's git identity, else the main role in the main checkout) and checked against the
checkout the session runs in. No tool takes a sender or a role to act as, so a session can
only register, heartbeat and deregister itself, and read and acknowledge its own messages.
An invalid identity does not stop the server: every tool answers with the reason and the fix.

The server heartbeats by itself every heartbeat_seconds, so a live session never goes stale,
and it reconnects on the next call after Redis comes back. stdout is the MCP wire: logs go
to stderr. The mcp SDK (~0.7 s to import) is imported only when a server is built. The tool
names live in coord.catalog.claude (plain data); build_server registers exactly those.
"""

import contextlib
import os
import sys
import threading
import uuid
from collections.abc import Callable, Mapping
from contextlib import asynccontextmanager
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

from coord.actor import Actor, email_from_git, resolve_actor
from coord.catalog.claude import SERVER_NAME, Tool
from coord.config import Config, load_config
from coord.errors import CoordError, IdentityError, NotFoundError, SessionEndedError
from coord.messages import BROADCAST, MessageType
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
        self._lock = threading.Lock()
        # publish ids of sends that failed (the reply may have been lost after delivery): an identical
        # resend reuses the id, so the store recognises it and does not deliver it twice
        self._unsent: dict[tuple[str, str, str], str] = {}
        self._store: Store | None = None
        self._store_factory = store_factory
        self._radar_store: Store | None = None
        if environ.get(PRESENCE_ENV, "").strip() == PRESENCE_BY_HOOKS:
            # Codex / Gemini CLI: the hooks own presence (they know the session id; this server does
            # not), so a registration here would hold the role against the session's own hooks. The
            # tools still act as the role; the server never registers, heartbeats or deregisters.
            self.state = RegistrationState.DEREGISTERED
        try:
            paths = find_repo(cwd if cwd is not None else os.getcwd())
            config = load_config(paths.main_root, environ)
            self.actor = resolve_actor(paths, config, environ, lambda: email_from_git(paths))
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
        return self.actor

    def store(self) -> "Store":
        actor = self._require()
        if self._store is None:
            if self._store_factory is not None:
                self._store = self._store_factory(actor.paths, actor.config)
            else:
                from coord.store import open_store

                self._store = open_store(actor.paths, actor.config, start_server=True)
        return self._store

    def close(self) -> None:
        with self._lock:
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
        """Registration deferred by an outage is made before the next tool runs."""
        if self.state is RegistrationState.PENDING:
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
        self._require()
        with self._lock:
            return self._register_locked()

    def deregister(self) -> dict[str, Any]:
        actor = self._require()
        with self._lock:
            done = self.store().deregister(actor.role, self.session_id)
            self.state = RegistrationState.DEREGISTERED
        return {"role": actor.role, "session_id": self.session_id, "deregistered": done}

    def heartbeat(self) -> dict[str, Any]:
        def beat(store: "Store", actor: Actor) -> dict[str, Any]:
            result = store.heartbeat(actor.role, self.session_id)
            self.state = RegistrationState.REGISTERED
            return result.to_dict()

        return self.call(beat)

    def presence(self) -> dict[str, Any]:
        views = self.call(lambda store, actor: store.presence())
        return {"you": self.role, "session_id": self.session_id, "roles": [v.summary() for v in views]}

    def publish(self, to: str, type: MessageType | str, body: str) -> dict[str, Any]:
        # The sender is this server's role, never an argument.
        from coord.errors import StoreUnavailableError
        from coord.store import new_publish_id

        key = (str(to), str(getattr(type, "value", type)), str(body))
        publish_id = self._unsent.get(key) or new_publish_id()
        try:
            result = self.call(lambda store, actor: store.publish(actor.role, to, type, body, publish_id))
        except StoreUnavailableError:
            if len(self._unsent) >= UNSENT_KEPT:
                self._unsent.pop(next(iter(self._unsent)))
            self._unsent[key] = publish_id
            raise
        self._unsent.pop(key, None)
        return result.to_dict()

    def check(self, limit: int = 20) -> dict[str, Any]:
        return self.call(lambda store, actor: store.check(actor.role, limit)).to_dict()

    def ack(self, ids: list[str]) -> dict[str, Any]:
        return self.call(lambda store, actor: store.ack(actor.role, ids)).to_dict()

    def notifications(self) -> dict[str, Any]:
        return self.call(lambda store, actor: store.notifications(actor.role)).to_dict()

    # -- conflict radar and file claims (coord.radar, coord.claim_store) --------------------
    def check_conflicts(self) -> dict[str, Any]:
        """This agent's pairs: its branch against every other agent's and the base branch."""
        from coord import radar

        report = self.call(lambda store, actor: radar.run(actor.paths, actor.config, store, only=actor.role))
        return {"you": self.role, **report.to_dict()}

    def claim_files(self, paths: list[str], reason: str, ttl_seconds: int | None = None) -> dict[str, Any]:
        from coord import claim_store
        from coord.claims import to_repo_pattern

        actor = self._require()
        cwd = os.getcwd()
        patterns = [to_repo_pattern(p, cwd, str(actor.paths.toplevel)) if isinstance(p, str) else p for p in paths]
        result = self.call(lambda store, a: claim_store.claim(store, a.role, patterns, reason, ttl_seconds))
        return result.to_dict()

    def release_files(self, paths: list[str] | None = None) -> dict[str, Any]:
        from coord import claim_store
        from coord.claims import to_repo_pattern

        actor = self._require()
        cwd = os.getcwd()
        patterns = [to_repo_pattern(p, cwd, str(actor.paths.toplevel)) for p in paths or []]
        return self.call(lambda store, a: claim_store.release(store, a.role, patterns)).to_dict()

    def get_claims(self) -> dict[str, Any]:
        from coord import claim_store

        return {"you": self.role, **self.call(lambda store, actor: claim_store.read(store)).to_dict()}

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


# -- the SDK layer --------------------------------------------------------------------------
def build_server(service: Service | None = None, autostart: bool = False) -> Any:
    """An MCPServer with the coord tools. autostart: register at start-up and heartbeat every
    heartbeat_seconds while a client is connected (`coord mcp` does; listing the tools does not)."""
    import anyio
    from mcp.server import MCPServer
    from mcp.server.mcpserver.exceptions import ToolError
    from pydantic import Field

    svc = service if service is not None else Service()

    def run(fn: Callable[[], T]) -> T:
        try:
            return fn()
        except CoordError as exc:
            raise ToolError(exc.line()) from None

    @asynccontextmanager
    async def lifespan(_server: Any) -> Any:
        if not autostart or svc.actor is None:
            if svc.problem is not None:
                log(svc.problem.line())
            yield {}
            return
        await anyio.to_thread.run_sync(svc.tick)
        log(f"role {svc.role}, session {svc.session_id}: {svc.state.value}")
        async with anyio.create_task_group() as group:

            async def beat() -> None:
                while True:
                    await anyio.sleep(svc.heartbeat_seconds)
                    await anyio.to_thread.run_sync(svc.tick)
                    await anyio.to_thread.run_sync(svc.radar_tick)

            group.start_soon(beat)
            if svc.waker is not None:
                from coord.waker import POLL_SECONDS

                async def wake() -> None:
                    while True:
                        await anyio.sleep(POLL_SECONDS)
                        await anyio.to_thread.run_sync(svc.wake_tick)

                group.start_soon(wake)
            try:
                yield {}
            finally:
                group.cancel_scope.cancel()
                svc.shutdown()

    server = MCPServer(
        SERVER_NAME,
        instructions="Presence and messages between the agents working on this repository. "
        "You act as the role coord started you with; tools never take a sender.",
        lifespan=lifespan,
    )


    @server.tool(name=Tool.REGISTER_PRESENCE.value, description="Register this session as its role (done at start).")
    def register_presence() -> dict[str, Any]:
        return run(svc.register)

    @server.tool(name=Tool.DEREGISTER_PRESENCE.value, description="Mark this session's role inactive.")
    def deregister_presence() -> dict[str, Any]:
        return run(svc.deregister)

    @server.tool(name=Tool.HEARTBEAT.value, description="Refresh this session's presence (automatic every minute).")
    def heartbeat() -> dict[str, Any]:
        return run(svc.heartbeat)

    @server.tool(name=Tool.GET_PRESENCE.value, description="Every role: status, stale flag, seconds since heartbeat.")
    def get_presence() -> dict[str, Any]:
        return run(svc.presence)

    @server.tool(name=Tool.PUBLISH_MESSAGE.value, description="Send a message to a role or to 'all'.")
    def publish_message(
        to: Annotated[str, Field(description=f"recipient role, or '{BROADCAST}'")],
        type: MessageType,
        body: Annotated[str, Field(description="text, at most 64 KiB")],
    ) -> dict[str, Any]:
        return run(lambda: svc.publish(to, type, body))

    @server.tool(name=Tool.CHECK_MESSAGES.value, description="Your unacknowledged messages, oldest first.")
    def check_messages(limit: Annotated[int, Field(ge=1, le=1000)] = 20) -> dict[str, Any]:
        return run(lambda: svc.check(limit))

    @server.tool(name=Tool.ACK_MESSAGES.value, description="Acknowledge your messages by id once handled.")
    def ack_messages(ids: Annotated[list[str], Field(description="message ids")]) -> dict[str, Any]:
        return run(lambda: svc.ack(ids))

    @server.tool(name=Tool.GET_NOTIFICATIONS.value, description="Count and types of your pending messages.")
    def get_notifications() -> dict[str, Any]:
        return run(svc.notifications)

    @server.tool(
        name=Tool.CHECK_CONFLICTS.value,
        description="Would your branch conflict with another agent's or the base branch if merged? Per pair: "
        "conflict (files), touch (both changed the same files, merges cleanly) or clean. Uses git merge-tree; "
        "nothing is checked out.",
    )
    def check_conflicts() -> dict[str, Any]:
        return run(svc.check_conflicts)

    @server.tool(
        name=Tool.CLAIM_FILES.value,
        description="Claim paths or globs (src/api/**, docs/*.md; a folder covers what is under it) for a while: "
        "other roles' edits and commits of them are refused. Refused, with the holder and reason, if another "
        "live role holds an overlapping claim.",
    )
    def claim_files(
        paths: Annotated[list[str], Field(description="repository-relative paths or globs", min_length=1)],
        reason: Annotated[str, Field(description="what you are doing there (shown to others)")],
        ttl_seconds: Annotated[int | None, Field(ge=1, description="lifetime (default: claim_ttl_seconds)")] = None,
    ) -> dict[str, Any]:
        return run(lambda: svc.claim_files(paths, reason, ttl_seconds))

    @server.tool(name=Tool.RELEASE_FILES.value, description="Release your claims (the given patterns, or all).")
    def release_files(
        paths: Annotated[list[str] | None, Field(description="patterns as claimed; omit to release all")] = None,
    ) -> dict[str, Any]:
        return run(lambda: svc.release_files(paths))

    @server.tool(name=Tool.GET_CLAIMS.value, description="Every file claim: holder, reason, status, time left.")
    def get_claims() -> dict[str, Any]:
        return run(svc.get_claims)

    @server.tool(name=Tool.HOOK.value, structured_output=False,
                 description="Internal: Claude Code's hooks call this after tool calls and at Stop. Not for agents.")
    def hook(event: str = "", stop_hook_active: str = "", notification_type: str = "") -> str:
        return run(lambda: svc.hook(event, stop_hook_active, notification_type))

    return server


def main(extend: Callable[[Any], None] | None = None) -> None:
    """`coord mcp`: serve the tools over stdio for one agent session. extend(server) may add tools
    first (the benchmark's no-op baseline), so it measures exactly this server."""
    service = Service()
    if service.problem is not None:
        log(service.problem.line())
    server = build_server(service, autostart=True)
    if extend is not None:
        extend(server)
    try:
        server.run("stdio")
    except KeyboardInterrupt:
        pass
    finally:
        service.close()


if __name__ == "__main__":
    main()
