"""coord.filelock: one holder at a time, the caller's error at the deadline, released on exit."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from coord.errors import CoordError
from coord.filelock import exclusive

pytestmark = pytest.mark.integration


def _busy() -> CoordError:
    return CoordError("lock busy", "retry")


def test_a_second_holder_waits_then_gets_the_callers_error(tmp_path: Path) -> None:
    target = tmp_path / "x.lock"
    with exclusive(target, 5, _busy), pytest.raises(CoordError, match="lock busy"), exclusive(target, 0.05, _busy):
        pass
    with exclusive(target, 0.05, _busy):  # released when the block ends
        pass


def test_a_killed_holder_leaves_no_stale_lock(tmp_path: Path) -> None:
    target = tmp_path / "x.lock"
    code = ("import os, sys; from pathlib import Path; from coord.filelock import exclusive; "
            "from coord.errors import CoordError\n"
            f"with exclusive(Path({str(target)!r}), 5, lambda: CoordError('x')):\n"
            "    print('held', flush=True); os.kill(os.getpid(), 9)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.stdout.strip() == "held" and proc.returncode == -9
    with exclusive(target, 0.05, _busy):
        pass
