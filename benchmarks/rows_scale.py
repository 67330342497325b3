"""Row 4: coord_get_presence and coord_get_notifications with 1, 10, 50 and 200 agents.

Latency through a real stdio MCP session (one `coord mcp` per agent count, with that many roles
configured and registered); round trips per call counted in this process on the same store code
path, by counting the socket writes the store's connection makes (one write per round trip:
coord.resp sends a whole pipeline with one sendall).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import uuid
from collections.abc import Iterator
from typing import Any

from benchmarks.context import Context
from benchmarks.core import Row, at_most, median
from benchmarks.fixture import Site, make_site, role_names
from benchmarks.infra import script, workspace
from benchmarks.mcp_client import stdio_session, time_tools
from benchmarks.rows_mcp import mcp_missing
from benchmarks.store_api import publish

COUNTS = (1, 10, 50, 200)
ROLE = "backend"
PENDING = 5


@contextlib.contextmanager
def counting_writes() -> Iterator[list[int]]:
    """Count socket writes made in this process while the block runs."""
    counter = [0]
    originals = {name: getattr(socket.socket, name) for name in ("sendall", "send")}

    def wrap(name: str) -> Any:
        original = originals[name]

        def counted(self: socket.socket, *args: Any, **kwargs: Any) -> Any:
            counter[0] += 1
            return original(self, *args, **kwargs)

        return counted

    for name in originals:
        setattr(socket.socket, name, wrap(name))
    try:
        yield counter
    finally:
        for name, original in originals.items():
            setattr(socket.socket, name, original)


def round_trips(store: Any, fn: Any, repeats: int = 5) -> int:
    """Round trips of one call, after a warm-up call (scripts loaded, connection open), counted
    as socket writes; the store's own counter (Store.round_trips) must agree."""
    fn()
    counts = []
    for _ in range(repeats):
        own_before = getattr(store, "round_trips", None)
        with counting_writes() as counter:
            fn()
        own_after = getattr(store, "round_trips", None)
        if own_before is not None and own_after is not None and own_after - own_before != counter[0]:
            raise RuntimeError(f"socket writes ({counter[0]}) and Store.round_trips "
                               f"({own_after - own_before}) disagree")
        counts.append(counter[0])
    if len(set(counts)) != 1:
        raise RuntimeError(f"round trips vary between identical calls: {counts}")
    return counts[0]


def _roles_env(roles: list[str]) -> dict[str, str]:
    return {"COORD_ROLES": ",".join(["pm", *roles])}


async def _latency(site: Site, roles: list[str], rounds: int, session_id: str) -> dict[str, list[float]]:
    worktree = site.worktree(ROLE)
    env = site.environ({**_roles_env(roles), "CLAUDE_INSTANCE_ID": ROLE,
                        "CLAUDE_CODE_SESSION_ID": session_id, "CLAUDE_PROJECT_DIR": str(worktree)})
    async with stdio_session(script("coord"), ["mcp"], env, worktree) as client:
        plan = {"presence": lambda i: ("coord_get_presence", {}),
                "notifications": lambda i: ("coord_get_notifications", {})}
        return await time_tools(client, plan, rounds)


def scale(ctx: Context) -> list[Row]:
    rounds = ctx.n(100, 30)
    rows = {
        "rt_presence": Row("4a", "coord_get_presence round trips, most at 1..200 agents", unit="round trips",
                           baseline_label="at 1 agent", target=at_most(1.0)),
        "rt_notifications": Row("4b", "coord_get_notifications round trips, most at 1..200", unit="round trips",
                                baseline_label="at 1 agent", target=at_most(1.0)),
        "lat_presence": Row("4c", "coord_get_presence p50 at 200 agents (stdio)", baseline_label="at 1 agent",
                            target=at_most(3.0)),
        "lat_notifications": Row("4d", "coord_get_notifications p50 at 200 agents", baseline_label="at 1 agent",
                                 target=at_most(3.0)),
    }
    missing = mcp_missing()
    if missing:
        for row in rows.values():
            row.missing = missing
        return list(rows.values())
    results: dict[int, dict[str, float]] = {}
    with workspace("scale") as ws:
        everyone = [ROLE, *role_names(max(COUNTS) - 1, prefix="s")]
        site = make_site(ws, everyone[:2])
        site.worktree(ROLE)
        for count in COUNTS:
            roles = everyone[:count]
            store = site.store(environ=_roles_env(roles), fresh=True)
            # The measured role is registered by the session its MCP server will run as.
            session_id = str(uuid.uuid4())
            for role in roles:
                store.register(role, session_id if role == ROLE else str(uuid.uuid4()),
                               str(site.repo / ".worktrees" / role))
            for i in range(PENDING):
                publish(store, "pm", ROLE, "QUESTION", f"question {i} at {count} agents: which port does the api use?")
            rt_presence = round_trips(store, store.presence)
            rt_notes = round_trips(store, lambda store=store: store.notifications(ROLE))
            listed = store.presence()
            if len(listed) < count:
                raise RuntimeError(f"presence listed {len(listed)} roles with {count} registered")
            samples = asyncio.run(_latency(site, roles, rounds, session_id))
            results[count] = {
                "rt_presence": rt_presence,
                "rt_notifications": rt_notes,
                "presence_p50_ms": median(samples["presence"]) * 1000,
                "notifications_p50_ms": median(samples["notifications"]) * 1000,
            }
            ctx.log(f"scale: {count} agents: {results[count]}")
            # Clean slate for the next count: a fresh namespace.
            site.env["COORD_NAMESPACE"] = f"bench-{uuid.uuid4().hex[:8]}"
    low, high = results[min(COUNTS)], results[max(COUNTS)]
    # Round trips: the most at any count, against the count at 1 agent (must not grow anywhere).
    rows["rt_presence"].figure = max(r["rt_presence"] for r in results.values())
    rows["rt_presence"].baseline = low["rt_presence"]
    rows["rt_notifications"].figure = max(r["rt_notifications"] for r in results.values())
    rows["rt_notifications"].baseline = low["rt_notifications"]
    rows["lat_presence"].figure, rows["lat_presence"].baseline = high["presence_p50_ms"], low["presence_p50_ms"]
    rows["lat_notifications"].figure = high["notifications_p50_ms"]
    rows["lat_notifications"].baseline = low["notifications_p50_ms"]
    for row in rows.values():
        row.details["by_agents"] = {str(k): v for k, v in results.items()}
    return list(rows.values())
