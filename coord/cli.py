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
# Tasks taking any number of roles: invoke has no variadic positionals, so `coord team.up backend qa`
# becomes `coord team.up --role backend --role qa` before invoke parses it.
ROLE_LIST_TASKS = frozenset({"team.up", "team.down", "team.attach"})


def spread_roles(argv: list[str]) -> list[str]:
    """Bare words after a ROLE_LIST_TASKS task (role names never hold a '.', task names do) become
    --role WORD; flags and their values pass through untouched."""
    out: list[str] = []
    inside = value_next = False
    for word in argv:
        if word in ROLE_LIST_TASKS:
            inside, value_next = True, False
        elif inside and value_next:
            value_next = False
        elif inside and word in ("--role", "-r"):
            value_next = True
        elif inside and not word.startswith("-") and "." not in word:
            out += ["--role", word]
            continue
        elif not word.startswith("-"):
            inside = False
        out.append(word)
    return out


def _build_program() -> Any:
    from invoke import Program
    from invoke.exceptions import Exit, ParseError

    from coord import __version__
    from coord.tasks import namespace

    class CoordProgram(Program):
        """invoke exits 1 on a command-line parse error (a missing ROLE, an unknown flag); coord
        reserves 1 for merge conflicts, so parse errors leave with the usage code instead."""

        def parse_core(self, argv):  # type: ignore[no-untyped-def]
            try:
                return super().parse_core(argv)
            except ParseError as exc:
                raise Exit(f"coord: {exc} (see coord --help)", code=USAGE_EXIT_CODE) from None

        def parse_tasks(self) -> None:
            try:
                super().parse_tasks()
            except ParseError as exc:
                task = exc.context.name if getattr(exc, "context", None) is not None else None
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
    argv = sys.argv
    if ROLE_LIST_TASKS.intersection(argv[1:]):
        argv = [argv[0], *spread_roles(argv[1:])]
    __getattr__("program").run(argv)


if __name__ == "__main__":
    main()
