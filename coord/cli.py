"""The `coord` console script: the same tasks as `inv` here, usable in any git repository.

Start-up is most of what a quick command costs (`agent.setup` is timed against a bare
`git worktree add`), so this module imports only what the command line needs:
- `coord mcp` (one server per agent session) skips invoke and the task namespace entirely;
- `coord --version` answers from coord/__init__.py alone;
- `coord status [--json]` and `coord agent.list [--json]` (read-only, held to a ratio of git's own
  cost in the bench) run coord.team.report directly, the same function their tasks call; any other
  form of them (`--help`, `-j`, a typo) goes through invoke as usual;
- everything else builds the invoke Program on first use (`program` is resolved lazily, PEP 562),
  with invoke imported WITHOUT unittest.mock and importlib.metadata (see `_import_invoke`).

`coord help [TASK]` and `coord TASK --help` mean invoke's `--help [TASK]`; `coord --help` lists the
tasks by group (coord/tasks/groups.py) and only the options coord has: invoke's core options are
about running shell commands (sudo password, pty, echo, dry run), which coord's tasks never do.
"""

from __future__ import annotations

import os
import sys
import types
from typing import Any

USAGE_EXIT_CODE = 2  # coord.errors.InvalidInputError's code; invoke would use 1, coord's merge-conflict code
MCP_ARGV = ["mcp"]  # `coord mcp`, exactly: served without invoke
VERSION_ARGV = (["--version"], ["-V"])
HELP_FLAGS = ("--help", "-h")


def _installed_version(name: str) -> str:
    """A distribution's version from its .dist-info folder name on sys.path (what
    importlib.metadata.version reads, without importing it and the email package it pulls in)."""
    from pathlib import Path

    for entry in sys.path:
        if entry and os.path.isdir(entry):
            for info in Path(entry).glob(f"{name}-*.dist-info"):
                return info.name[len(name) + 1 : -len(".dist-info")]
    return "unknown"


def _import_invoke() -> Any:
    """`import invoke`, minus about 50 ms of imports it never uses on coord's command line.

    invoke's package __init__ imports (1) unittest.mock, and asyncio through it, for MockContext,
    a testing aid coord never builds, and (2) importlib.metadata (with the email package) for one
    call, `metadata.version("invoke")`. While invoke imports, stand-ins answer both: a Mock made
    through the first imports the real unittest.mock then; the second reads the version from the
    .dist-info folder name. They are removed from sys.modules as soon as invoke is imported, so
    any later `import unittest.mock` or `importlib.metadata` gets the real module.
    """
    wanted = ("unittest.mock", "importlib.metadata")
    if "invoke" in sys.modules or any(name in sys.modules for name in wanted):
        import invoke

        return invoke

    def mock_on_first_use(*args: Any, **kwargs: Any) -> Any:
        from unittest import mock

        return mock.Mock(*args, **kwargs)

    mock = types.ModuleType("unittest.mock", "stand-in while invoke imports; see coord.cli._import_invoke")
    mock.Mock = mock_on_first_use  # type: ignore[attr-defined]  # a bare ModuleType has no declared attributes
    metadata = types.ModuleType("importlib.metadata", "stand-in while invoke imports; see coord.cli._import_invoke")
    metadata.version = _installed_version  # type: ignore[attr-defined]  # same: a stand-in module
    stand_ins = {"unittest.mock": mock, "importlib.metadata": metadata}
    sys.modules.update(stand_ins)
    try:
        import invoke
    finally:
        for name, module in stand_ins.items():
            if sys.modules.get(name) is module:
                del sys.modules[name]
    return invoke


def normalized_argv(argv: list[str]) -> list[str]:
    """`coord help [TASK]` and `coord TASK ... --help` (or -h, before any `--`) become
    `coord --help [TASK]`, the form invoke understands: otherwise a positional ROLE would
    swallow the flag ("invalid role name '--help'")."""
    args = argv[1:]
    if args[:1] == ["help"]:
        return [argv[0], "--help", *args[1:2]]
    if args and not args[0].startswith("-"):
        rest = args[1:]
        before_dashes = rest[: rest.index("--")] if "--" in rest else rest
        if any(arg in HELP_FLAGS for arg in before_dashes):
            return [argv[0], "--help", args[0]]
    return argv


