"""`msg.*` tasks and `coord presence`, `coord mcp`: the coordination store for humans and scripts.

The sender of a message is the caller's own role (CLAUDE_INSTANCE_ID, else the checkout's git
identity, else the main role in the main checkout): there is no option to send as someone else.
"""

from __future__ import annotations

import json as _json
import os
import re
from typing import TYPE_CHECKING

from invoke.collection import Collection
from invoke.tasks import task

from coord.errors import InvalidInputError
from coord.tasks.boundary import guarded, workspace

if TYPE_CHECKING:
    from coord.actor import Actor
    from coord.store import Store


def _actor_and_store() -> tuple[Actor, Store]:
    from coord.actor import email_from_git, resolve_actor
    from coord.store import open_store

    paths, config = workspace()
    actor = resolve_actor(paths, config, os.environ, lambda: email_from_git(paths))
    return actor, open_store(paths, config)


def _line(message: object) -> str:
    from coord.messages import Message

    assert isinstance(message, Message)
    body = message.body if len(message.body) <= 2000 else message.body[:2000] + " [...]"
    return f"{message.id}  {message.type:<16} from {message.sender:<12} {body}"


@task(
    positional=["role", "type", "body"],
    help={"role": "recipient role, or 'all'", "type": "message type (see README)", "body": "the text"},
)
@guarded
def send(c: object, role: str | None = None, type: str | None = None, body: str | None = None) -> None:
    """Send TYPE BODY to ROLE (or 'all') as your own role."""
    if not role or not type or body is None:
        raise InvalidInputError("missing ROLE, TYPE or BODY", "usage: coord msg.send ROLE TYPE BODY")
    from coord.messages import parse_agent_type

    kind = parse_agent_type(type)
    actor, store = _actor_and_store()
    result = store.publish(actor.role, role, kind, body)
    where = "event log" if result.event else ", ".join(f"{r} ({i})" for r, i in result.ids.items()) or "nobody"
    print(f"sent {result.type.value} from {actor.role} to {where}")
    if result.waiting:
        from coord.store_results import waiting_note

        print(f"note: {waiting_note(result.waiting)}")


@task(
    help={
        "ack": "acknowledge every message shown",
        "json": "print a JSON object",
        "limit": "most messages to show (default 50)",
    }
)
@guarded
def inbox(c: object, ack: bool = False, json: bool = False, limit: int = 50) -> None:
    """Your unacknowledged messages, oldest first (they stay until acknowledged)."""
    actor, store = _actor_and_store()
    result = store.check(actor.role, int(limit))
    acked: list[str] = []
    if ack and result.messages:
        acked = store.ack(actor.role, [m.id for m in result.messages]).acknowledged
    if json:
        data = result.to_dict()
        data["acknowledged"] = acked
        print(_json.dumps(data, indent=2))
        return
    if not result.messages:
        print(f"no messages for {actor.role}")
        return
    for message in result.messages:
        print(_line(message))
    more = result.total - len(result.messages)
    tail = f"; {more} more" if more > 0 else ""
    state = f"acknowledged {len(acked)}" if ack else "not acknowledged (coord msg.inbox --ack, or coord msg.ack ID)"
    print(f"{len(result.messages)} shown for {actor.role}{tail}; {state}")


@task(positional=["ids"], help={"ids": "message ids, separated by commas or spaces"})
@guarded
def ack(c: object, ids: str | None = None) -> None:
    """Acknowledge your messages by id (ids that are not pending are reported)."""
    wanted = [i for i in re.split(r"[,\s]+", ids or "") if i]
    if not wanted:
        raise InvalidInputError("no message ids given", "usage: coord msg.ack ID[,ID...]")
    actor, store = _actor_and_store()
    result = store.ack(actor.role, wanted)
    print(f"acknowledged {len(result.acknowledged)} for {actor.role}")
    if result.unknown:
        print(f"not pending for {actor.role}: {', '.join(result.unknown)}")


@task(help={"json": "print a JSON array", "limit": "how many (default 20)"})
@guarded
def events(c: object, json: bool = False, limit: int = 20) -> None:
    """The newest lifecycle events (session start/end, heartbeats), newest first."""
    from coord.store import open_store

    paths, config = workspace()
    found = open_store(paths, config).events(int(limit))
    if json:
        print(_json.dumps([m.to_dict() for m in found], indent=2))
        return
    for message in found:
        print(_line(message))
    if not found:
        print("no events")


@task(help={"json": "print a JSON array"})
@guarded
def presence(c: object, json: bool = False) -> None:
    """Every role: status (active / stale / inactive / absent), last heartbeat age, host, worktree."""
    from coord.store import open_store

    paths, config = workspace()
    views = open_store(paths, config).presence()
    if json:
        print(_json.dumps([v.to_dict() for v in views], indent=2))
        return
    from coord.presence import describe_age

    rows = [("ROLE", "STATUS", "AGE", "ACTIVITY", "SESSION", "HOST", "WORKTREE")]
    for v in views:
        session = (v.session_id or "-")[:12]
        activity = "-"
        if v.activity and v.status.value == "active":  # what an ended or stale session did says nothing now
            now = (v.last_heartbeat or 0.0) + (v.seconds_since_heartbeat or 0.0)  # the server's clock
            since = f" {describe_age(now - v.activity_since)}" if v.activity_since else ""
            activity = v.activity.replace("_", " ") + since
        rows.append((v.role + ("" if v.configured else " (unconfigured)"), v.status.value, v.age, activity, session,
                     v.host or "-", v.worktree_path or "-"))
    widths = [max(len(r[i]) for r in rows) for i in range(6)]
    for r in rows:
        print("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(r[:6])) + "  " + r[6])


@task
@guarded
def mcp(c: object) -> None:
    """Serve the coord MCP tools over stdio (what .mcp.json starts in each agent session)."""
    from coord.mcp_server import main

    main()


collection = Collection("msg", send, inbox, ack, events)
top_level = [presence, mcp]
