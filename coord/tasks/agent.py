"""`agent.*` tasks: set up, list, merge, tear down and restore agent worktrees.

Parse, call coord.worktree, print. The library decides and raises CoordError; `guarded` turns it
into one line and its exit code.
"""

from __future__ import annotations

import json as _json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from invoke.collection import Collection
from invoke.tasks import Task, task

from coord.config import Config
from coord.errors import InvalidInputError, MergeConflictError
from coord.identity import role_email, role_name
from coord.repo import RepoPaths
from coord.tasks.boundary import commands, guarded, need_role, workspace
from coord.tasks.branches import push

if TYPE_CHECKING:
    from coord.store import Store
    from coord.worktree import MergeResult, SetupResult


def _shown(path: Path, root: Path) -> str:
    """Paths relative to the current directory when under it: that is what a user would type."""
    here = os.path.realpath(os.getcwd())
    target = os.path.realpath(path)
    if target == here:
        return "."
    if target.startswith(here.rstrip("/") + "/"):
        return os.path.relpath(target, here)
    return str(path)


def print_setup(result: SetupResult, root: Path, notes: list[str]) -> None:
    """Shared with session.start: what setup did, one fact a line, then the rendering notes."""
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
    for note in notes:
        print(note, file=sys.stderr if note.startswith("coord: warning") else sys.stdout)


def setup_and_render(paths: RepoPaths, config: Config, role: str, commands: list[tuple[str, str]],
                     base: str | None = None) -> tuple[SetupResult, list[str]]:
    """Shared with session.start: set the role up, then give its checkout coord's files."""
    from coord import render, worktree

    result = worktree.setup(paths, config, role, base=base)
    notes = render.prepare_checkout(paths, None if result.is_main else result.path, commands)
    return result, notes


@task(positional=["role"], help={"role": "the agent role", "base": "ref to branch from (default: base branch)"})
@guarded
def setup(c: object, role: str | None = None, base: str | None = None) -> None:
    """Create (or repair) ROLE's worktree on agent/ROLE/active with its own git identity."""
    role = need_role(role, "coord agent.setup ROLE [--base REF]")
    paths, config = workspace()
    result, notes = setup_and_render(paths, config, role, commands(c), base=base)
    print_setup(result, paths.main_root, notes)


@task(name="list", help={"json": "print a JSON array instead of a table"})
@guarded
def list_(c: object, json: bool = False) -> None:
    """Every agent worktree: branch, head, dirty, ahead/behind the base branch, presence."""
    from coord.team.report import list_output

    text, warnings = list_output(*workspace(), json)
    for line in warnings:
        print(f"coord: warning: {line}", file=sys.stderr)
    print(text)


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
    from coord.tasks.branches import after_merge, merge_source

    role = need_role(role, "coord agent.merge ROLE")
    paths, config = workspace()
    try:
        result = worktree.merge(paths, config, role, source=merge_source(paths, config, role))
    except MergeConflictError as exc:
        _report_conflict(exc)
        raise
    _print_merge(result)
    if result.kind != "up-to-date":
        after_merge(paths, config, result.base)
    _close_loop(paths, config, result)


def _close_loop(paths: RepoPaths, config: Config, result: MergeResult) -> None:
    """After a merge: acknowledge, tell ROLE, tell the others (coord.merge_notifier); never fails the merge."""
    from coord.merge_notices import describe
    from coord.merge_notifier import announce_merge, event_for

    event = event_for(paths, config, result)
    report = announce_merge(paths, config, event)
    for line in report.warnings:
        print(f"coord: warning: {line}", file=sys.stderr)
    if report.sent:
        print(describe(event, report.plan, report.acknowledged))


def _count(n: int) -> str:
    return f"{n} commit{'' if n == 1 else 's'}"


@task(help={"role": "the agent role (default: this worktree's own role)"})
@guarded
def sync(c: object, role: str | None = None) -> None:
    """Merge the base branch into ROLE's branch in its worktree (dirty: exit 4; conflicts: exit 1, nothing changed)."""
    from coord import sync as syncing
    from coord.actor import email_from_git, resolve_role

    paths, config = workspace()
    if not role:
        role = resolve_role(paths, config, os.environ, lambda: email_from_git(paths)).role
    syncing.check_caller(paths.toplevel, paths.main_root, config.worktree_dir, role)
    try:
        result = syncing.sync(paths, config, role)
    except MergeConflictError as exc:
        _report_conflict(exc)
        raise
    if result.kind == "up-to-date":
        print(f"{result.branch} already has {result.base} ({result.commit[:8]}); nothing to do")
    elif result.kind == "fast-forward":
        print(f"fast-forwarded {result.branch} to {result.base} ({result.commit[:8]}, {_count(result.commits)})")
    else:
        print(f"merged {result.base} into {result.branch} with merge commit {result.commit[:8]} "
              f"({_count(result.commits)} from {result.base})")
    for note in result.notes:
        print(f"coord: warning: {note}", file=sys.stderr)


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

    role = need_role(role, "coord agent.teardown ROLE [--merge | --abandon] [--yes]")
    if merge and abandon:
        raise InvalidInputError("--merge and --abandon exclude each other", "pick one")
    mode = "merge" if merge else "abandon" if abandon else None
    paths, config = workspace()
    confirm = _ask if sys.stdin is not None and sys.stdin.isatty() else None
    try:
        from coord.render import untouched_generated

        disposable = untouched_generated(worktree.worktree_path(paths, config, role), commands(c))
        result = worktree.teardown(paths, config, role, mode=mode, yes=yes, confirm=confirm, disposable=disposable)
    except MergeConflictError as exc:
        _report_conflict(exc)
        raise
    from coord.claude_worktree import forget_if_gone

    if forget_if_gone(paths, config, role):  # an ad-hoc agent (claude --worktree) with nothing left
        print(f"forgot the ad-hoc agent {role}")
    if result.merge is not None:
        _print_merge(result.merge)
        _close_loop(paths, config, result.merge)
    if result.backup_ref and not result.unsaved:
        print(f"saved all of {role}'s work under {result.backup_ref}")
    elif result.backup_ref:
        more = len(result.unsaved) - 5
        shown = ", ".join(result.unsaved[:5]) + (f" and {more} more" if more > 0 else "")
        print(f"saved {role}'s work under {result.backup_ref}, except ignored files over the backup's size "
              f"limit, deleted with the worktree: {shown}")
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

    role = need_role(role, "coord agent.restore ROLE [--ref REF]")
    paths, config = workspace()
    result = worktree.restore(paths, config, role, ref=ref)
    print(f"restored {result.ref} into {_shown(result.path, paths.main_root)} on branch {result.branch}")
    for note in result.notes:
        print(note)


