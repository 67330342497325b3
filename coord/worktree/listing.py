"""Listing agent worktrees: git's worktree list, ahead/behind the base branch, presence from the store."""

from __future__ import annotations

import os

from coord import git
from coord.config import Config
from coord.errors import ConfigError, DirtyStateError, StoreUnavailableError
from coord.identity import role_of_worktree
from coord.repo import RepoPaths
from coord.worktree.results import AgentInfo
from coord.worktree.rules import placement_problem, worktree_path
from coord.worktree.state import Warn, resolve_base, stderr_warn


def presence_statuses(paths: RepoPaths, config: Config, warn: Warn) -> dict[str, str] | None:
    """Role -> presence status from the coordination store, or None (one warning) if unreachable."""
    try:
        from coord.store import open_store

        with open_store(paths, config, start_server=False) as store:
            return {view.role: str(view.status) for view in store.presence()}
    except ImportError:
        warn("presence unknown: the coordination store is not installed")
    except StoreUnavailableError as exc:
        warn(f"presence unknown: {exc.message}")
    return None


def agent_entries(paths: RepoPaths, config: Config) -> list[tuple[str, git.WorktreeEntry]]:
    """(role, worktree) for every agent worktree: on an agent branch wherever it sits (a moved one
    keeps its role), or directly under the worktree folder (anything else is not coord's)."""
    folder = os.path.realpath(paths.main_root / config.worktree_dir)
    main = os.path.realpath(paths.main_root)
    found = []
    for entry in git.worktree_list(paths.main_root):
        real = os.path.realpath(entry.path)
        role = None if real == main else role_of_worktree(real, entry.branch, folder)
        if role is not None:
            found.append((role, entry))
    return found


def check_placement(paths: RepoPaths, config: Config, role: str) -> None:
    """Refuse to act on a role whose worktree was moved away, or whose place holds another role's
    worktree (rules.placement_problem)."""
    entries = [(e.path, e.branch) for e in git.worktree_list(paths.main_root) if not e.prunable]
    problem = placement_problem(role, worktree_path(paths, config, role), entries)
    if problem is not None:
        raise problem


def list_agents(paths: RepoPaths, config: Config, warn: Warn | None = None) -> list[AgentInfo]:
    """Every agent worktree with its state, ahead/behind the base branch, and presence status."""
    from coord.presence import Status

    warn = warn or stderr_warn
    entries = agent_entries(paths, config)
    if not entries:
        return []
    main = paths.main_root
    try:
        base = resolve_base(paths, config)
        base_sha = git.rev_parse(main, base)
    except DirtyStateError:
        base_sha = None
    except ConfigError as exc:
        warn(f"ahead/behind unknown: {exc.message}")
        base_sha = None
    statuses = presence_statuses(paths, config, warn)
    agents = []
    for role, entry in entries:
        missing = not entry.path.is_dir()
        dirty = False if missing else git.is_dirty(entry.path)
        ahead = behind = None
        if entry.head and base_sha:
            ahead, behind = git.ahead_behind(main, entry.head, base_sha)
        presence = Status.UNKNOWN.value if statuses is None else statuses.get(role, Status.ABSENT.value)
        agents.append(
            AgentInfo(
                role=role, branch=entry.branch, path=entry.path, head=entry.head, dirty=dirty, ahead=ahead,
                behind=behind, presence=presence, locked=entry.locked, missing=missing,
            )
        )
    return agents
