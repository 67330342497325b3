"""`team.up`, `team.down`, `team.attach`, and the top-level `status` and `watch`: the whole team
started, seen and stopped from one place. Parse, call coord.team, print."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any

from invoke.collection import Collection
from invoke.tasks import Task, task

from coord.errors import StoreUnavailableError
from coord.tasks.boundary import guarded, workspace

if TYPE_CHECKING:
    from coord.config import Config
    from coord.repo import RepoPaths

ROLE_HELP = {"role": "a role to act on (repeatable; `coord team.up backend qa` works too)"}


def _roles(role: list[str] | None) -> list[str]:
    return [r for r in (role or []) if r]


@task(iterable=["role"], help=ROLE_HELP)
@guarded
def up(c: object, role: list[str] | None = None) -> None:
    """Set up and start every team role's agent in one tmux session (detached); rerun starts only what is missing."""
    from coord import worktree
    from coord.render import record_hook_program
    from coord.repo import find_repo
    from coord.tasks.session import store_line
    from coord.team import launch
    from coord.team.tmux import Tmux

    paths, config = workspace()
    roles = launch.up_roles(config, _roles(role))
    tmux = Tmux()
    tmux.check()
    for name in roles:
        if name == config.main_role:
            continue
        result = worktree.setup(paths, config, name)
        print(f"{name}: worktree {'created' if result.created else 'ready'} on {result.branch}")
    record_hook_program(find_repo(paths.main_root))
    print(store_line(paths, config))
    done = launch.up(paths, config, roles, tmux)
    for name in done.started:
        print(f"{name}: started `{config.agent_command_for(name)}` in window {done.session}:{name}")
    for name in done.respawned:
        print(f"{name}: started again in window {done.session}:{name} (its program had exited)")
    for name in done.running:
        print(f"{name}: already running in window {done.session}:{name} (left alone)")
    print("watch them with `coord watch`; open the session with `coord team.attach [ROLE]`")


@task(iterable=["role"], help=ROLE_HELP)
@guarded
def down(c: object, role: list[str] | None = None) -> None:
    """End the agents (each asked to exit, so its session-end hook runs), then close their windows; work stays."""
    from coord.team import launch
    from coord.team.tmux import Tmux

    paths, config = workspace()
    roles = launch.choose_roles(config, _roles(role)) if _roles(role) else list(config.roles)
    done = launch.down(paths, config, roles, Tmux())
    for name in done.exited:
        print(f"{name}: agent ended, window closed")
    for name in done.interrupted:
        print(f"{name}: agent ended after Ctrl-C, window closed")
    for name in done.closed:
        print(f"{name}: agent did not end; window closed (its presence is marked inactive)")
    if done.closed:
        _mark_inactive(paths, config, done.closed)
    if not (done.exited or done.interrupted or done.closed):
        print(f"no agent windows to stop in {done.session}")
    print("worktrees, branches and uncommitted files are untouched")


def _mark_inactive(paths: RepoPaths, config: Config, roles: list[str]) -> None:
    from coord.store import open_store

    try:
        with open_store(paths, config, start_server=False) as store:
            for name in roles:
                store.deregister(name)
    except StoreUnavailableError as exc:
        print(f"coord: warning: presence not updated: {exc.message}", file=sys.stderr)


@task(iterable=["role"], help={"role": "the role whose window to show (default: the session as it is)"})
@guarded
def attach(c: object, role: list[str] | None = None) -> None:
    """Open the team's tmux session (switch to it when already inside tmux), ROLE's window selected."""
    from coord.errors import InvalidInputError
    from coord.identity import validate_role
    from coord.team import launch
    from coord.team.tmux import Tmux

    paths, config = workspace()
    names = _roles(role)
    if len(names) > 1:
        raise InvalidInputError("team.attach takes one role", "usage: coord team.attach [ROLE]")
    if names:
        validate_role(names[0], config.roles)
    argv = launch.attach_argv(paths, names[0] if names else None, Tmux())
    sys.stdout.flush()
    os.execv(argv[0], argv)


@task(help={"json": 'print {"agents": [...]} instead of a table'})
@guarded
def status(c: object, json: bool = False) -> None:
    """The whole team: presence, activity, host, branch ahead/behind/dirty, unread, last status, claims, conflicts."""
    from coord.team.report import status_output

    _print_report(*status_output(*workspace(), json))


def _print_report(text: str, warnings: list[str]) -> None:
    for line in warnings:
        print(f"coord: warning: {line}", file=sys.stderr)
    print(text)


@task(help={"interval": "seconds between checks of the store (default 0.5)"})
@guarded
def watch(c: object, interval: float = 0.5) -> None:
    """A live view of the team: status, mail between roles, the conflict matrix, claims; keys to steer it."""
    from coord.cockpit.app import run

    paths, config = workspace()
    run(paths, config, interval=float(interval))


collection = Collection("team", up, down, attach)
top_level: list[Task[Any]] = [status, watch]
