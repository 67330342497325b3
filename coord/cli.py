"""The `coord` console script: the same tasks as `inv` here, usable in any git repository.

`coord mcp` starts one MCP server per agent session, so that path skips invoke (~110 ms of
imports) and the task namespace: main() hands it straight to coord.mcp_server. Everything
else builds the invoke Program on first use (`program` is resolved lazily, PEP 562).
"""

from __future__ import annotations

import sys
from typing import Any

USAGE_EXIT_CODE = 2  # coord.errors.InvalidInputError's code; invoke would use 1, coord's merge-conflict code
MCP_ARGV = ["mcp"]  # `coord mcp`, exactly: served without invoke


def _build_program() -> Any:
    from invoke.exceptions import Exit, ParseError
    from invoke.program import Program

    from coord import __version__
    from coord.tasks import namespace

    class CoordProgram(Program):
        """invoke exits 1 on a command-line parse error (a missing ROLE, an unknown flag); coord
        reserves 1 for merge conflicts, so parse errors leave with the usage code instead."""

        def parse_core(self, argv: list[str] | None) -> None:
            try:
                return super().parse_core(argv)
            except ParseError as exc:
                raise Exit(f"coord: {exc} (see coord --help)", code=USAGE_EXIT_CODE) from None

        def parse_tasks(self) -> None:
            try:
                super().parse_tasks()
            except ParseError as exc:
                context = getattr(exc, "context", None)
                task = context.name if context is not None else None
                hint = f"coord --help {task}" if task else "coord --help"
                raise Exit(f"coord: {exc} (see {hint})", code=USAGE_EXIT_CODE) from None

    return CoordProgram(namespace=namespace, binary="coord", name="coord", version=__version__)


_program: Any = None


def __getattr__(name: str) -> Any:
    """`coord.cli.program`, built on first access."""
    global _program
    if name == "program":
        if _program is None:
            _program = _build_program()
        return _program
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def main() -> None:
    """Console-script entry point."""
    if sys.argv[1:] == MCP_ARGV:
        from coord.mcp_server import main as serve_mcp

        serve_mcp()
        return
    __getattr__("program").run()


if __name__ == "__main__":
    main()
