"""`coord mcp` plus one no-op tool, for row 3's "no-op tool on the same server".

coord's server has no no-op tool of its own, so this runs the very server `coord mcp` runs
(coord.mcp_server.main) and adds `coord_bench_noop` before it serves stdio: the coord tools and
the no-op then share one process, one event loop and one worker-thread pool, and the difference
between them is coord's own work.
"""

from __future__ import annotations

from typing import Any

from coord import mcp_server

NOOP = "coord_bench_noop"


def add_noop(server: Any) -> None:
    @server.tool(name=NOOP, description="Does nothing (benchmark baseline).")
    def noop() -> dict[str, Any]:
        return {"ok": True}


if __name__ == "__main__":
    mcp_server.main(add_noop)
