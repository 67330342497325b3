"""Ad-hoc agents: names Claude Code gave a worktree (`claude --worktree NAME`, a subagent's
`isolation: "worktree"`) that are not configured roles, recorded so they act as roles.

coord's WorktreeCreate hook records such a name here before it sets the worktree up; from then
on `load_config` lists it among the roles (identity, presence, messages, claims, radar accept it)
while `Config.configured_roles()` leaves it out (rendered files and team launches stay as
coord.toml says). The name is forgotten once neither its worktree nor its branch is left.

The registry is one file in the repository's git directory (per machine, never committed), one
name a line, read on every hook call: stdlib only, one small read, no git.
"""

from __future__ import annotations

import os
from pathlib import Path

from coord.identity import ROLE_PATTERN

STATE_DIR = "coord"  # the same folder as coord.repo.STATE_DIR (a test holds them together)
REGISTRY_FILE = "adhoc-roles"
LOCK_SUFFIX = ".lock"


def registry_path(main_root: Path) -> Path:
    """Where the registry of the repository whose main checkout is main_root lives: the state folder
    in the git common directory (main_root/.git, or main_root itself for a repository without one)."""
    dot_git = main_root / ".git"
    return (dot_git if dot_git.is_dir() else main_root) / STATE_DIR / REGISTRY_FILE


def parse(text: str) -> tuple[str, ...]:
    """The names in a registry's text: well-formed ones, each once, in order; anything else skipped
    (a damaged line must not make every hook fail)."""
    seen: list[str] = []
    for line in text.splitlines():
        name = line.strip()
        if ROLE_PATTERN.fullmatch(name) and name not in seen:
            seen.append(name)
    return tuple(seen)


def read(main_root: Path) -> tuple[str, ...]:
    """The recorded ad-hoc names (empty when there is no registry or it cannot be read)."""
    try:
        return parse(registry_path(main_root).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):
        return ()


def _lock(path: Path) -> int:
    """Hold the registry's lock file (released by closing the returned fd). Imported here: only the
    rare writers pay for fcntl, not every hook that reads."""
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(str(path) + LOCK_SUFFIX, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _write(path: Path, names: tuple[str, ...]) -> None:
    tmp = path.with_name(f"{path.name}.tmp{os.getpid()}.{os.urandom(4).hex()}")  # unique per call (threads too)
    tmp.write_text("".join(f"{n}\n" for n in names), encoding="utf-8")
    os.replace(tmp, path)  # readers see the old list or the new one, never half a file


def add(main_root: Path, name: str) -> bool:
    """Record name; True when it was not recorded before."""
    if not ROLE_PATTERN.fullmatch(name):
        raise ValueError(f"not a role name: {name!r}")
    path = registry_path(main_root)
    fd = _lock(path)
    try:
        names = read(main_root)
        if name in names:
            return False
        _write(path, (*names, name))
        return True
    finally:
        os.close(fd)


def remove(main_root: Path, name: str) -> bool:
    """Forget name; True when it was recorded."""
    path = registry_path(main_root)
    fd = _lock(path)
    try:
        names = read(main_root)
        if name not in names:
            return False
        _write(path, tuple(n for n in names if n != name))
        return True
    finally:
        os.close(fd)
