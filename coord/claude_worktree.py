"""Claude Code's own worktrees (`claude --worktree NAME`, subagents with `isolation: "worktree"`)
made coord worktrees: what coord's WorktreeCreate and WorktreeRemove hooks do.

How a name Claude Code passes relates to the roles:
- a configured agent role (backend, qa, ...) is that role: its worktree `<worktree_dir>/NAME`,
  created or reused exactly as `coord agent.setup NAME` does;
- the main role is refused (it works in the main checkout, never in a worktree);
- any other well-formed name (1-32 characters: a lowercase letter, then lowercase letters, digits
  or '-'; Claude Code's subagent names such as agent-a19d1fe46fafc5e6e qualify) becomes an ad-hoc
  agent: recorded in coord.adhoc, then set up like a role with its own branch agent/NAME/active and
  git identity `coord agent NAME <NAME@coord.invalid>`. From then on it registers, heartbeats, sends
  and receives messages, claims files and shows in the radar like a configured role;
- anything else is refused with one line, and nothing is created (nor recorded).

Removal runs coord's teardown with no flag: it never removes uncommitted work (the worktree is
kept, and the line says how to force it: `coord agent.teardown NAME --abandon` backs everything up
first), keeps a branch with unmerged commits, and leaves locked worktrees alone. An ad-hoc name is
forgotten once neither its worktree nor its branch is left.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from coord import adhoc, git, worktree
from coord.config import Config
from coord.errors import (
    ConfirmationRequiredError,
    IdentityError,
    InvalidInputError,
    NotFoundError,
    StoreUnavailableError,
)
from coord.identity import ROLE_PATTERN
from coord.repo import RepoPaths

Warn = Callable[[str], None]


@dataclass(frozen=True)
class Agent:
    """Who a Claude Code worktree name is: a role, and whether it is an ad-hoc one."""

    role: str
    adhoc: bool


def agent_for(name: object, config: Config) -> Agent:
    """The agent a worktree name stands for, or InvalidInputError (one line) when it cannot be one."""
    if not isinstance(name, str) or not ROLE_PATTERN.fullmatch(name):
        shown = repr(name) if len(repr(name)) <= 60 else repr(name)[:57] + "..."
        raise InvalidInputError(
            f"worktree name {shown} is not a valid coord agent name",
            "use 1-32 characters: a lowercase letter, then lowercase letters, digits or '-'",
        )
    if name == config.main_role:
        raise InvalidInputError(
            f"{name} is the main role: it works in the main checkout, not in a worktree",
            "run claude in the main checkout, or give the worktree another name",
        )
    return Agent(name, adhoc=name not in config.configured_roles())


def role_at(paths: RepoPaths, config: Config, worktree_path: object) -> str:
    """The agent whose coord worktree is at worktree_path (a role's folder under the worktree
    folder), or InvalidInputError: coord removes only worktrees it made."""
    if not isinstance(worktree_path, str) or not worktree_path:
        raise InvalidInputError("WorktreeRemove gave no worktree_path", "nothing was removed")
    folder = Path(os.path.realpath(worktree_path))
    parent = Path(os.path.realpath(paths.main_root / config.worktree_dir))
    role = folder.name
    if folder.parent != parent or role not in config.agent_roles():
        raise InvalidInputError(
            f"{worktree_path} is not a coord agent worktree (those are {parent}/ROLE); coord left it alone",
            "remove it with git worktree remove if it is yours",
        )
    return role


def with_role(config: Config, role: str) -> Config:
    """config with an ad-hoc role just recorded (what load_config would now return)."""
    if role in config.roles:
        return config
    return replace(config, roles=(*config.roles, role), adhoc_roles=(*config.adhoc_roles, role))


def create(paths: RepoPaths, config: Config, name: object) -> tuple[Agent, worktree.SetupResult]:
    """WorktreeCreate: set up NAME's worktree (see the module docstring); returns the agent and
    worktree.setup's result. A refusal records nothing: an ad-hoc name recorded for this call is
    forgotten again when the setup fails."""
    agent = agent_for(name, config)
    recorded = adhoc.add(paths.main_root, agent.role) if agent.adhoc else False
    try:
        result = worktree.setup(paths, with_role(config, agent.role) if agent.adhoc else config, agent.role)
    except BaseException:
        if recorded:
            adhoc.remove(paths.main_root, agent.role)
        raise
    return agent, result


def release_session(paths: RepoPaths, config: Config, role: str, session_id: object, warn: Warn) -> None:
    """The session asking for the removal is the one leaving the worktree: end its own presence
    (only if it holds the role), so the teardown weighs the work and other sessions, not it."""
    if not isinstance(session_id, str) or not session_id:
        return
    try:
        from coord.store import open_store

        with open_store(paths, config, start_server=False) as store:
            store.deregister(role, session_id)
    except IdentityError:
        pass  # another session holds the role: the teardown's own rules decide
    except StoreUnavailableError as exc:
        warn(f"presence of {role} not checked: {exc.message}")


def gone(paths: RepoPaths, config: Config, role: str) -> bool:
    """Neither a worktree nor a branch of role is left."""
    path = worktree.worktree_path(paths, config, role)
    listed = any(os.path.realpath(e.path) == os.path.realpath(path) for e in git.worktree_list(paths.main_root))
    return not listed and not path.exists() and not git.branch_exists(paths.main_root, worktree.agent_branch(role))


def forget_if_gone(paths: RepoPaths, config: Config, role: str) -> bool:
    """Drop an ad-hoc name once nothing of it is left; True when it was dropped."""
    if role not in config.adhoc_roles or not gone(paths, config, role):
        return False
    return adhoc.remove(paths.main_root, role)


def remove(
    paths: RepoPaths, config: Config, worktree_path: object, session_id: object, warn: Warn
) -> worktree.TeardownResult:
    """WorktreeRemove: coord's teardown of the agent at worktree_path, with no flag (a refusal is
    raised as the teardown's CoordError, nothing changed); returns worktree.teardown's result."""
    role = role_at(paths, config, worktree_path)
    release_session(paths, config, role, session_id, warn)
    try:
        result = worktree.teardown(paths, config, role, warn=warn)
    except NotFoundError:
        forget_if_gone(paths, config, role)
        raise
    except ConfirmationRequiredError as exc:  # uncommitted work: kept, and say how to go further
        raise ConfirmationRequiredError(
            f"kept {worktree_path}: {exc.message}",
            f"commit the work, or remove it anyway with coord agent.teardown {role} --abandon "
            "(which backs everything up under refs/coord/backup first)",
        ) from None
    forget_if_gone(paths, config, role)
    return result
