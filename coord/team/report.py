"""What `coord status` and `coord agent.list` print, computed once for both ways in: the invoke
tasks (coord/tasks/team.py, coord/tasks/agent.py) and the command line's fast path (coord.cli),
which answers these two read-only commands without importing invoke and the task namespace.

Why a fast path: with 50 agents both commands are held to 1.5x of what git alone costs (`git
worktree list` plus a parallel `git status` per worktree, bench rows 6c/6d), and coord's start-up
(invoke and every task module: about 50 ms of a 130 ms overhead) was most of the difference.

Each function returns (stdout text, warning lines) and raises CoordError like any library call;
the caller prints the warnings to stderr first, then the text.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from coord.config import Config
from coord.errors import StoreUnavailableError
from coord.repo import RepoPaths


def status_output(paths: RepoPaths, config: Config, as_json: bool) -> tuple[str, list[str]]:
    """`coord status [--json]`: the whole team, one row per role."""
    from coord.store import open_store
    from coord.team.gather import gather
    from coord.team.rows import format_table

    warnings: list[str] = []
    try:
        store = open_store(paths, config, start_server=False)
    except StoreUnavailableError as exc:  # gather reports Redis as unknown and still reads git
        store, opened_error = None, exc.message
    else:
        opened_error = ""
    try:
        snap = gather(paths, config, store)
    finally:
        if store is not None:
            store.close()
    if not snap.stored.reachable:
        warnings.append(f"{opened_error or snap.stored.error} (presence, mail and claims unknown)")
    if snap.git_error:
        warnings.append(f"git: {snap.git_error}")
    if as_json:
        return json.dumps({"agents": [r.to_json() for r in snap.rows]}, indent=2), warnings
    return format_table(snap.rows), warnings


def list_output(paths: RepoPaths, config: Config, as_json: bool) -> tuple[str, list[str]]:
    """`coord agent.list [--json]`: every agent worktree, with the roles its branch conflicts with."""
    from coord.team.listing import list_agents

    warnings: list[str] = []
    agents, with_whom = list_agents(paths, config, warnings.append)
    if as_json:
        return json.dumps([{**a.to_dict(), "conflicts_with": with_whom.get(a.role, [])} for a in agents],
                          indent=2), warnings
    from coord.worktree import format_table

    table = format_table(agents, paths.main_root)
    lines = table.splitlines()
    if not agents or len(lines) != len(agents) + 1:
        return table, warnings
    width = max(len(line) for line in lines)  # a CONFLICTS column: the roles each branch conflicts with
    cells = ["CONFLICTS", *(",".join(with_whom.get(a.role, [])) or "-" for a in agents)]
    return "\n".join(f"{line.ljust(width)}  {cell}" for line, cell in zip(lines, cells, strict=True)), warnings


READS = {"status": status_output, "agent.list": list_output}
JSON_FLAG = "--json"


def fast_read(argv: list[str], cwd: Path | None = None) -> int | None:
    """Run `coord status [--json]` or `coord agent.list [--json]` exactly as their tasks would
    (same text, same one-line errors and exit codes); None for any other command line, which
    then goes through invoke as usual."""
    if not argv or argv[0] not in READS or any(a != JSON_FLAG for a in argv[1:]):
        return None
    import sys

    from coord.config import load_config
    from coord.errors import CoordError
    from coord.repo import find_repo

    try:
        paths = find_repo(cwd if cwd is not None else Path(os.getcwd()))
        text, warnings = READS[argv[0]](paths, load_config(paths.main_root), JSON_FLAG in argv[1:])
    except CoordError as exc:
        print(exc.line(), file=sys.stderr)  # what invoke prints for the task's Exit
        return exc.exit_code
    for line in warnings:
        print(f"coord: warning: {line}", file=sys.stderr)
    print(text)
    return 0
