"""team.up / team.down / team.attach: every role's agent in one tmux session per repository.

The decisions (which windows to start, which to leave alone, what each agent's environment holds)
are pure functions; `up`, `down` and `attach_argv` do the effects through coord.team.tmux. A window
named after its role whose program still runs is never touched again by team.up: rerunning it
starts only what is missing. team.down asks each agent to exit the way a user would (so its
SessionEnd hook runs and presence turns inactive) and only then closes what is left.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from coord.config import Config
from coord.errors import EnvironmentProblemError, InvalidInputError
from coord.identity import INSTANCE_ENV as _IDENTITY_INSTANCE_ENV
from coord.identity import validate_role
from coord.repo import RepoPaths
from coord.team.tmux import Tmux, Window, inside_server

WAKE_ENV = "COORD_WAKE"  # the waker (loop) acts only when this is "tmux" and TMUX_PANE is set
WAKE_TMUX = "tmux"
ROLE_ENV = "COORD_ROLE"
INSTANCE_ENV = _IDENTITY_INSTANCE_ENV
# Passed from the caller to every window, so an already running tmux server (started elsewhere, with
# another environment) still gives the agent this repository's settings, PATH and API endpoint.
PASS_PREFIXES = ("COORD_", "ANTHROPIC_", "CLAUDE_CODE_", "MCP_", "CODEX_", "OPENAI_", "GEMINI_", "GOOGLE_")
PASS_NAMES = ("PATH", "HOME", "LANG", "LC_ALL", "TERM", "NO_COLOR", "DISABLE_AUTOUPDATER")
IDENTITY_NAMES = (ROLE_ENV, INSTANCE_ENV, WAKE_ENV)
EXIT_TEXT = "/exit"  # what a user types to end an agent CLI session (Claude Code, Codex)
EXIT_SECONDS = 20.0  # how long team.down waits for agents to end by themselves before insisting
INTERRUPT_SECONDS = 5.0
POLL_SECONDS = 0.2


# -- pure decisions --------------------------------------------------------------------------------
def session_name(paths: RepoPaths) -> str:
    """Stable per repository (its name and a digest of its git directory): two clones of one
    project never share a session. tmux forbids '.' and ':' in session names."""
    import hashlib

    digest = hashlib.sha1(str(paths.common_dir.resolve()).encode("utf-8")).hexdigest()[:10]
    return "coord-" + re.sub(r"[^A-Za-z0-9_-]", "_", f"{paths.main_root.name}-{digest}")


def choose_roles(config: Config, asked: Sequence[str]) -> list[str]:
    """The roles named on the command line (checked, configured order), else the `team` setting."""
    if not asked:
        return list(config.team_roles())
    for role in asked:
        validate_role(role, config.roles)
    wanted = set(asked)
    return [r for r in config.roles if r in wanted]


def up_roles(config: Config, asked: Sequence[str]) -> list[str]:
    """What team.up starts: choose_roles plus the main role (`coord team.up backend qa` starts pm
    too, as does a `team` setting without it): the agents report to it and it merges their work,
    so a team without it is not a team. Running windows are left alone, so naming one role to
    restart it starts nothing else that runs."""
    roles = choose_roles(config, asked)
    if config.main_role in config.roles and config.main_role not in roles:
        roles = [r for r in config.roles if r in {*roles, config.main_role}]
    return roles


def agent_env(role: str, environ: Mapping[str, str]) -> dict[str, str]:
    """The agent's environment in its window: what it needs passed on, then its fixed identity."""
    env = {k: v for k, v in environ.items()
           if (k.startswith(PASS_PREFIXES) or k in PASS_NAMES) and k not in IDENTITY_NAMES}
    env.pop("COORD_TMUX_SOCKET", None)
    env.update({ROLE_ENV: role, INSTANCE_ENV: role, WAKE_ENV: WAKE_TMUX})
    return env


def agent_argv(config: Config, role: str) -> list[str]:
    """The role's agent command as an argument list (split like a shell would, never run by one)."""
    command = config.agent_command_for(role)
    try:
        argv = shlex.split(command)
    except ValueError as exc:
        raise InvalidInputError(f"agent command for {role} cannot be split: {exc}", "fix its quoting") from None
    if not argv:
        raise InvalidInputError(f"agent command for {role} is empty", "set agent_command in coord.toml")
    return argv


@dataclass(frozen=True)
class Plan:
    """What team.up will do: start these roles, respawn those whose program exited, leave the rest."""

    start: tuple[str, ...]
    respawn: tuple[str, ...]
    running: tuple[str, ...]


def plan_up(roles: Sequence[str], windows: Sequence[Window]) -> Plan:
    by_name = {w.name: w for w in windows}
    start = tuple(r for r in roles if r not in by_name)
    respawn = tuple(r for r in roles if r in by_name and by_name[r].dead)
    running = tuple(r for r in roles if r in by_name and not by_name[r].dead)
    return Plan(start, respawn, running)


# -- effects ---------------------------------------------------------------------------------------
@dataclass
class UpResult:
    session: str
    started: list[str] = field(default_factory=list)
    respawned: list[str] = field(default_factory=list)
    running: list[str] = field(default_factory=list)
    windows: dict[str, str] = field(default_factory=dict)  # role -> window id


