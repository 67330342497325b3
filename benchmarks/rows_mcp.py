"""Row 3: tool calls through a real stdio MCP client session against `coord mcp`.

Each tool's p50 is compared with a no-op tool: coord's own hidden no-op on the same server when
it has one, else a bare MCPServer with one no-op tool (benchmarks/bare_mcp.py) over stdio in the
same run. Only figures measured in this run are printed: no other project's published numbers,
which come from other machines and workloads.
"""

from __future__ import annotations

import asyncio
import sys
import uuid
from pathlib import Path
from typing import Any

from benchmarks.context import Context
from benchmarks.core import Row, at_most, median, percentile
from benchmarks.fixture import make_site
from benchmarks.infra import clean_env, module_present, run, script, workspace
from benchmarks.mcp_client import call, stdio_session, time_tools, timed_call
from benchmarks.store_api import publish

ROLE = "backend"
PEER = "frontend"
BARE = str(Path(__file__).resolve().parent / "bare_mcp.py")
NOOP_NAMES = ("coord_noop", "noop", "coord_ping", "_coord_noop", "coord_bench_noop")
WITH_NOOP = str(Path(__file__).resolve().parent / "coord_mcp_noop.py")


def mcp_missing() -> str | None:
    """Why `coord mcp` cannot be measured yet, or None."""
    if not module_present("coord.mcp_server"):
        return "coord.mcp_server not there"
    # `coord mcp` is internal (hidden from `coord help`'s list), but `coord help mcp` answers for it
    if run([script("coord"), "help", "mcp"], env=clean_env(), check=False).returncode != 0:
        return "`coord mcp` task not there"
    return None


async def bare_noop_samples(rounds: int, cwd: Path) -> list[float]:
    async with stdio_session(sys.executable, [BARE], clean_env(), cwd) as client:
        return (await time_tools(client, {"noop": lambda i: ("noop", {})}, rounds))["noop"]


def structured(result: Any) -> dict[str, Any]:
    data = getattr(result, "structured_content", None) or getattr(result, "structuredContent", None)
    if isinstance(data, dict):
        return data
    import json

    for c in getattr(result, "content", []) or []:
        text = getattr(c, "text", None)
        if text:
            try:
                parsed = json.loads(text)
            except ValueError:
                continue
            if isinstance(parsed, dict):
                return parsed
    return {}


def ids_in(result: Any) -> list[str]:
    """Message ids in a coord_check_messages result."""
    data = structured(result)
    messages = data.get("messages", data.get("result", []))
    return [str(m["id"]) for m in messages if isinstance(m, dict) and "id" in m]


async def _coord_samples(ctx: Context, rounds: int, command: str, args: list[str],
                         ) -> tuple[dict[str, list[float]], str | None, str]:
    with workspace("mcp") as ws:
        site = make_site(ws, [ROLE, PEER, "devops", "qa"])
        worktree = site.worktree(ROLE)
        store = site.store()
        peer_session = str(uuid.uuid4())
        store.register(PEER, peer_session, str(site.repo / ".worktrees" / PEER))
        session_id = str(uuid.uuid4())
        env = site.environ({"CLAUDE_INSTANCE_ID": ROLE, "CLAUDE_CODE_SESSION_ID": session_id,
                            "CLAUDE_PROJECT_DIR": str(worktree)})
        import redis

        # The floor of any durable write on this server (appendfsync always): one SET, redis-py.
        direct = redis.Redis.from_url(site.redis_url, protocol=2)
        async with stdio_session(command, args, env, worktree) as client:
            listed = await client.list_tools()
            names = [t.name for t in listed.tools]
            noop = next((n for n in NOOP_NAMES if n in names), None)
            samples: dict[str, list[float]] = {k: [] for k in ("notifications", "publish", "check", "ack", "presence",
                                                               "noop", "redis_set")}
            warmup = 5
            for i in range(warmup + rounds):
                # A peer's message arrives (untimed), so check returns something to acknowledge.
                publish(store, PEER, ROLE, "STATUS_UPDATE", f"peer status {i}: api ready on branch agent/{PEER}")
                step: dict[str, float] = {}
                step["notifications"] = await timed_call(client, "coord_get_notifications", {})
                step["publish"] = await timed_call(client, "coord_publish_message",
                                                   {"to": PEER, "type": "STATUS_UPDATE",
                                                    "body": f"backend status {i}: endpoint /v1/items merged"})
                t0 = asyncio.get_running_loop().time()
                checked = await call(client, "coord_check_messages", {})
                step["check"] = asyncio.get_running_loop().time() - t0
                ids = ids_in(checked)
                if not ids:
                    raise RuntimeError("coord_check_messages returned no message ids; cannot time ack")
                step["ack"] = await timed_call(client, "coord_ack_messages", {"ids": ids})
                step["presence"] = await timed_call(client, "coord_get_presence", {})
                if noop:
                    step["noop"] = await timed_call(client, noop, {})
                t0 = asyncio.get_running_loop().time()
                direct.set("coord-bench:durable-write", str(i))
                step["redis_set"] = asyncio.get_running_loop().time() - t0
                if i >= warmup:
                    for k, v in step.items():
                        samples[k].append(v)
        return samples, noop, site.server


def mcp_calls(ctx: Context) -> list[Row]:
    rounds = ctx.n(200, 40)
    labels = {
        "notifications": "coord_get_notifications",  # heartbeats are the server's own now: no tool to time
        "publish": "coord_publish_message",
        "check": "coord_check_messages",
        "ack": "coord_ack_messages",
        "presence": "coord_get_presence",
    }
    with workspace("mcp-bare") as ws:
        bare = asyncio.run(bare_noop_samples(rounds, ws.root))
    bare_p50 = median(bare) * 1000
    missing = mcp_missing()
    rows: list[Row] = []
    if missing:
        for key, tool in labels.items():
            rows.append(Row(f"3.{key}", f"{tool} p50 (stdio)", baseline=bare_p50,
                            baseline_label="bare MCPServer no-op", target=at_most(2.0), missing=missing))
        return rows
    ctx.log("mcp: `coord mcp`")
    real, noop, server = asyncio.run(_coord_samples(ctx, rounds, script("coord"), ["mcp"]))
    if noop:
        samples = real
        base_label = f"{noop} on the same server"
    else:
        # No no-op in coord's server: the same server plus one no-op tool (coord_mcp_noop.py).
        ctx.log("mcp: `coord mcp` + a no-op tool")
        samples, noop, server = asyncio.run(_coord_samples(ctx, rounds, sys.executable, [WITH_NOOP]))
        base_label = "no-op tool added to coord's server"
    if not noop or not samples["noop"]:
        raise RuntimeError("no no-op tool to compare with")
    base = median(samples["noop"]) * 1000
    for key, tool in labels.items():
        values = samples[key]
        p50 = median(values) * 1000
        row = Row(f"3.{key}", f"{tool} p50 (stdio)", figure=p50, baseline=base, baseline_label=base_label,
                  target=at_most(2.0))
        real_p50 = median(real[key]) * 1000
        row.details.update({
            "coord_mcp_p50_ms": real_p50,
            "coord_mcp_p99_ms": percentile(real[key], 99) * 1000,
            "p50_ms": p50,
            "p99_ms": percentile(values, 99) * 1000,
            "samples": len(values),
            "bare_sdk_noop_p50_ms": bare_p50,
            "durable_write_floor_p50_ms": median(samples["redis_set"]) * 1000,
            "server": server,
        })
        row.note = f"p99 {percentile(values, 99) * 1000:.2f} ms; plain `coord mcp` p50 {real_p50:.2f} ms"
        rows.append(row)
    return rows