def _positional_usage(task: Any) -> str:
    return " ".join(arg.name.upper() for arg in task.get_arguments() if arg.positional)


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
    invoke = _import_invoke()
    from invoke.exceptions import Exit, ParseError
    from invoke.parser.argument import Argument

    from coord import __version__
    from coord.tasks import namespace
    from coord.tasks.groups import grouped

    class CoordProgram(invoke.Program):  # type: ignore[misc, name-defined]  # invoke is imported lazily and untyped
        """invoke's Program with coord's options, help and exit codes.

        invoke exits 1 on a command-line parse error (a missing ROLE, an unknown flag); coord
        reserves 1 for merge conflicts, so parse errors leave with the usage code instead."""

        def core_args(self) -> list[Any]:
            return [
                Argument(names=("help", "h"), optional=True, help="show this list, or one task's help: --help TASK"),
                Argument(names=("version", "V"), kind=bool, default=False, help="print coord's version"),
            ]

        def parse_core(self, argv: list[str] | None) -> None:
            self.normalize_argv(argv)
            try:
                self.parse_core_args()
            except ParseError as exc:
                raise Exit(f"coord: {exc} (see coord --help)", code=USAGE_EXIT_CODE) from None
            if self.args.version.value:
                self.print_version()
                raise Exit

        def parse_tasks(self) -> None:
            try:
                super().parse_tasks()
            except ParseError as exc:
                context = getattr(exc, "context", None)
                task = context.name if context is not None else None
                missing = [arg.name for arg in context.missing_positional_args] if context is not None else []
                if task and missing:
                    from coord.tasks.boundary import missing_line
                    from coord.tasks.usage import task_usage

                    line = missing_line(task, missing, task_usage(task, self.collection[task]))
                    raise Exit(line, code=USAGE_EXIT_CODE) from None
                hint = f"coord help {task}" if task else "coord help"
                raise Exit(f"coord: {exc} (see {hint})", code=USAGE_EXIT_CODE) from None

        def parse_cleanup(self) -> None:
            wanted = self.args.help.value
            if wanted is True or (not wanted and not self.tasks):
                self.print_help()
                raise Exit
            if wanted:
                if wanted not in self.parser.contexts:
                    raise Exit(f"coord: no task named {wanted!r} (coord help lists them)", code=USAGE_EXIT_CODE)
                self.print_task_help(wanted)
                raise Exit

        def update_config(self, merge: bool = True) -> None:
            # The base class turns the dropped core options (--echo, --pty, ...) into config
            # overrides for c.run(); coord's tasks run no shell commands, so there is nothing to set.
            if merge:
                self.config.merge()

        def print_help(self) -> None:
            print(f"coord {__version__}: git worktrees, identities and messages for parallel coding agents")
            print()
            print("usage: coord TASK [ARGS] [--options]     coord help TASK  (or coord TASK --help): one task")
            names = sorted(self.collection.task_names)
            width = max(len(f"{n} {_positional_usage(self.collection[n])}") for n in names) + 2
            for group, about, members in grouped(names):
                print()
                print(f"{group}: {about}")
                for name in members:
                    task = self.collection[name]
                    doc = (task.__doc__ or "").strip().splitlines()
                    head = f"{name} {_positional_usage(task)}".rstrip()
                    print(f"  {head.ljust(width)}{doc[0] if doc else ''}")
            print()
            print("options: -h, --help [TASK]   -V, --version")

        def print_task_help(self, name: str) -> None:
            from coord.tasks.usage import task_usage

            task = self.collection[name]
            print(f"usage: {task_usage(name, task)}")
            print()
            for line in (task.__doc__ or "").strip().splitlines():
                print(f"  {line.strip()}" if line.strip() else "")
            # The parser's copies carry the help texts (invoke moves them out of task.help).
            parsed = self.parser.contexts[name].args
            arguments = task.get_arguments()
            if not arguments:
                return
            print()
            rows = []
            for arg in arguments:
                about = parsed[arg.name].help if arg.name in parsed else ""
                if arg.positional:
                    rows.append((arg.name.upper(), about))
                else:
                    flag = "--" + arg.name.replace("_", "-")
                    rows.append((flag if arg.kind is bool else f"{flag} {arg.name.upper()}", about))
            width = max(len(left) for left, _ in rows) + 2
            for left, about in rows:
                print(f"  {left.ljust(width)}{about}")

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
    args = sys.argv[1:]
    if args == MCP_ARGV:
        from coord.mcp_server import main as serve_mcp

        serve_mcp()
        return
    if args in VERSION_ARGV:
        from coord import __version__

        print(f"coord {__version__}")
        return
    if args[:1] in (["status"], ["agent.list"]):
        from coord.team.report import fast_read

        code = fast_read(args)
        if code is not None:
            sys.exit(code)
    argv = normalized_argv(sys.argv)
    if ROLE_LIST_TASKS.intersection(argv[1:]):
        argv = [argv[0], *spread_roles(argv[1:])]
    try:
        __getattr__("program").run(argv)
    except BrokenPipeError:  # `coord help | head`: the reader left, nothing to report
        sys.stderr.close()
        sys.exit(0)


if __name__ == "__main__":
    main()
