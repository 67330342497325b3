"""The SDK floor: an MCPServer with one no-op tool, run over stdio like `coord mcp`.

Rows 3 and 7 compare coord's server with this one, so what they report is coord's own cost
over the SDK (import, tool schemas, Redis), not the SDK's.
"""

from __future__ import annotations

from mcp.server import MCPServer

server = MCPServer("bare")


@server.tool()
def noop() -> dict[str, bool]:
    """Does nothing: the cost of a tool call through the SDK alone."""
    return {"ok": True}


if __name__ == "__main__":
    server.run("stdio")
