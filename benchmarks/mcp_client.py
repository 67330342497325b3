"""Real MCP client sessions over stdio, timed per call (the SDK is imported only here: 690 ms)."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from benchmarks.infra import children_of, cmdline


@contextlib.asynccontextmanager
async def stdio_session(command: str, args: Sequence[str], env: Mapping[str, str], cwd: Path) -> AsyncIterator[Any]:
    """A connected client to a server process started over stdio, closed (and the server gone) on exit."""
    from mcp import StdioServerParameters
    from mcp.client import Client

    params = StdioServerParameters(command=command, args=list(args), env=dict(env), cwd=str(cwd))
    async with Client(params, read_timeout_seconds=30) as client:
        yield client


def server_pid(marker: str) -> int:
    """The pid of the stdio server we just started: a child of this process whose command line
    holds marker (the SDK does not expose it)."""
    found = [p for p in children_of(os.getpid()) if any(marker in part for part in cmdline(p))]
    if len(found) != 1:
        raise RuntimeError(f"expected one server process matching {marker!r}, found {found}")
    return found[0]


class ToolFailed(RuntimeError):
    pass


async def call(client: Any, name: str, arguments: Mapping[str, Any] | None = None) -> Any:
    """One tool call; a tool error is a failed measurement, never a fast sample."""
    result = await client.call_tool(name, dict(arguments or {}))
    if getattr(result, "is_error", False):
        text = " ".join(getattr(c, "text", "") for c in getattr(result, "content", []) or [])
        raise ToolFailed(f"{name} returned an error: {text.strip()[:200]}")
    return result


async def timed_call(client: Any, name: str, arguments: Mapping[str, Any] | None = None) -> float:
    start = time.perf_counter()
    await call(client, name, arguments)
    return time.perf_counter() - start


async def time_tools(client: Any, plan: Mapping[str, Callable[[int], tuple[str, Mapping[str, Any]] | None]],
                     rounds: int, warmup: int = 5) -> dict[str, list[float]]:
    """Call every tool of the plan once per round, in turn, so all of them see the same machine
    noise. plan[label](i) gives (tool, arguments) for round i, or None to skip that round."""
    samples: dict[str, list[float]] = {label: [] for label in plan}
    for i in range(warmup + rounds):
        for label, make in plan.items():
            step = make(i)
            if step is None:
                continue
            elapsed = await timed_call(client, step[0], step[1])
            if i >= warmup:
                samples[label].append(elapsed)
    return samples
