"""Find the repository around a directory by reading files, without starting git.

The per-prompt hook needs the checkout, the main checkout and the shared git directory
on every turn; a `git rev-parse` would cost a process start each time.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from coord.errors import EnvironmentProblemError
from coord.layout import LayoutFacts, check_layout

STATE_DIR = "coord"  # under the git common directory: embedded server data, logs, URL
HOOK_PROGRAM_FILE = f"{STATE_DIR}/hook-program"  # this machine's coord-hook, read by the hook scripts


@dataclass(frozen=True)
class RepoPaths:
    """Where things are for one checkout (the main one or a linked worktree)."""

    toplevel: Path  # the checkout containing the start directory
    git_dir: Path  # its own git directory (.git, or .git/worktrees/<name>)
    common_dir: Path  # the git directory shared by all worktrees
    main_root: Path  # the main checkout

    @property
    def is_main(self) -> bool:
        return self.toplevel == self.main_root

    @property
    def state_dir(self) -> Path:
        return self.common_dir / STATE_DIR

    @property
    def hook_program_file(self) -> Path:
        return self.common_dir / HOOK_PROGRAM_FILE

    def default_namespace(self) -> str:
        """The project's namespace, the same in every clone (coord.namespace: from the root commit)."""
        from coord.namespace import resolve

        return resolve(self).namespace


def _read_pointer(path: Path, base: Path) -> Path:
    """Resolve a `gitdir: X` / commondir style pointer relative to base."""
    text = path.read_text(encoding="utf-8").strip()
    if text.startswith("gitdir:"):
        text = text[len("gitdir:") :].strip()
    target = Path(text)
    if not target.is_absolute():
        target = base / target
    return Path(os.path.normpath(target))


def _config_of(common: Path) -> dict[str, str]:
    from coord.actor import parse_git_config

    try:
        return parse_git_config((common / "config").read_text(encoding="utf-8", errors="replace"))
    except OSError:
        return {}


def find_repo(start: Path | str | None = None) -> RepoPaths:
    """The repository containing start (default: the current directory); a layout coord cannot
    work in (coord.layout) is refused here, before any command creates anything."""
    here = Path(os.path.abspath(start if start is not None else os.getcwd()))
    for folder in (here, *here.parents):
        dot_git = folder / ".git"
        try:
            if dot_git.is_dir():
                git_dir = dot_git
            elif dot_git.is_file():
                git_dir = _read_pointer(dot_git, folder)
            else:
                continue
            commondir_file = git_dir / "commondir"
            common = _read_pointer(commondir_file, git_dir) if commondir_file.is_file() else git_dir
        except OSError:
            continue
        common = Path(os.path.realpath(common))
        toplevel = Path(os.path.realpath(folder))
        git_dir = Path(os.path.realpath(git_dir))
        check_layout(LayoutFacts(toplevel, git_dir, common, _config_of(common), git_dir.is_dir()))
        return RepoPaths(toplevel=toplevel, git_dir=git_dir, common_dir=common, main_root=common.parent)
    raise EnvironmentProblemError(
        f"{here} is not inside a git repository", "cd into the repository, or run `git init`"
    )
