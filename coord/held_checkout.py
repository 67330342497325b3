"""Is a session's checkout still there? Asked by the MCP server before every tool and heartbeat.

A teardown (or an `rm -rf`) can remove a worktree under a running agent session. That session
must not heartbeat its role back to life, claim files or send as the role, and its tools must
answer one line instead of a traceback from `os.getcwd()` on a deleted folder. The folder is
held open from the start: while we hold it, its inode cannot be reused, so a folder recreated
at the same path (`agent.restore`) is recognised as another checkout, exactly; the process's own
working directory is still the deleted one.
"""

from __future__ import annotations

import os
from pathlib import Path

from coord.errors import NotFoundError
from coord.repo import RepoPaths


class HeldCheckout:
    """The checkout folder a session started in, held open (one file descriptor)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        try:
            self._fd: int | None = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        except OSError:
            self._fd = None

    def gone(self) -> bool:
        """True when the folder was deleted, replaced, or is no longer a git checkout."""
        if self._fd is None:
            return True
        try:
            held, now = os.fstat(self._fd), os.stat(self.folder)
        except OSError:
            return True
        same = held.st_nlink > 0 and (held.st_dev, held.st_ino) == (now.st_dev, now.st_ino)
        return not (same and os.path.lexists(self.folder / ".git"))

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def current_dir() -> str | None:
    """The working directory, or None when it was deleted (os.getcwd() raises then)."""
    try:
        return os.getcwd()
    except OSError:
        return None


def cwd_or(fallback: Path) -> str:
    """The working directory, or fallback when it was deleted."""
    return current_dir() or str(fallback)


def gone_worktree(start: str, paths: RepoPaths, worktree_dir: str) -> None:
    """Refuse a directory that lies in the worktrees folder yet resolved to the main checkout: its
    worktree is gone, and walking up from it reached the main checkout, whose role the session
    would then take (the hooks find the checkout from the session's project directory)."""
    if paths.toplevel != paths.main_root or os.path.isdir(start):
        return
    folder = os.path.realpath(paths.main_root / worktree_dir)
    here = os.path.realpath(start)
    if here == folder or here.startswith(folder + os.sep):
        raise NotFoundError(
            f"this session's checkout {start} is gone (its worktree was torn down or deleted)",
            "end this session; start a new one in a live worktree",
        )
