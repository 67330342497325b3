"""Row 7: resident memory of one `coord mcp` process after start-up and after 1,000 tool calls,
against a bare MCPServer with one no-op tool measured the same way (the SDK floor); and the
Redis server's memory with 50 agents and 10,000 pending messages (reported).
"""

from __future__ import annotations

import asyncio
import sys
import uuid
from pathlib import Path
from typing import Any

from benchmarks.context import Context
from benchmarks.core import Row, at_most
from benchmarks.fixture import make_site, role_names
from benchmarks.infra import clean_env, module_present, rss_kib, script, workspace
from benchmarks.mcp_client import call, server_pid, stdio_session
from benchmarks.rows_mcp import BARE, ids_in, mcp_missing
from benchmarks.store_api import publish

CALLS = 1000
ROLE = "backend"
PEER = "frontend"


async def _settle(client: Any) -> None:
    """Start-up is over once the server has answered initialize and listed its tools."""
    await client.list_tools()
    await asyncio.sleep(0.3)


async def _bare_rss(cwd: Path, calls: int) -> tuple[int, int]:
    async with stdio_session(sys.executable, [BARE], clean_env(), cwd) as client:
        await _settle(client)
        pid = server_pid("bare_mcp.py")
        start = rss_kib(pid)
        for _ in range(calls):
            await call(client, "noop", {})
        return start, rss_kib(pid)


async def _coord_rss(site: Any, calls: int) -> tuple[int, int]:
    worktree = site.worktree(ROLE)
    store = site.store()
    store.register(PEER, str(uuid.uuid4()), str(site.repo / ".worktrees" / PEER))
    env = site.environ({"CLAUDE_INSTANCE_ID": ROLE, "CLAUDE_CODE_SESSION_ID": str(uuid.uuid4()),
                        "CLAUDE_PROJECT_DIR": str(worktree)})
    async with stdio_session(script("coord"), ["mcp"], env, worktree) as client:
        await _settle(client)
        pid = server_pid("coord")
        start = rss_kib(pid)
        done = 0
        i = 0
        while done < calls:
            publish(store, PEER, ROLE, "INFO", f"note {i} from {PEER}")
            for name, args in (("coord_get_claims", {}),
                               ("coord_publish_message", {"to": PEER, "type": "INFO", "body": f"note {i}"}),
                               ("coord_get_presence", {}),
                               ("coord_get_notifications", {})):
                await call(client, name, args)
                done += 1
            ids = ids_in(await call(client, "coord_check_messages", {}))
            await call(client, "coord_ack_messages", {"ids": ids})
            done += 2
            i += 1
        return start, rss_kib(pid)


def _redis_memory(ctx: Context, agents: int, messages: int) -> dict[str, Any]:
    with workspace("memory-redis") as ws:
        roles = role_names(agents, prefix="m")
        site = make_site(ws, roles)
        store = site.store()
        for role in roles:
            store.register(role, str(uuid.uuid4()), str(site.repo / ".worktrees" / role))
        for i in range(messages):
            publish(store, "pm", roles[i % agents], "INFO",
                    f"message {i}: please look at src/d{i % 100:03d}/f{i:05d}.py, the tests there fail")
        info = _info_memory(site)
        info["rss_kib"] = rss_kib(site.redis_pid) if site.redis_pid else None
        info["server"] = site.server
        return info


def _info_memory(site: Any) -> dict[str, Any]:
    import redis

    client = redis.Redis.from_url(site.redis_url, protocol=2)
    memory = client.info("memory")
    return {"used_memory": memory["used_memory"], "used_memory_rss": memory.get("used_memory_rss")}


def memory(ctx: Context) -> list[Row]:
    calls = ctx.n(CALLS, 200)
    start_row = Row("7a", "coord mcp RSS after start-up", unit="MiB", baseline_label="bare MCPServer",
                    target=at_most(1.15))
    after_row = Row("7b", f"coord mcp RSS after {calls:,} calls", unit="MiB", baseline_label="bare MCPServer",
                    target=at_most(1.15))
    agents, messages = 50, ctx.n(10_000, 2_000)
    redis_row = Row("7c", f"Redis memory, {agents} agents + {messages:,} pending msgs", unit="MiB")
    with workspace("memory") as ws:
        bare_start, bare_after = asyncio.run(_bare_rss(ws.root, calls))
    start_row.baseline, after_row.baseline = bare_start / 1024, bare_after / 1024
    missing = mcp_missing()
    if missing:
        start_row.missing = after_row.missing = missing
    else:
        with workspace("memory-mcp") as ws:
            site = make_site(ws, [ROLE, PEER])
            coord_start, coord_after = asyncio.run(_coord_rss(site, calls))
        start_row.figure, after_row.figure = coord_start / 1024, coord_after / 1024
    if not module_present("coord.store"):
        redis_row.missing = "coord.store not there"
    else:
        info = _redis_memory(ctx, agents, messages)
        redis_row.figure = info["used_memory"] / 1048576
        redis_row.details.update(info)
        if info.get("rss_kib"):
            redis_row.note = f"server RSS {info['rss_kib'] / 1024:.1f} MiB"
    return [start_row, after_row, redis_row]
