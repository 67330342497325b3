"""`agent.*` tasks: set up, list, merge, tear down and restore agent worktrees.

Parse, call coord.worktree, print. The library decides and raises CoordError; `guarded` turns it
into one line and its exit code.
"""

from __future__ import annotations

import json as _json
import os
import sys
from pathlib import Path

from invoke import Collection, task

from coord.errors import InvalidInputError, MergeConflictError
from coord.identity import role_email, role_name
from coord.tasks.boundary import guarded, workspace


def _need_role(role: str | None, usage: str) -> str:
    """A missing ROLE is a usage error (exit 2), not a parse error (invoke's exit 1)."""
    if role is None or role == "":
        raise InvalidInputError("missing ROLE", f"usage: {usage}")
    return role


def _shown(path: Path, root: Path) -> str:
    """Paths relative to the current directory when under it: that is what a user would type."""
    here = os.path.realpath(os.getcwd())
    target = os.path.realpath(path)
    if target == here:
        return "."
    if target.startswith(here.rstrip("/") + "/"):
        return os.path.relpath(target, here)
    return str(path)


def print_setup(result: object, root: Path) -> None:
    """Shared with session.start: what setup did, one fact a line."""
    from coord.worktree import SetupResult

    assert isinstance(result, SetupResult)
    if result.is_main:
        print(f"{result.role} is the main role: it works in the main checkout {result.path} (no worktree)")
        return
    where = _shown(result.path, root)
    if result.created:
        print(f"created worktree {where} on branch {result.branch}")
        print(f"identity: {role_name(result.role)} <{role_email(result.role)}> (this worktree only)")
    else:
        print(f"worktree {where} exists (branch {result.branch})")
        print(f"repaired: {'; '.join(result.repaired)}" if result.repaired else "nothing to repair")
    for note in result.notes:
        print(note)
    if result.gitignore_added:
        print("added the worktree folder to .gitignore (not committed: commit it when convenient)")
    if result.copied and result.created:
        print(f"copied from .worktreeinclude: {', '.join(result.copied)}")


@task(positional=["role"], help={"role": "the agent role", "base": "ref to branch from (default: base branch)"})
@guarded
def setup(c: object, role: str | None = None, base: str | None = None) -> None:
    """Create (or repair) ROLE's worktree on agent/ROLE/active with its own git identity."""
    from coord import worktree

    role = _need_role(role, "coord agent.setup ROLE [--base REF]")
    paths, config = workspace()
    print_setup(worktree.setup(paths, config, role, base=base), paths.main_root)


@task(name="list", help={"json": "print a JSON array instead of a table"})
@guarded
def list_(c: object, json: bool = False) -> None:
    """Every agent worktree: branch, head, dirty, ahead/behind the base branch, presence."""
    from coord import worktree

    paths, config = workspace()
    agents = worktree.list_agents(paths, config)
    if json:
        print(_json.dumps([a.to_dict() for a in agents], indent=2))
    else:
        print(worktree.format_table(agents, paths.main_root))


def _print_merge(result: object) -> None:
    from coord.worktree import MergeResult

    assert isinstance(result, MergeResult)
    for line in result.warnings:
        print(f"coord: warning: {line}", file=sys.stderr)
    if result.kind == "up-to-date":
        print(f"{result.branch} is already merged into {result.base}; nothing to do")
    elif result.kind == "fast-forward":
        print(f"fast-forwarded {result.base} to {result.branch} ({result.commit[:8]})")
    else:
        print(f"merged {result.branch} into {result.base} with merge commit {result.commit[:8]}")


def _report_conflict(exc: MergeConflictError) -> None:
    for name in exc.files:
        print(f"CONFLICT {name}", file=sys.stderr)


@task(positional=["role"], help={"role": "the agent role whose branch to merge"})
@guarded
def merge(c: object, role: str | None = None) -> None:
    """Merge agent/ROLE/active into the base branch in the main checkout (conflicts: exit 1, nothing changed)."""
    from coord import worktree

    role = _need_role(role, "coord agent.merge ROLE")
    paths, config = workspace()
    try:
        result = worktree.merge(paths, config, role)
    except MergeConflictError as exc:
        _report_conflict(exc)
        raise
    _print_merge(result)


def _ask(question: str) -> bool:
    try:
        answer = input(f"{question} [y/N] ")
    except EOFError:
        return False
    return answer.strip().lower() in ("y", "yes")


@task(
    positional=["role"],
    help={
        "role": "the agent role",
        "merge": "merge the branch first (refused with uncommitted changes)",
        "abandon": "back everything up under refs/coord/backup, then remove even with unmerged work",
        "yes": "answer yes: back up and remove a worktree with uncommitted changes",
    },
)
@guarded
def teardown(c: object, role: str | None = None, merge: bool = False, abandon: bool = False, yes: bool = False) -> None:
    """Remove ROLE's worktree without losing work; clear its presence."""
    from coord import worktree

    role = _need_role(role, "coord agent.teardown ROLE [--merge | --abandon] [--yes]")
    if merge and abandon:
        raise InvalidInputError("--merge and --abandon exclude each other", "pick one")
    mode = "merge" if merge else "abandon" if abandon else None
    paths, config = workspace()
    confirm = _ask if sys.stdin is not None and sys.stdin.isatty() else None
    try:
        result = worktree.teardown(paths, config, role, mode=mode, yes=yes, confirm=confirm)
    except MergeConflictError as exc:
        _report_conflict(exc)
        raise
    if result.merge is not None:
        _print_merge(result.merge)
    if result.backup_ref:
        print(f"saved all of {role}'s work under {result.backup_ref}")
    if result.removed:
        print(f"removed worktree {_shown(result.path, paths.main_root)}")
    if result.branch_deleted:
        print(f"deleted branch {result.branch}")
    for note in result.notes:
        print(note)
    if result.restore_command:
        print(f"restore it with: {result.restore_command}")


@task(positional=["role"], help={"role": "the agent role", "ref": "backup ref (default: the newest of ROLE)"})
@guarded
def restore(c: object, role: str | None = None, ref: str | None = None) -> None:
    """Bring back a worktree saved by `agent.teardown --abandon`, uncommitted work included."""
    from coord import worktree

    role = _need_role(role, "coord agent.restore ROLE [--ref REF]")
    paths, config = workspace()
    result = worktree.restore(paths, config, role, ref=ref)
    print(f"restored {result.ref} into {_shown(result.path, paths.main_root)} on branch {result.branch}")


collection = Collection("agent", setup, list_, merge, teardown, restore)
top_level: list = []
