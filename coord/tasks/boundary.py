"""Where the library meets invoke: find the repository and config, turn CoordError into Exit.

Every task is wrapped with `guarded` so that a user error prints one line and exits with its
documented code; invoke's Program would otherwise print a traceback for it.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar, cast

from invoke.exceptions import Exit

from coord.config import Config, load_config
from coord.errors import CoordError, EnvironmentProblemError, InvalidInputError
from coord.repo import RepoPaths, find_repo

F = TypeVar("F", bound=Callable[..., Any])

COMMANDS_KEY = "coord_commands"  # invoke config key: the command table build_namespace computed


def guarded(fn: F) -> F:
    """Run a task body; a CoordError becomes `invoke.Exit(one line, its exit code)`."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except CoordError as exc:
            raise Exit(exc.line(), code=exc.exit_code) from None
        except OSError as exc:
            # The file system said no (permissions, a file where a folder must be, a full disk):
            # the environment's problem (exit 9), told in one line, not a traceback.
            problem = os_problem(exc)
            raise Exit(problem.line(), code=problem.exit_code) from None

    return cast(F, wrapper)


def os_problem(exc: OSError) -> EnvironmentProblemError:
    """An OSError as coord's one-line environment problem (exit 9)."""
    where = f": {exc.filename}" if exc.filename else ""
    return EnvironmentProblemError(f"{exc.strerror or exc}{where}",
                                   "check that path: its permissions, what is there, free space")


def workspace(start: Path | None = None) -> tuple[RepoPaths, Config]:
    """The repository containing the current directory and its resolved configuration."""
    paths = find_repo(start if start is not None else Path(os.getcwd()))
    return paths, load_config(paths.main_root)


def configured_roles() -> tuple[str, ...] | None:
    """The roles of the repository around the current directory; None outside one or with a bad
    coord.toml (a usage message then simply names no roles: the next command reports the cause)."""
    try:
        return workspace()[1].roles
    except CoordError:
        return None


def missing_line(task: str, missing: list[str], usage: str) -> str:
    """`coord: agent.setup needs ROLE: one of pm, backend, ... (usage: ...)`: the one line for
    missing positional arguments, naming the configured roles when a ROLE is among them."""
    upper = [name.upper() for name in missing]
    names = upper[0] if len(upper) == 1 else f"{', '.join(upper[:-1])} and {upper[-1]}"
    roles = configured_roles() if "role" in missing else None
    if roles:
        names += f", ROLE one of: {', '.join(roles)}" if len(upper) > 1 else f", one of: {', '.join(roles)}"
    return f"coord: {task} needs {names} (usage: {usage})"


def need_role(role: str | None, usage: str) -> str:
    """An empty ROLE (`coord agent.setup ''`) is refused like a missing one: exit 2, one line."""
    if role:
        return role
    raise InvalidInputError(missing_line(usage.split()[1], ["role"], usage).removeprefix("coord: "))


def commands(c: Any) -> list[tuple[str, str]]:
    """The command table for rendering (CLAUDE.md's list of coord commands), from the invoke
    context of the running task: coord.tasks.build_namespace put it there, so these rows are the
    namespace's own, whichever program runs it."""
    try:
        rows = c.config[COMMANDS_KEY]
    except (AttributeError, KeyError):
        raise CoordError("the coord command table is missing from this task's context",
                         "run coord's tasks through `coord` or `inv` (coord.tasks.build_namespace)") from None
    return [(str(name), str(doc)) for name, doc in rows]
