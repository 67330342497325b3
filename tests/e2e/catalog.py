"""coord's own catalog of MCP tools (names and input schemas), as `coord mcp` serves them.

The scripted model checks its calls against the schema the CLI sends; newer CLIs defer MCP
schemas behind ToolSearch, so when a coord tool is called before (or without) a search, the
schema comes from here instead: the same server code listed in-process, no Redis needed.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import io
from typing import Any

from coord.mcp_server import SERVER_NAME

PREFIX = f"mcp__{SERVER_NAME}__"  # how Claude Code names an MCP server's tools


@functools.cache
def coord_tool_schemas() -> dict[str, dict[str, Any]]:
    """{mcp__coord__<tool>: input schema} for every tool `coord mcp` serves."""
    from mcp.client import Client

    from coord.mcp_server import build_server

    async def listing() -> dict[str, dict[str, Any]]:
        async with Client(build_server()) as client:
            result = await client.list_tools()
            return {PREFIX + tool.name: dict(tool.input_schema) for tool in result.tools}

    with contextlib.redirect_stderr(io.StringIO()):  # the server's note that listing has no identity
        return asyncio.run(listing())


def coord_tool_schema(name: str) -> dict[str, Any] | None:
    """The input schema of one of coord's tools by its Claude Code name, None for any other tool."""
    if not name.startswith(PREFIX):
        return None
    return coord_tool_schemas().get(name)