def workdir(paths: RepoPaths, config: Config, role: str) -> Path:
    """The main role works in the main checkout, every other role in its worktree."""
    if role == config.main_role:
        return paths.main_root
    return paths.main_root / config.worktree_dir / role


def _check_program(argv: Sequence[str], env: Mapping[str, str], role: str) -> None:
    if shutil.which(argv[0], path=env.get("PATH")) is None:
        raise EnvironmentProblemError(
            f"the agent command {argv[0]!r} for {role} is not installed or not on PATH",
            "install it, or set agent_command (or [agent_command_by_role]) in coord.toml",
        )


def up(
    paths: RepoPaths, config: Config, roles: Sequence[str], tmux: Tmux, environ: Mapping[str, str] | None = None,
) -> UpResult:
    """Start every role's agent that is not running yet, in the repository's session (detached, so
    it works without a terminal). The worktrees must exist (the task sets them up first)."""
    environ = os.environ if environ is None else environ
    tmux.check()
    session = session_name(paths)
    plan = plan_up(roles, tmux.windows(session))
    result = UpResult(session, running=list(plan.running))
    launches = []
    for role in (*plan.start, *plan.respawn):
        env = agent_env(role, environ)
        argv = agent_argv(config, role)
        _check_program(argv, env, role)
        launches.append((role, env, argv, str(workdir(paths, config, role))))
    existing = {w.name: w for w in tmux.windows(session)}
    for role, env, argv, cwd in launches:
        if role in plan.respawn:
            tmux.respawn(existing[role].pane, cwd, env, argv)
            result.respawned.append(role)
        elif not tmux.has_session(session):
            tmux.new_session(session, role, cwd, env, argv)
            result.started.append(role)
        else:
            tmux.new_window(session, role, cwd, env, argv)
            result.started.append(role)
    result.windows = {w.name: w.id for w in tmux.windows(session)}
    return result


@dataclass
class DownResult:
    session: str
    exited: list[str] = field(default_factory=list)  # ended by themselves after the exit command
    interrupted: list[str] = field(default_factory=list)  # ended after Ctrl-C
    closed: list[str] = field(default_factory=list)  # window closed while its program still ran
    absent: list[str] = field(default_factory=list)  # no window to stop


def _gone(tmux: Tmux, session: str, ids: Mapping[str, str]) -> set[str]:
    left = {w.id: w for w in tmux.windows(session)}
    return {role for role, wid in ids.items() if wid not in left or left[wid].dead}


def _wait(tmux: Tmux, session: str, ids: Mapping[str, str], seconds: float,
          sleep: Callable[[float], None]) -> set[str]:
    deadline = time.monotonic() + seconds
    while True:
        gone = _gone(tmux, session, ids)
        if gone >= set(ids) or time.monotonic() >= deadline:
            return gone
        sleep(POLL_SECONDS)


def down(
    paths: RepoPaths, config: Config, roles: Sequence[str], tmux: Tmux, exit_seconds: float = EXIT_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
) -> DownResult:
    """End the agents of roles the way a user would, so their end hooks run, then close their windows.
    Worktrees, branches and files are not touched."""
    tmux.check()
    session = session_name(paths)
    result = DownResult(session)
    windows = {w.name: w for w in tmux.windows(session)}
    ids = {r: windows[r].id for r in roles if r in windows}
    result.absent = [r for r in roles if r not in windows]
    for role in ids:
        if not windows[role].dead:
            tmux.send_keys(windows[role].pane, "Escape")
            tmux.send_text(windows[role].pane, EXIT_TEXT)
    gone = _wait(tmux, session, ids, exit_seconds, sleep)
    result.exited = [r for r in ids if r in gone]
    rest = {r: w for r, w in ids.items() if r not in gone}
    if rest:
        for role in rest:
            tmux.send_keys(windows[role].pane, "C-c")
            tmux.send_keys(windows[role].pane, "C-c")
        gone = _wait(tmux, session, rest, INTERRUPT_SECONDS, sleep)
        result.interrupted = [r for r in rest if r in gone]
    for role, wid in ids.items():
        if role not in result.exited and role not in result.interrupted:
            result.closed.append(role)
        tmux.kill_window(wid)  # a dead pane kept by remain-on-exit, or a program that would not end
    return result


def attach_argv(paths: RepoPaths, role: str | None, tmux: Tmux, environ: Mapping[str, str] | None = None) -> list[str]:
    """The tmux client command that shows the team (role's window selected); NotFound if no team runs."""
    from coord.errors import NotFoundError

    environ = os.environ if environ is None else environ
    tmux.check()
    session = session_name(paths)
    windows = {w.name: w for w in tmux.windows(session)}
    if not windows:
        raise NotFoundError(f"no team is running for this repository (tmux session {session})",
                            "start it with `coord team.up`")
    target = None
    if role is not None:
        if role not in windows:
            raise NotFoundError(f"{role} has no window in {session}", f"start it with `coord team.up {role}`")
        target = windows[role].id
    inside = inside_server(environ.get("TMUX"), tmux.socket_path())
    argv = tmux.attach_argv(session, target, inside=inside)
    if environ.get("TMUX") and not inside:  # in another tmux server: tmux refuses to nest unless told
        argv = [shutil.which("env") or "/usr/bin/env", "-u", "TMUX", *argv]
    return argv