# --- conflict radar and file claims -------------------------------------------------------------


def _radar_store(paths: RepoPaths, config: Config) -> Store | None:
    """The store for radar and claims commands, or None (one warning) when Redis is unreachable:
    the radar still compares branches without it."""
    from coord.errors import StoreUnavailableError
    from coord.store import open_store

    try:
        return open_store(paths, config, start_server=False)
    except StoreUnavailableError as exc:
        print(f"coord: warning: {exc.message} (no cache, no warnings sent)", file=sys.stderr)
        return None


@task(help={"role": "only this role's pairs (default: every pair)", "json": "print JSON instead of a table"})
@guarded
def conflicts(c: object, role: str | None = None, json: bool = False) -> None:
    """Which branches would conflict if merged, and which merely touch the same files (cached by tips)."""
    from coord import radar
    from coord.conflicts import format_report
    from coord.identity import validate_role

    paths, config = workspace()
    if role is not None:
        validate_role(role, config.roles)
    store = _radar_store(paths, config)
    try:
        report = radar.run(paths, config, store, only=role)
    finally:
        if store is not None:
            store.close()
    print(_json.dumps(report.to_dict(), indent=2) if json else format_report(report))


@task(help={"json": "print JSON instead of a table"})
@guarded
def claims(c: object, json: bool = False) -> None:
    """Every file claim: pattern, holder, reason, time left, and whether it still counts."""
    from coord import claim_store
    from coord.errors import StoreUnavailableError
    from coord.presence import describe_age
    from coord.store import open_store, unreachable_fix

    paths, config = workspace()
    try:
        with open_store(paths, config, start_server=False) as store:
            view = claim_store.read(store)
    except StoreUnavailableError as exc:
        raise StoreUnavailableError(exc.message, unreachable_fix(config)) from None
    data = view.to_dict()
    if json:
        print(_json.dumps(data, indent=2))
        return
    if not data["claims"]:
        print("no file claims")
        return
    rows = [("PATTERN", "HOLDER", "STATUS", "LEFT", "REASON")]
    for item in cast("list[dict[str, Any]]", data["claims"]):
        rows.append((item["pattern"], item["role"], item["status"], describe_age(item["seconds_left"]), item["reason"]))
    widths = [max(len(str(r[i])) for r in rows) for i in range(4)]
    for row in rows:
        print("  ".join([*(str(x).ljust(w) for x, w in zip(row[:4], widths, strict=True)), str(row[4])]))


@task(help={"remove": "remove the guard instead of installing it"})
@guarded
def guard(c: object, remove: bool = False) -> None:
    """Install (or --remove) the optional git pre-commit guard: commits touching another live role's claims fail."""
    from coord import commit_guard

    paths, _config = workspace()
    if remove:
        removed = commit_guard.remove(paths)
        print(f"removed {removed}" if removed else "no coord pre-commit guard installed")
        return
    target = commit_guard.install(paths)
    print(f"installed {target} (every worktree of this repository uses it; skip once with git commit --no-verify)")


@task
@guarded
def precommit(c: object) -> None:
    """Run by the pre-commit guard: refuse (exit 13) a commit touching paths another live role has claimed."""
    from coord import claim_store
    from coord.actor import email_from_files, resolve_role
    from coord.claims import describe_claim, offline_decision
    from coord.errors import ClaimConflictError, CoordError, StoreUnavailableError
    from coord.store import open_store, unreachable_fix

    paths, config = workspace()
    try:
        email = email_from_files(paths.git_dir, paths.common_dir)  # no git process inside git's own hook
        role: str | None = resolve_role(paths, config, os.environ, email).role
    except CoordError:
        role = None
    staged = claim_store.staged_paths(str(paths.toplevel))
    if not staged:
        return
    try:
        with open_store(paths, config, start_server=False) as store:
            hits = claim_store.guard_commit(store, role, staged)
    except StoreUnavailableError as exc:
        if offline_decision(config.claims_when_offline):
            print(f"coord: warning: claims not checked ({exc.message}); the commit goes on", file=sys.stderr)
            return
        raise StoreUnavailableError(
            f"claims cannot be checked ({exc.message}) and claims_when_offline is deny",
            f"{unreachable_fix(config)}, or commit with --no-verify",
        ) from None
    if hits:
        import time

        now = time.time()
        for path, claim in hits:
            print(f"coord: {path} is {describe_claim(claim, now)}", file=sys.stderr)
        raise ClaimConflictError(
            f"commit refused: {len(hits)} staged path(s) claimed by another live role",
            "unstage them, or ask the holder to release them (skip the guard once with git commit --no-verify)",
        )


collection = Collection("agent", setup, list_, merge, sync, teardown, restore, conflicts, claims, guard, precommit,
                        push)
top_level: list[Task[Any]] = []
