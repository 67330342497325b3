"""The rules of agent worktrees as pure decisions: values in, values out, no git, no files.

Where a role works and on which branch, how backups are named, what .gitignore needs, which files
a new worktree copies, and what a teardown may do (decide_teardown): the operations in the sibling
modules gather facts through coord.git, ask these, then act, so the rules are unit-tested without git.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

from coord.config import Config
from coord.errors import ConfirmationRequiredError, DirtyStateError, InvalidInputError, NotFoundError
from coord.identity import check_role_syntax, role_of_branch
from coord.repo import RepoPaths
from coord.worktree.results import AgentInfo

BRANCH_TEMPLATE = "agent/{role}/active"
BACKUP_PREFIX = "refs/coord/backup"
INCLUDE_FILE = ".worktreeinclude"
GITIGNORE = ".gitignore"


def agent_branch(role: str) -> str:
    """The branch a role's worktree works on."""
    return BRANCH_TEMPLATE.format(role=check_role_syntax(role))


def worktree_path(paths: RepoPaths, config: Config, role: str) -> Path:
    """Where a role works: the main checkout for the main role, else <main_root>/<worktree_dir>/<role>."""
    check_role_syntax(role)
    if role == config.main_role:
        return paths.main_root
    return paths.main_root / config.worktree_dir / role


def placement_problem(role: str, expected: Path, entries: Sequence[tuple[Path, str | None]]) -> DirtyStateError | None:
    """A worktree moved with `git worktree move` keeps its branch, so its role: refuse to act on a
    role whose worktree sits elsewhere, or on a folder that holds another role's worktree (acting
    would give that worktree this role's identity or remove it as this role's). entries: (resolved
    path, branch) of git's worktree list."""
    want = agent_branch(role)
    for path, branch in entries:
        at_place = os.path.realpath(path) == os.path.realpath(expected)
        if branch == want and not at_place:
            return DirtyStateError(
                f"branch {want} is checked out in {path}, not at {expected} where the {role} worktree belongs "
                "(moved with git worktree move, or made by hand)",
                f"git worktree move {path} {expected}, or switch that checkout to another branch",
            )
        owner = role_of_branch(branch)
        if at_place and owner is not None and owner != role:
            return DirtyStateError(
                f"{expected} holds the {owner} worktree (branch {branch}), moved there with git worktree move",
                f"move it back: git worktree move {expected} {expected.parent / owner}",
            )
    return None


def branch_name_clashes(role: str, refnames: Iterable[str]) -> list[str]:
    """Branches whose names keep agent/<role>/active from being created: git stores refs as paths,
    so a branch `agent` or `agent/<role>` (a file where a folder must go) or `agent/<role>/active/x`
    (the reverse) makes `git branch` fail."""
    branch = f"refs/heads/{agent_branch(role)}"
    blocking = {"refs/heads/agent", f"refs/heads/agent/{role}"}
    return sorted(n.removeprefix("refs/heads/") for n in refnames if n in blocking or n.startswith(branch + "/"))


def backup_ref(role: str, stamp: str) -> str:
    return f"{BACKUP_PREFIX}/{check_role_syntax(role)}/{stamp}"


def backup_stamp(now: datetime) -> str:
    """UTC, sortable, legal in a ref name."""
    return now.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def restore_command(role: str, ref: str) -> str:
    """The one command that brings an abandoned worktree back (printed after --abandon)."""
    return f"coord agent.restore {role} --ref {ref}"


def gitignore_with_entry(text: str | None, worktree_dir: str) -> str | None:
    """The new .gitignore text with the worktree folder ignored, or None if a line already does it."""
    folder = worktree_dir.strip("/")
    equivalent = {f"/{folder}/", f"{folder}/", f"/{folder}", folder, f"/{folder}/*", f"{folder}/*"}
    current = text or ""
    if any(line.strip() in equivalent for line in current.splitlines()):
        return None
    if current and not current.endswith("\n"):
        current += "\n"
    return f"{current}/{folder}/\n"


def _safe_relative(rel: str) -> bool:
    pure = PurePosixPath(rel)
    return bool(rel) and not pure.is_absolute() and ".." not in pure.parts


def include_candidates(listed: Sequence[str], ignored: Sequence[str], worktree_dir: str) -> list[str]:
    """Files to copy into a new worktree: matched by .worktreeinclude AND ignored by git (a tracked or
    merely untracked file is the checkout's business, not a copy's), never from the worktree folder."""
    folder = worktree_dir.strip("/") + "/"
    ignored_set = set(ignored)
    return sorted(
        rel for rel in set(listed) if rel in ignored_set and _safe_relative(rel) and not rel.startswith(folder)
    )


@dataclass(frozen=True)
class TeardownFacts:
    """What is true of a role's checkout right now (gathered by `_teardown_facts`)."""

    has_worktree: bool  # git has the worktree registered
    folder_exists: bool
    locked: bool
    lock_reason: str | None
    dirty_files: tuple[str, ...]  # tracked changes and untracked non-ignored files
    branch_exists: bool
    merged: bool  # the branch tip is reachable from the base branch
    backed_up: bool  # the branch tip is reachable from a backup ref of this role
    head_safe: bool  # the worktree's HEAD is reachable from the branch, the base, or is on a branch
    unmerged_commits: int


