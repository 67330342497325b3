"""`agent.push` and the cross-machine part of `agent.merge`: agent branches through the shared git
remote (coord.remote). Parse, call, print."""

from __future__ import annotations

import os
import sys

from invoke.tasks import task

from coord.config import Config
from coord.errors import NotFoundError
from coord.repo import RepoPaths
from coord.tasks.boundary import guarded, workspace


@task(help={"role": "the agent role (default: this worktree's own role)"})
@guarded
def push(c: object, role: str | None = None) -> None:
    """Push ROLE's branch to the shared remote now (automatic after each heartbeat); never the base branch."""
    from coord import remote
    from coord.actor import email_from_git, resolve_role
    from coord.identity import validate_role

    paths, config = workspace()
    if not role:
        role = resolve_role(paths, config, os.environ, lambda: email_from_git(paths)).role
    validate_role(role, config.roles)
    if role == config.main_role:
        raise NotFoundError(f"{role} is the main role and has no agent branch; the base branch is pushed by "
                            "coord agent.merge", "name an agent role")
    done = remote.push(paths, config, role)
    if done is None:
        raise NotFoundError("no remote to push to (setting remote, default origin)",
                            "git remote add origin URL, or set remote in coord.toml")
    print(done.line())


def merge_source(paths: RepoPaths, config: Config, role: str) -> str | None:
    """The ref agent.merge merges for role: its fetched branch (fetched now, not rate-limited) when
    the role runs on another machine or has no branch here; None for the local branch."""
    from coord import remote
    from coord.errors import GitError, StoreUnavailableError
    from coord.store import open_store
    from coord.store_checks import this_host

    name = remote.remote_name(paths, config)
    if name is None:
        return None
    try:
        remote.fetch(paths, config, force=True, remote=name)
    except GitError as exc:
        print(f"coord: warning: {exc.message} (merging what was fetched before)", file=sys.stderr)
    try:
        with open_store(paths, config, start_server=False) as store:
            hosts = remote.holder_hosts(store)
    except StoreUnavailableError:
        hosts = {}
    from coord import git

    local = git.rev_parse(paths.main_root, remote.agent_ref(role))
    chosen = remote.choose(paths, config, [role], {role: local} if local else {}, hosts, config.host or this_host())
    pick = chosen.get(role)
    return pick.ref if pick is not None and pick.fetched else None


def after_merge(paths: RepoPaths, config: Config, base: str) -> None:
    """The merged base branch goes to the remote (the only push of it coord makes)."""
    from coord import remote

    line = remote.push_base(paths, config, base)
    if line:
        print(line if not line.startswith("warning") else f"coord: {line}", file=sys.stderr if
              line.startswith("warning") else sys.stdout)
