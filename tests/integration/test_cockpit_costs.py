"""What keeps `coord watch` cheap while nothing happens, on real git and a real Valkey: the stat-only
signature of git's ref and index files sees every commit, checkout and `git add` (and nothing
else), the periodic git status rounds follow the measured-cost schedule, and the view refills a
table only when what it shows changed (and always when it did)."""

from __future__ import annotations

import asyncio
import os
from dataclasses import replace
from pathlib import Path

import pytest

from coord.cockpit.app import CockpitApp
from coord.team import feed
from coord.team.feed import DIRTY_REFRESH_MAX_SECONDS, DIRTY_REFRESH_SECONDS, Feed, dirty_interval, tips_signature
from tests.conftest import git
from tests.integration.test_conflicts import Team

pytestmark = pytest.mark.integration


def screen_has(app: CockpitApp, text: str) -> bool:
    from tests.integration.test_cockpit_watch import screen_text

    return text in screen_text(app)


@pytest.fixture
def team(git_repo: Path, coord_env: dict[str, str]) -> Team:
    return Team(git_repo)


def bump(path: Path) -> None:
    """Move a file's mtime one second on, so a change is visible on coarse-timestamp file systems."""
    st = os.stat(path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))


def test_the_signature_sees_commits_checkouts_and_adds_and_nothing_else(team: Team) -> None:
    first = tips_signature(team.paths)
    assert tips_signature(team.paths) == first  # nothing happened
    names = {Path(p).name for p, _ in first}
    assert {"HEAD", "index", "active"} <= names  # checkouts' HEAD and index, the agent branch refs
    (team.trees["backend"] / "shared.py").write_text("edited, not added\n")
    assert tips_signature(team.paths) == first  # an edit git does not record: the dirty rounds' job
    git(team.trees["backend"], "add", "shared.py")
    bump(team.paths.common_dir / "worktrees" / "backend" / "index")
    added = tips_signature(team.paths)
    assert added != first
    git(team.trees["devops"], "commit", "-q", "--allow-empty", "-m", "more")
    bump(team.paths.common_dir / "refs" / "heads" / "agent" / "devops" / "active")
    assert tips_signature(team.paths) != added
    git(team.repo, "branch", "side")
    assert any(p.endswith("/refs/heads/side") for p, _ in tips_signature(team.paths))


def test_dirty_rounds_keep_to_their_share_of_a_core() -> None:
    assert dirty_interval(0.0) == DIRTY_REFRESH_SECONDS  # cheap rounds: never more often than the floor
    assert dirty_interval(-1.0) == DIRTY_REFRESH_SECONDS
    assert dirty_interval(0.3) == pytest.approx(0.3 / feed.DIRTY_CPU_SHARE)
    assert dirty_interval(0.3) * feed.DIRTY_CPU_SHARE == pytest.approx(0.3)
    assert dirty_interval(50.0) == DIRTY_REFRESH_MAX_SECONDS  # huge worktrees: still refreshed


def test_an_edit_git_cannot_signal_shows_by_the_next_dirty_round(team: Team) -> None:
    clock = [1000.0]
    watched = Feed(team.paths, team.config, monotonic=lambda: clock[0])
    try:
        first = watched.poll()
        assert first is not None
        assert {r.role: r.dirty for r in first.rows}["devops"] is False
        (team.trees["devops"] / "other.txt").write_text("edited in place, never added\n")
        clock[0] += DIRTY_REFRESH_SECONDS - 1  # past the age refresh, before any dirty round is due
        early = watched.poll()
        assert early is not None and {r.role: r.dirty for r in early.rows}["devops"] is False
        clock[0] += DIRTY_REFRESH_MAX_SECONDS  # the latest a round can be scheduled
        late = watched.poll()
        assert late is not None and {r.role: r.dirty for r in late.rows}["devops"] is True
    finally:
        watched.close()


def test_the_view_refills_only_what_changed(team: Team) -> None:
    async def scenario() -> None:
        app = CockpitApp(team.paths, team.config, interval=3600)  # one poll at start; the test applies the rest
        async with app.run_test(size=(100, 30)) as pilot:
            while app.updates == 0:
                await pilot.pause(0.05)
            snap = app.snapshot
            assert snap is not None
            table = app.query_one("#team")
            shown = list(table.rows)  # the row keys: a refill makes new ones
            app.apply(snap)
            await pilot.pause()
            assert all(a is b for a, b in zip(shown, table.rows, strict=True))  # the same rows: left alone
            rows = [replace(r, dirty=not r.dirty) if r.role == "devops" else r for r in snap.rows]
            app.apply(replace(snap, rows=rows))
            await pilot.pause()
            assert all(a is b for a, b in zip(shown, table.rows, strict=True))  # one cell: updated in place
            devops = next(r for r in rows if r.role == "devops")
            assert ("dirty" in str(table.get_row("devops")[3])) is bool(devops.dirty)
            assert screen_has(app, "dirty") is bool(any(r.dirty for r in rows))
            gone = [r for r in rows if r.role != "devops"]  # a role fewer: the rows change, a refill
            app.apply(replace(snap, rows=gone))
            await pilot.pause()
            assert table.row_count == len(gone) and "devops" not in [k.value for k in table.rows]

    asyncio.run(scenario())
