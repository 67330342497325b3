"""`coord watch` through Textual's headless harness (App.run_test / pilot) on real worktrees and a
real Valkey: the table, a message arriving, the merge action behind its confirmation, and Redis
going down and coming back. Assertions read the rendered screen as text."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import pytest
from rich.console import Console

from coord.cockpit.app import CockpitApp
from coord.config import load_config
from coord.repo import find_repo
from coord.store import open_store
from tests.conftest import ValkeyProcess, git
from tests.integration.test_conflicts import Team

pytestmark = pytest.mark.integration


def screen_text(app: CockpitApp) -> str:
    console = Console(width=app.size.width, height=app.size.height, file=io.StringIO(), record=True,
                      color_system=None, force_terminal=False)
    console.print(app.screen._compositor.render_update(full=True, screen_stack=app._background_screens))
    return console.export_text()


async def until(pilot, app: CockpitApp, check, what: str, timeout: float = 30.0) -> str:  # type: ignore[no-untyped-def]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        text = screen_text(app)
        if check(text):
            return text
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}; screen:\n{text}")
        await pilot.pause(0.1)


def test_watch_table_message_merge_confirmation(git_repo: Path, coord_env: dict[str, str]) -> None:
    team = Team(git_repo)
    git(team.repo, "add", ".gitignore")
    git(team.repo, "commit", "-q", "-m", "ignore the worktrees")  # a clean main checkout, as a merge needs
    with team.store() as store:
        store.register("backend", "s-backend", str(team.trees["backend"]))

    async def scenario() -> None:
        app = CockpitApp(team.paths, team.config, interval=0.1)
        async with app.run_test(size=(80, 24)) as pilot:
            text = await until(pilot, app, lambda t: "Redis ok" in t and "backend" in t, "the table")
            lines = text.splitlines()
            assert "ROLE" in lines[1] and "PRESENCE" in lines[1]
            assert any(ln.split()[:2] == ["backend", "active"] for ln in lines)
            assert any(ln.split()[:2] == ["devops", "absent"] for ln in lines)

            with team.store() as store:
                store.publish("pm", "devops", "QUESTION", "who owns other.txt?\nsecond line")
            await until(pilot, app, lambda t: "who owns other.txt?" in t and "QUESTION" in t, "the message")

            # select devops, ask to merge, refuse, then accept
            table = app.query_one("#team")
            table.move_cursor(row=table.get_row_index("devops"))
            before = git(team.repo, "rev-parse", "main").stdout.strip()
            await pilot.press("m")
            await until(pilot, app, lambda t: "Merge agent/devops/active" in t, "the confirmation")
            await pilot.press("n")
            await until(pilot, app, lambda t: "Merge agent/devops/active" not in t, "the dialog to close")
            assert git(team.repo, "rev-parse", "main").stdout.strip() == before
            await pilot.press("m")
            await until(pilot, app, lambda t: "Merge agent/devops/active" in t, "the confirmation")
            await pilot.press("y")
            await until(pilot, app, lambda t: "merged agent/devops/active" in t, "the merge notice")
            merged = git(team.repo, "merge-base", "--is-ancestor", team.tips["devops"], "main", check=False)
            assert merged.returncode == 0

            # sending a message from the cockpit
            await pilot.press("s")
            await until(pilot, app, lambda t: "message from pm to devops" in t, "the send dialog")
            await pilot.press(*"thanks", "enter")
            await until(pilot, app, lambda t: "thanks" in t and "INFO" in t, "the sent message in the stream")
            assert "Sync" in screen_text(app).splitlines()[-1]

            # sync: main moved (devops merged), so backend's branch gets main merged into it
            table.move_cursor(row=table.get_row_index("backend"))
            await pilot.press("y")
            await until(pilot, app, lambda t: "synced backend: merge" in t, "the sync outcome")

    asyncio.run(scenario())
    with team.store() as store:
        bodies = [m.body for m in store.check("devops").messages]
    assert bodies[0] == "who owns other.txt?\nsecond line" and bodies[-1] == "thanks"
    assert any("merged" in b and "agent/devops/active" in b for b in bodies[1:-1]), bodies  # the merge loop's notice
    synced = git(team.trees["backend"], "merge-base", "--is-ancestor", "main", "HEAD", check=False)
    assert synced.returncode == 0  # main is in backend's branch now


def test_watch_says_when_redis_is_down_and_recovers(tmp_path: Path, git_repo: Path, monkeypatch) -> None:
    from coord import worktree

    server = ValkeyProcess(tmp_path / "own-valkey").start()
    monkeypatch.setenv("COORD_REDIS_URL", server.url)
    monkeypatch.setenv("COORD_NAMESPACE", "watch-down")
    paths = find_repo(git_repo)
    config = load_config(git_repo)
    worktree.setup(paths, config, "backend")

    async def scenario() -> None:
        nonlocal server
        app = CockpitApp(paths, config, interval=0.1)
        async with app.run_test(size=(80, 24)) as pilot:
            await until(pilot, app, lambda t: "Redis ok" in t, "the first table")
            server.stop()
            text = await until(pilot, app, lambda t: "Redis unreachable" in t, "the down banner")
            assert "retrying" in text and "backend" in text  # git facts still shown
            server = ValkeyProcess(tmp_path / "own-valkey-2", extra=()).start()
            monkeypatch.setenv("COORD_REDIS_URL", server.url)
            app.feed.config = app.config = load_config(git_repo)
            await until(pilot, app, lambda t: "Redis ok" in t, "recovery")
            with open_store(paths, app.config, start_server=False) as store:
                store.publish("pm", "backend", "INFO", "back again")
            await until(pilot, app, lambda t: "back again" in t, "a message after recovery")

    try:
        asyncio.run(scenario())
    finally:
        server.stop()
