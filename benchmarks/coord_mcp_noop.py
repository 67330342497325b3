"""`coord mcp` plus one no-op tool, for row 3's "no-op tool on the same server".

coord's server has no no-op tool of its own, so this builds the very server `coord mcp` runs
(coord.mcp_server.Service + build_server with autostart, as its main() does) and adds
`coord_bench_noop` before serving stdio: the coord tools and the no-op then share one process,
one event loop and one worker-thread pool, and the difference between them is coord's own work.
"""

from __future__ import annotations

from typing import Any

from coord import mcp_server

NOOP = "coord_bench_noop"


def main() -> None:
    service = mcp_server.Service()
    if service.problem is not None:
        mcp_server.log(service.problem.line())
    server = mcp_server.build_server(service, autostart=True)

    @server.tool(name=NOOP, description="Does nothing (benchmark baseline).")
    def noop() -> dict[str, Any]:
        return {"ok": True}

    try:
        server.run("stdio")
    except KeyboardInterrupt:
        pass
    finally:
        service.close()


if __name__ == "__main__":
    main()
