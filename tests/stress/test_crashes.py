"""Crashes at the scale of issue 7: 10,000 publishes through three kill -9 of the embedded server;
agent.teardown / agent.merge killed before and after git calls across the whole command."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.stress import crashes

pytestmark = pytest.mark.stress


def test_ten_thousand_publishes_through_three_kills(tmp_path: Path) -> None:
    started = time.monotonic()
    run = crashes.publish_through_kills(tmp_path, 10_000, [2_000, 5_000, 8_000])
    print(f"\n10,000 publishes, 3 kill -9 of the embedded server: {run.failures} refused while down, "
          f"{run.duplicates} duplicate(s), 0 lost, {time.monotonic() - started:.1f}s")
    assert run.kills == 3 and len(run.successes) == 10_000
    assert run.duplicates == 0  # exactly once: resends after lost replies carry their publish id


@pytest.mark.parametrize(("scenario", "stride"), [("merge", 1), ("teardown-merge", 3), ("teardown-abandon", 3)])
def test_killed_at_git_calls_then_run_again(tmp_path: Path, scenario: str, stride: int) -> None:
    args, moved, dirty = crashes.SCENARIOS[scenario]
    total = crashes.count_git_calls(tmp_path / "count", args, moved, dirty)
    points = sorted({*range(1, total + 1, stride), total})
    started = time.monotonic()
    tally = crashes.sweep(tmp_path, scenario, points)
    print(f"\n{scenario}: {tally['git_calls']} git calls, killed at {len(points)} points x before/after "
          f"({tally['killed']} killed, {tally['finished']} finished first), {time.monotonic() - started:.1f}s")
    assert tally["killed"] + tally["done-before-kill"] >= len(points)
