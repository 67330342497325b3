"""Backups under kill -9 (issue 12, class 1): `agent.teardown --abandon` of a worktree with a nested
repository and a merge in progress, killed before and after every git call, then run again."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.stress import backup_crashes

pytestmark = pytest.mark.stress


def test_abandon_with_nested_repository_killed_at_every_git_call(tmp_path: Path) -> None:
    total = backup_crashes.count_git_calls(tmp_path / "first")
    points = sorted({*range(1, total + 1, 5), total})  # every 5th call, before and after: 2 kills per point
    started = time.monotonic()
    tally = backup_crashes.sweep(tmp_path, points)
    print(f"\nteardown --abandon with a nested repository and a merge in progress: {tally['git_calls']} git calls, "
          f"killed before/after {len(points)} of them ({tally['killed']} killed, {tally['finished']} finished first), "
          f"{time.monotonic() - started:.1f}s")
    assert tally["killed"] + tally["finished"] == 2 * len(points)
