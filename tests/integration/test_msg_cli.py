"""`coord presence`, `coord msg.*` and `coord redis.*` run as real subprocesses in temp repositories."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
from pathlib import Path

import pytest

from coord import embedded
from coord.repo import find_repo
from tests.conftest import git, make_repo

pytestmark = pytest.mark.integration


def coord(cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("coord")
    assert exe, "coord console script missing"
    return subprocess.run([exe, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=60)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    main = make_repo(tmp_path / "repo")
    git(main, "config", "extensions.worktreeConfig", "true")
    git(main, "worktree", "add", "-q", "-b", "agent/backend/active", str(main / ".worktrees" / "backend"))
    git(main / ".worktrees" / "backend", "config", "--worktree", "user.email", "backend@coord.invalid")
    return main


def test_send_inbox_ack_between_human_and_agent(repo: Path, coord_env: dict[str, str]) -> None:
    sent = coord(repo, coord_env, "msg.send", "backend", "task_assignment", "add /health")
    assert sent.returncode == 0, sent.stderr
    assert "TASK_ASSIGNMENT from pm to backend" in sent.stdout
    worktree = repo / ".worktrees" / "backend"
    box = coord(worktree, coord_env, "msg.inbox", "--json")  # identity from the worktree's git email
    data = json.loads(box.stdout)
    assert data["role"] == "backend" and data["total"] == 1
    (msg,) = data["messages"]
    assert (msg["sender"], msg["type"], msg["body"]) == ("pm", "TASK_ASSIGNMENT", "add /health")
    again = coord(worktree, {**coord_env, "CLAUDE_INSTANCE_ID": "backend"}, "msg.inbox")
    assert "add /health" in again.stdout and "not acknowledged" in again.stdout
    acked = coord(worktree, coord_env, "msg.ack", f"{msg['id']},1-1")
    assert "acknowledged 1 for backend" in acked.stdout and "not pending for backend: 1-1" in acked.stdout
    assert json.loads(coord(worktree, coord_env, "msg.inbox", "--json").stdout)["total"] == 0
    coord(worktree, coord_env, "msg.send", "all", "status_update", "api ready")
    final = json.loads(coord(repo, coord_env, "msg.inbox", "--ack", "--json").stdout)
    assert final["messages"][0]["sender"] == "backend" and final["acknowledged"] == [final["messages"][0]["id"]]
    assert json.loads(coord(repo, coord_env, "msg.inbox", "--json").stdout)["total"] == 0


@pytest.mark.parametrize(
    ("args", "code", "text"),
    [
        (("msg.send", "backend", "bogus", "x"), 2, "unknown message type"),
        (("msg.send", "backend", "heartbeat", "x"), 2, "HEARTBEAT is sent by coord itself, not by agents"),
        (("msg.send", "all", "SESSION_START", "x"), 2, "SESSION_START is sent by coord itself"),
        (("msg.send", "pm", "session_end", "x"), 2, "SESSION_END is sent by coord itself"),
        (("msg.send", "nobody", "info", "x"), 2, "unknown role"),
        (("msg.send", "backend", "info"), 2, "msg.send needs BODY (usage: coord msg.send ROLE TYPE BODY)"),
        (("msg.ack",), 2, "msg.ack needs IDS (usage: coord msg.ack IDS)"),
        (("msg.ack", " , "), 2, "no message ids"),
    ],
)
def test_bad_input_exits_with_its_code(
    repo: Path, coord_env: dict[str, str], args: tuple[str, ...], code: int, text: str
) -> None:
    result = coord(repo, coord_env, *args)
    assert result.returncode == code and text in result.stderr + result.stdout
    assert "Traceback" not in result.stderr
    assert "sent" not in result.stdout  # a refused command changes nothing


def test_wrong_checkout_is_refused(repo: Path, coord_env: dict[str, str]) -> None:
    result = coord(repo, {**coord_env, "CLAUDE_INSTANCE_ID": "backend"}, "msg.inbox")
    assert result.returncode == 6 and "must work in" in result.stderr


def test_redis_unreachable_is_exit_5(repo: Path, coord_env: dict[str, str]) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**coord_env, "COORD_REDIS_URL": f"redis://:pw@127.0.0.1:{port}/0"}
    for args in (("presence",), ("msg.send", "backend", "info", "x"), ("msg.inbox",)):
        result = coord(repo, env, *args)
        assert result.returncode == 5, result.stderr
        assert result.stderr.count("\n") == 1 and ":pw@" not in result.stderr
        assert "redis.up" not in result.stderr and "COORD_REDIS_URL" in result.stderr  # redis.up cannot help


def test_presence_table_and_json(repo: Path, coord_env: dict[str, str]) -> None:
    table = coord(repo, coord_env, "presence")
    assert table.returncode == 0 and table.stdout.splitlines()[0].split()[:3] == ["ROLE", "STATUS", "AGE"]
    assert "backend" in table.stdout and "absent" in table.stdout
    rows = json.loads(coord(repo, coord_env, "presence", "--json").stdout)
    assert [r["role"] for r in rows] == ["pm", "orchestrator", "backend", "frontend", "devops", "qa"]


def test_fresh_clone_uses_the_embedded_server(repo: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COORD_", "CLAUDE_"))}
    paths = find_repo(repo)
    try:
        table = coord(repo, env, "presence")
        assert table.returncode == 0, table.stderr
        assert "pm" in table.stdout
        status = json.loads(coord(repo, env, "redis.status", "--json").stdout)
        assert status["running"] and status["embedded"] and "***" in status["url"]
        sent = coord(repo / ".worktrees" / "backend", env, "msg.send", "pm", "question", "ready?")
        assert sent.returncode == 0, sent.stderr
        assert "ready?" in coord(repo, env, "msg.inbox").stdout
        up = coord(repo, env, "redis.up")
        assert up.returncode == 0 and up.stdout.startswith("running:")
        down = coord(repo, env, "redis.down")
        assert down.returncode == 0 and "stopped" in down.stdout
        assert json.loads(coord(repo, env, "redis.status", "--json").stdout)["running"] is False
        assert "ready?" in coord(repo, env, "msg.inbox").stdout  # started again on need, data kept
    finally:
        state = embedded.read_state(paths)
        embedded.stop(paths, timeout=5)
        if state and embedded.pid_alive(state.pid):
            os.kill(state.pid, signal.SIGKILL)
