"""Effects the worktree operations share: the per-repository lock, finding a worktree in git's
list, the base branch, and the role check every operation starts with."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from coord import git
from coord.config import Config
from coord.errors import CoordError
from coord.filelock import exclusive
from coord.identity import validate_role
from coord.repo import RepoPaths
from coord.worktree.base import base_from_checkout, check_base_branch

LOCK_FILE = "setup.lock"
LOCK_TIMEOUT_SECONDS = 120.0

Warn = Callable[[str], None]
Confirm = Callable[[str], bool]


def stderr_warn(line: str) -> None:
    print(f"coord: warning: {line}", file=sys.stderr)


@contextlib.contextmanager
def repo_lock(paths: RepoPaths, timeout: float = LOCK_TIMEOUT_SECONDS) -> Iterator[None]:
    """One coord mutation at a time per repository (an flock, released if the process dies)."""
    paths.state_dir.mkdir(parents=True, exist_ok=True)
    target = paths.state_dir / LOCK_FILE

    def waited_too_long() -> CoordError:
        return CoordError(f"another coord command has held {target} for {timeout:.0f}s",
                          "wait for it to finish and retry")

    with exclusive(target, timeout, waited_too_long, mode=0o644):
        yield


def same_path(a: Path, b: Path) -> bool:
    return os.path.realpath(a) == os.path.realpath(b)


def entry_at(entries: Sequence[git.WorktreeEntry], path: Path) -> git.WorktreeEntry | None:
    for entry in entries:
        if same_path(entry.path, path):
            return entry
    return None


def resolve_base(paths: RepoPaths, config: Config, override: str | None = None) -> str:
    """The branch agents start from and merge into."""
    if override:
        return override
    if config.base_branch:
        return check_base_branch(paths.main_root, config.base_branch)
    return base_from_checkout(git.current_branch(paths.main_root))


def agent_role(config: Config, role: object) -> str:
    role = validate_role(role, config.roles)
    return role
