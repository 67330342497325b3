"""A session whose worktree is gone (torn down, deleted by hand, or recreated by a restore) cannot
bring its role back to life, and every MCP tool answers it with one line: real git, real Redis,
real MCP client sessions (in memory and over stdio against `coord mcp`)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp.client import Client
from mcp.client.stdio import StdioServerParameters

from coord import worktree
from coord.catalog.claude import TOOL_NAMES, Tool
from coord.config import load_config
from coord.mcp_server import build_server
from coord.mcp_service import RegistrationState, Service
from coord.presence import Status
from coord.repo import find_repo
from coord.store import open_store
from tests.conftest import make_repo
from tests.integration.test_worktree_support import run_coord

pytestmark = pytest.mark.integration

# the smallest valid arguments of every tool
ARGS: dict[str, dict[str, Any]] = {
    Tool.PUBLISH_MESSAGE.value: {"to": "pm", "type": "INFO", "body": "hello"},
    Tool.ACK_MESSAGES.value: {"ids": ["1-0"]},
    Tool.CLAIM_FILES.value: {"paths": ["src/api.py"], "reason": "refactor"},
    Tool.RELEASE_FILES.value: {"paths": ["src/api.py"]},
}


@pytest.fixture
def repo(tmp_path: Path, coord_env: dict[str, str]) -> Path:
    main = make_repo(tmp_path / "repo")
    paths = find_repo(main)
    worktree.setup(paths, load_config(paths.main_root), "backend")
    return main


def _env(coord_env: dict[str, str], session: str) -> dict[str, str]:
    env = {k: v for k, v in coord_env.items() if k.startswith("COORD_")}
    env["CLAUDE_CODE_SESSION_ID"] = session
    return env


def _status(repo: Path, role: str = "backend") -> Status | None:
    paths = find_repo(repo)
    with open_store(paths, load_config(paths.main_root), start_server=False) as store:
        return next((v.status for v in store.presence() if v.role == role), None)


def _remove_by_hand(repo: Path) -> None:
    shutil.rmtree(repo / ".worktrees" / "backend")


def _teardown_stale(repo: Path) -> None:
    """What happens when the session stopped heartbeating: a teardown is allowed and deregisters."""
    paths = find_repo(repo)
    with open_store(paths, load_config(paths.main_root), start_server=False) as store:
        store.deregister("backend", None)  # stands for a stale record: teardown refuses only live ones
    proc = run_coord(repo, "agent.teardown", "backend", "--abandon")
    assert proc.returncode == 0, proc.stderr


def _teardown_and_restore(repo: Path) -> None:
    (repo / ".worktrees" / "backend" / "work.txt").write_text("uncommitted\n")  # so there is a backup
    _teardown_stale(repo)
    proc = run_coord(repo, "agent.restore", "backend")
    assert proc.returncode == 0, proc.stderr
    assert (repo / ".worktrees" / "backend" / ".git").exists()  # the same path exists again


async def _every_tool(client: Client) -> dict[str, tuple[bool, str]]:
    answers = {}
    for name in TOOL_NAMES:
        result = await client.call_tool(name, ARGS.get(name, {}))
        text = result.content[0].text if result.content else ""  # type: ignore[union-attr]
        answers[name] = (result.is_error, text)
    return answers


@pytest.mark.parametrize("remove", [_remove_by_hand, _teardown_stale, _teardown_and_restore])
def test_gone_worktree_cannot_reactivate_and_every_tool_answers_one_line(
    repo: Path, coord_env: dict[str, str], remove: Any
) -> None:
    service = Service(_env(coord_env, f"s-{remove.__name__}"), cwd=repo / ".worktrees" / "backend")
    assert service.role == "backend"

    async def scenario() -> None:
        async with Client(build_server(service)) as client:
            assert service.register()["outcome"] == "new"  # what `coord mcp` does as it starts (no tool does)
            assert _status(repo) is Status.ACTIVE
            remove(repo)
            answers = await _every_tool(client)
            for name, (is_error, text) in answers.items():
                assert is_error, (name, text)
                assert "is gone" in text and len(text.strip().splitlines()) == 1, (name, text)
                assert "Traceback" not in text
            service.tick()  # the automatic heartbeat neither revives nor re-registers
            service.tick()

    anyio.run(scenario)
    assert service.state is RegistrationState.ENDED
    assert _status(repo) is not Status.ACTIVE
    service.close()


def test_hand_deleted_worktree_ends_its_presence_on_the_next_tick(repo: Path, coord_env: dict[str, str]) -> None:
    """Nobody ran a teardown: the server notices on its own timer and ends its presence, so the
    role does not look live until stale_seconds pass."""
    service = Service(_env(coord_env, "s-tick"), cwd=repo / ".worktrees" / "backend")
    service.tick()
    assert service.state is RegistrationState.REGISTERED and _status(repo) is Status.ACTIVE
    _remove_by_hand(repo)
    service.tick()
    assert service.state is RegistrationState.ENDED
    assert _status(repo) is Status.INACTIVE
    service.close()


def test_a_new_session_in_the_restored_worktree_takes_the_role(repo: Path, coord_env: dict[str, str]) -> None:
    old = Service(_env(coord_env, "s-old"), cwd=repo / ".worktrees" / "backend")
    old.tick()
    _teardown_and_restore(repo)
    new = Service(_env(coord_env, "s-new"), cwd=repo / ".worktrees" / "backend")
    assert new.register()["outcome"] in ("new", "restart", "takeover", "reactivated", "same")
    old.tick()
    assert _status(repo) is Status.ACTIVE  # the old one neither revived itself nor ended the new one
    with pytest.raises(Exception, match="is gone"):
        old.heartbeat()
    new.close()
    old.close()


def test_stdio_server_in_a_deleted_worktree_answers_one_line(
    repo: Path, coord_env: dict[str, str], tmp_path: Path
) -> None:
    """`coord mcp` whose own working directory was deleted: no os.getcwd() traceback."""
    coord = shutil.which("coord")
    assert coord, "the coord console script is not installed (pip install -e .)"
    errlog = tmp_path / "server.err"
    params = StdioServerParameters(
        command="sh", args=["-c", 'exec "$0" mcp 2>>"$1"', coord, str(errlog)],
        env={**_env(coord_env, "s-stdio"), "PATH": os.environ["PATH"]}, cwd=repo / ".worktrees" / "backend",
    )

    async def scenario() -> None:
        with anyio.fail_after(120):
            async with Client(params) as client:
                assert not (await client.call_tool(Tool.GET_PRESENCE.value, {})).is_error
                _remove_by_hand(repo)
                answers = await _every_tool(client)
                for name, (is_error, text) in answers.items():
                    assert is_error and "is gone" in text and len(text.strip().splitlines()) == 1, (name, text)

    anyio.run(scenario)
    log = errlog.read_text()
    assert "Traceback" not in log, log
    assert _status(repo) is not Status.ACTIVE
    subprocess.run(["git", "worktree", "prune"], cwd=repo, check=True)


@pytest.mark.parametrize("in_deleted_dir", [True, False], ids=["cwd-deleted", "cwd-elsewhere"])
@pytest.mark.parametrize("event", ["user-prompt-submit", "session-start", "pre-tool-use"])
def test_hooks_of_a_session_whose_worktree_is_gone_take_no_role(
    repo: Path, coord_env: dict[str, str], event: str, in_deleted_dir: bool
) -> None:
    """The project directory is gone and the hook runs in a deleted directory: it must not walk up
    to the main checkout and register the orphaned session as the main role (or any role)."""
    import json
    import sys

    wt = repo / ".worktrees" / "backend"
    env = {**_env(coord_env, "s-hook"), "PATH": os.environ["PATH"], "CLAUDE_PROJECT_DIR": str(wt)}
    payload = json.dumps({"session_id": "s-hook", "cwd": str(wt), "tool_name": "Edit",
                          "tool_input": {"file_path": str(wt / "a.py")}})
    script = ('cd "$1" && rm -rf "$1" && exec "$2" -m coord.hooks "$3"' if in_deleted_dir
              else 'rm -rf "$1" && exec "$2" -m coord.hooks "$3"')
    proc = subprocess.run(["sh", "-c", script, "sh", str(wt), sys.executable, event], input=payload, env=env,
                          cwd=repo, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    assert _status(repo, "pm") in (None, Status.ABSENT) and _status(repo, "backend") in (None, Status.ABSENT)
    if event != "pre-tool-use":  # the prompt hooks say why coordination is off
        assert "is gone" in json.loads(proc.stdout)["systemMessage"]