@dataclass(frozen=True)
class TeardownPlan:
    merge: bool = False
    backup: bool = False
    remove: bool = False
    force_remove: bool = False
    delete_branch: bool = False
    note: str | None = None


TEARDOWN_MODES = (None, "merge", "abandon")


def decide_teardown(role: str, facts: TeardownFacts, mode: str | None, confirmed: bool) -> TeardownPlan:
    """What a teardown may do. Refusals are raised here, before anything changes.

    Rules: a locked worktree is never removed; work that would be lost (uncommitted files, or a
    HEAD reachable from nothing else) is removed only after a backup, and only with --abandon or a
    confirmation (--yes, or yes on a terminal); the branch is deleted only when merged into the base
    or contained in a backup; a clean worktree with unmerged commits is removed but its branch kept.
    """
    if mode not in TEARDOWN_MODES:
        raise InvalidInputError(f"unknown teardown mode {mode!r}", "use --merge or --abandon")
    branch = agent_branch(role)
    if facts.has_worktree and facts.locked:
        reason = f" ({facts.lock_reason})" if facts.lock_reason else ""
        raise DirtyStateError(
            f"the {role} worktree is locked{reason}; coord never removes a locked worktree",
            "if nothing uses it any more: git worktree unlock <path>, then tear down again",
        )
    if not facts.has_worktree:
        if not facts.branch_exists:
            raise NotFoundError(f"role {role} has no worktree and no branch {branch}", "see coord agent.list")
        if facts.merged or facts.backed_up:
            return TeardownPlan(delete_branch=True, note=f"no worktree left; deleted the leftover branch {branch}")
        if mode == "merge":
            return TeardownPlan(merge=True, delete_branch=True)
        if mode == "abandon":
            return TeardownPlan(backup=True, delete_branch=True)
        raise NotFoundError(
            f"role {role} has no worktree; its branch {branch} has unmerged commits and is kept",
            f"merge it with coord agent.merge {role}, or back it up and delete it with "
            f"coord agent.teardown {role} --abandon",
        )
    at_risk = bool(facts.dirty_files) or not facts.head_safe
    if mode == "merge":
        if facts.dirty_files:
            raise DirtyStateError(
                f"the {role} worktree has uncommitted changes ({files_summary(facts.dirty_files)})",
                "commit them in the worktree first, or use --abandon to back them up and remove it",
            )
        if not facts.head_safe:
            raise DirtyStateError(
                f"the {role} worktree's HEAD holds commits that are not on {branch}",
                f"put them on {branch} first, or use --abandon to back them up",
            )
        return TeardownPlan(merge=True, remove=True, delete_branch=facts.branch_exists)
    if mode == "abandon" or (at_risk and confirmed):
        needs_backup = at_risk or (facts.branch_exists and not facts.merged)
        return TeardownPlan(backup=needs_backup, remove=True, force_remove=True, delete_branch=facts.branch_exists)
    if at_risk:
        raise ConfirmationRequiredError(
            f"the {role} worktree has uncommitted changes ({files_summary(facts.dirty_files)}); nothing was changed",
            "commit them, or pass --abandon (backs them up first), --yes, or run on a terminal to be asked",
        )
    if facts.branch_exists and not facts.merged:
        return TeardownPlan(
            remove=True,
            note=f"kept branch {branch}: {facts.unmerged_commits} commit(s) not merged "
            f"(coord agent.merge {role}, or coord agent.teardown {role} --abandon)",
        )
    return TeardownPlan(remove=True, delete_branch=facts.branch_exists)


def files_summary(files: Sequence[str], limit: int = 5) -> str:
    shown = ", ".join(f[3:] if len(f) > 3 and f[2] == " " else f for f in files[:limit])
    more = f" and {len(files) - limit} more" if len(files) > limit else ""
    return f"{len(files)} file(s): {shown}{more}"


def without_disposable(entries: Iterable[str], disposable: Iterable[str]) -> tuple[str, ...]:
    """Porcelain status entries less the UNTRACKED ones at disposable paths (a tracked change
    at such a path is still work)."""
    skip = {f"?? {p}" for p in disposable}
    return tuple(e for e in entries if e not in skip)


def format_table(agents: Sequence[AgentInfo], root: Path) -> str:
    """A readable table for agent.list (JSON is for machines)."""
    if not agents:
        return "no agent worktrees (create one with: coord agent.setup ROLE)"
    header = ("ROLE", "BRANCH", "HEAD", "DIRTY", "AHEAD", "BEHIND", "PRESENCE", "PATH")
    rows = [header]
    for a in agents:
        try:
            shown_path = os.path.relpath(a.path, root)
        except ValueError:
            shown_path = str(a.path)
        state = "yes" if a.dirty else "no"
        if a.missing:
            state = "missing"
        elif a.locked:
            state += " (locked)"
        rows.append((
            a.role, a.branch or "(detached)", (a.head or "")[:8], state,
            "-" if a.ahead is None else str(a.ahead), "-" if a.behind is None else str(a.behind),
            a.presence, shown_path,
        ))
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows)
