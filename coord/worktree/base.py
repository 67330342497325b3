"""Which branch is the base (agents start from it and merge into it), and refusing the ones that
cannot be: a remote-tracking branch in base_branch (a merge can only move a local branch), a ref
that is no branch at all, or, with no base_branch set, an agent's own branch checked out in the
main checkout (then every agent would "merge" into another agent's branch, and the merge of that
agent would say it is already merged into itself)."""

from __future__ import annotations

from pathlib import Path

from coord import git
from coord.errors import ConfigError, DirtyStateError
from coord.identity import role_of_branch


def base_from_checkout(current: str | None) -> str:
    """The main checkout's branch as the base branch, or the refusal saying why it cannot be."""
    fix = "check out the base branch there (git switch BRANCH), pass --base REF, or set base_branch in coord.toml"
    if current is None:
        raise DirtyStateError("the main checkout is on a detached HEAD, so there is no base branch", fix)
    agent = role_of_branch(current)
    if agent:
        raise DirtyStateError(
            f"the main checkout is on {current}, the agent branch of {agent}, not on a base branch", fix
        )
    return current


def check_base_branch(main: Path, name: str) -> str:
    """base_branch from the settings, if it is a local branch (or the unborn branch of a
    repository with no commit yet); ConfigError (exit 8) naming what it is instead."""
    if git.branch_exists(main, name) or git.run(main, "symbolic-ref", "-q", "HEAD", ok=(0, 1)).stdout.strip() == (
        f"refs/heads/{name}"
    ):
        return name
    fix = "set base_branch to a local branch"
    if role_of_branch(name):
        raise ConfigError(f"base_branch {name!r} is an agent's branch, not a base branch", fix)
    if git.ref_exists(main, f"refs/remotes/{name}"):
        local = name.split("/", 1)[1] if "/" in name else name
        raise ConfigError(
            f"base_branch {name!r} is a remote-tracking branch: agent.merge can only move a local branch",
            f"set base_branch = {local!r} (git switch {local} creates it from {name})",
        )
    raise ConfigError(f"base_branch {name!r} is not a local branch in this repository", fix)
