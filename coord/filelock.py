"""One exclusive lock per file, across processes: flock(2), so the kernel releases it when its
holder dies (a killed `coord agent.setup` never leaves a stale lock behind).

Used where concurrent coord commands must take turns: worktree mutations of one repository
(state.repo_lock) and starting its embedded server (embedded_start.ensure_running). A waiter polls with
a short, growing back-off until its deadline, then raises the caller's own error, which says what
was being waited for and what to do.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from coord.errors import CoordError

FIRST_DELAY = 0.005  # seconds between the first attempts; doubled up to MAX_DELAY
MAX_DELAY = 0.1


@contextlib.contextmanager
def exclusive(path: Path, timeout: float, on_timeout: Callable[[], CoordError], mode: int = 0o600) -> Iterator[None]:
    """Hold an exclusive lock on path (created with mode if missing) for the with-block; raise
    on_timeout() if another process holds it for longer than timeout seconds."""
    import fcntl

    fd = os.open(path, os.O_RDWR | os.O_CREAT, mode)
    try:
        deadline = time.monotonic() + timeout
        delay = FIRST_DELAY
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise on_timeout() from None
                time.sleep(delay)
                delay = min(delay * 2, MAX_DELAY)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
