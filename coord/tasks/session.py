"""`session.start ROLE [--launch]`: the one command that starts an agent in its own checkout."""

from __future__ import annotations

import os
import shlex
import shutil
from pathlib import Path
from typing import Any

from invoke.collection import Collection
from invoke.tasks import Task, task

from coord.agent_cli import INSTALL, bin_env, binary_name, choose_agent, identity_env, start_line, trust_note
from coord.config import Config
from coord.errors import EnvironmentProblemError, IdentityError, StoreUnavailableError
from coord.repo import RepoPaths
from coord.tasks.agent import print_setup, setup_and_render
from coord.tasks.boundary import commands, guarded, need_role, workspace

CLAUDE_BIN_ENV = "COORD_CLAUDE_BIN"  # tests and unusual installs point this at another claude
DEFAULT_CLAUDE = "claude"


def launch_command(role: str, path: Path, cwd: Path, agent: str = "claude") -> str:
    """The shell line a user types to start the agent (paths relative to where they stand)."""
    here = os.path.realpath(cwd)
    target = os.path.realpath(path)
    start = start_line(agent, role)
    if target == here:
        return start
    where = os.path.relpath(target, here) if target.startswith(here.rstrip("/") + "/") else target
    return f"cd {shlex.quote(where)} && {start}"


def find_claude(environ: dict[str, str] | os._Environ[str], agent: str = "claude") -> str:
    """The agent CLI's binary to exec: COORD_<AGENT>_BIN if set, else the CLI on PATH."""
    wanted = binary_name(agent, environ)
    found = shutil.which(wanted, path=environ.get("PATH"))
    if found is None:
        raise EnvironmentProblemError(
            f"cannot launch: {wanted!r} is not on PATH",
            f"install it ({INSTALL[agent]}), or set {bin_env(agent)}",
        )
    return found


def store_line(paths: RepoPaths, config: Config) -> str:
    """Start the coordination store now (the embedded server when no URL is configured), so the
    agent's first hook finds it; a store that cannot start is a warning, never a failure."""
    from coord.store import open_store, unreachable_fix

    try:
        with open_store(paths, config, start_server=True) as store:
            store.ping()
            return f"coordination store: {store.url}"
    except StoreUnavailableError as exc:
        return (f"coord: warning: {exc.message} (the agent will work uncoordinated until it is up: "
                f"{unreachable_fix(config)})")


def refuse_if_live_elsewhere(paths: RepoPaths, config: Config, role: str) -> None:
    """A role is held by one live session in the whole team: setting it up on this machine while it
    is live on another is refused, naming that machine (exit 6). Redis down: not checked here (the
    agent's hooks check again on every turn). Never starts the embedded server: one that is not
    running holds no live session, and a refused session.start must not leave a server behind."""
    from coord.identity import validate_role
    from coord.store import open_store

    validate_role(role, config.roles)
    if not config.redis_url:
        from coord import embedded

        if embedded.running_state(paths) is None:
            return  # nobody is live on a server that is not running
    try:
        with open_store(paths, config, start_server=False) as store:
            holder = store.live_elsewhere(role)
    except StoreUnavailableError:
        return
    if holder is not None:
        raise IdentityError(
            f"role {role} is live on {holder.host} (session {holder.session_id}, worktree {holder.worktree_path}, "
            f"last heartbeat {holder.age} ago)",
            f"end that session first, or wait until it has had no heartbeat for {config.stale_seconds}s; "
            "use another role meanwhile",
        )


@task(positional=["role"], help={"role": "the agent role", "launch": "exec the agent CLI in the role's checkout now",
                                  "agent": "claude, codex or gemini (default: the role's agent_command, else claude)"})
@guarded
def start(c: object, role: str | None = None, launch: bool = False, agent: str | None = None) -> None:
    """Set ROLE up (idempotent) and print how to start its agent; --launch starts it."""
    role = need_role(role, "coord session.start ROLE [--launch] [--agent claude|codex|gemini]")
    paths, config = workspace()
    agent = choose_agent(config, role, agent)
    refuse_if_live_elsewhere(paths, config, role)
    result, notes = setup_and_render(paths, config, role, commands(c))
    print_setup(result, paths.main_root, notes)
    print(store_line(paths, config))
    note = trust_note(agent)
    if note:
        print(f"coord: {note}")
    if not launch:
        print("start the agent with:")
        print(f"  {launch_command(role, result.path, Path(os.getcwd()), agent)}")
        return
    binary = find_claude(os.environ, agent)
    env = {**os.environ, **identity_env(agent, role)}
    print(f"launching {binary} in {result.path} as {role}", flush=True)
    os.chdir(result.path)
    os.execvpe(binary, [binary], env)


collection = Collection("session", start)
top_level: list[Task[Any]] = []
