"""Crashes and Redis faults, fast budgets (issue 7). The long sweeps are in tests/stress/test_crashes.py."""

from __future__ import annotations

import json
import socket
import struct
import subprocess
import threading
import uuid
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path
from typing import Any

import pytest
import redis
from anyio.from_thread import start_blocking_portal
from mcp.client import Client

from coord.errors import StoreUnavailableError
from coord.keys import Keys
from coord.resp import Connection
from tests.conftest import free_port
from tests.polling import wait_for
from tests.stress import crashes
from tests.stress.support import (
    HOOK,
    agents_repo,
    call,
    children_with_env,
    clean_env,
    embedded_pid,
    kill9,
    mcp_params,
    run_coord,
    setup_worktrees,
    stdio_sessions,
    stop_embedded,
    tool,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def hanging_redis() -> Iterator[str]:
    """A server that accepts connections and never answers (a stopped or wedged Redis)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    yield f"redis://127.0.0.1:{sock.getsockname()[1]}/0"
    sock.close()


def test_connection_reset_during_auth_is_one_line() -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(5)

    def reset_everyone() -> None:
        with suppress(OSError):
            conn, _ = server.accept()
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            conn.recv(100)
            conn.close()

    threading.Thread(target=reset_everyone, daemon=True).start()
    with pytest.raises(StoreUnavailableError) as info:
        Connection(f"redis://:pw@127.0.0.1:{server.getsockname()[1]}/0", 2.0).pipeline([["PING"]])
    assert "\n" not in info.value.line()
    server.close()


def test_embedded_server_killed_while_publishing(tmp_path: Path) -> None:
    run = crashes.publish_through_kills(tmp_path, 600, [150, 400])
    assert run.kills == 2 and len(run.successes) == 600
    print(f"\n600 publishes, 2 kill -9: {run.failures} refused while down, {run.duplicates} duplicate(s), 0 lost")
    assert run.duplicates == 0


@pytest.mark.parametrize("scenario", sorted(crashes.SCENARIOS))
def test_killed_half_way_then_run_again(tmp_path: Path, scenario: str) -> None:
    args, moved, dirty = crashes.SCENARIOS[scenario]
    total = crashes.count_git_calls(tmp_path, args, moved, dirty)
    for when in ("before", "after"):
        crashes.kill_and_rerun(tmp_path, args, max(1, total * 2 // 3), when, moved, dirty)


@pytest.mark.parametrize("event", ["session-start", "user-prompt-submit", "session-end"])
def test_hooks_exit_within_a_second_when_redis_hangs(tmp_path: Path, hanging_redis: str, event: str) -> None:
    repo = agents_repo(tmp_path / "repo", ("pm", "backend"))
    env = {**clean_env(), "COORD_REDIS_URL": hanging_redis, "CLAUDE_INSTANCE_ID": "pm",
           "CLAUDE_PROJECT_DIR": str(repo)}
    proc = subprocess.run([*HOOK, event], input=json.dumps({"session_id": "s"}), cwd=repo, env=env,
                          capture_output=True, text=True, timeout=60)  # a hang guard, not a budget
    assert proc.returncode == 0 and "Traceback" not in proc.stderr
    assert not proc.stdout.strip() or json.loads(proc.stdout).get("decision") != "block"


def test_worktree_tasks_work_and_warn_when_redis_is_down(tmp_path: Path) -> None:
    repo = agents_repo(tmp_path / "repo", ("pm", "backend"))
    for env in (clean_env(COORD_REDIS_URL=f"redis://127.0.0.1:{free_port()}/0"), clean_env()):
        setup = run_coord(repo, "agent.setup", "backend", env=env)
        assert setup.returncode == 0, setup.stderr
        listed = run_coord(repo, "agent.list", env=env)
        assert listed.returncode == 0 and "presence unknown" in listed.stderr, listed.stderr
        assert "unknown" in listed.stdout
        down = run_coord(repo, "agent.teardown", "backend", "--abandon", env=env)
        assert down.returncode == 0 and "presence of backend not cleared" in down.stderr, down.stderr
        assert "Traceback" not in setup.stderr + listed.stderr + down.stderr
    assert embedded_pid(repo) is None  # none of these started the embedded server


def test_killed_mcp_session_goes_stale_keeps_its_mail_and_only_then_its_role_is_taken(
    tmp_path: Path, valkey: Any, namespace: str
) -> None:
    repo = agents_repo(tmp_path / "repo", ("pm", "backend"))
    setup_worktrees(repo, ("pm", "backend"))
    stale = 3
    env = {"COORD_REDIS_URL": valkey.url, "COORD_NAMESPACE": namespace, "COORD_STALE_SECONDS": str(stale),
           "COORD_PRESENCE_TTL_SECONDS": str(stale), "COORD_HEARTBEAT_SECONDS": "1"}
    victim_sid = f"victim-{uuid.uuid4().hex[:6]}"
    with stdio_sessions(repo, [("pm", "pm-1")], env) as (portal, (pm,)):
        with start_blocking_portal() as vportal:
            victim_cm = vportal.wrap_async_context_manager(Client(mcp_params(repo, "backend", victim_sid, env)))
            victim = victim_cm.__enter__()
            assert call(vportal, victim, "coord_get_presence")[0]
            ok, sent = call(portal, pm, "coord_publish_message", {"to": "backend", "type": "TASK_ASSIGNMENT",
                                                                  "body": "do it"})
            assert ok
            (pid,) = children_with_env("CLAUDE_CODE_SESSION_ID", victim_sid)
            kill9(pid)
            with suppress(Exception):
                victim_cm.__exit__(None, None, None)
        # A newcomer that heartbeats rarely: its tool calls (and its slow ticks) retry the registration.
        late = {**env, "COORD_HEARTBEAT_SECONDS": str(stale - 1)}  # the slowest valid one (< stale_seconds)
        raw = redis.Redis.from_url(valkey.url, decode_responses=True)

        def holder() -> str:
            return str(json.loads(raw.hget(Keys(namespace).presence, "backend"))["session_id"])

        with start_blocking_portal() as nportal, nportal.wrap_async_context_manager(
            Client(mcp_params(repo, "backend", "newcomer", late))
        ) as newcomer:

            def register() -> dict[str, Any] | None:
                ok, value = nportal.call(tool, newcomer, "coord_get_presence")
                assert ok, value
                if "note" not in value:
                    return value  # type: ignore[no-any-return]
                # Refused while the victim is live, naming it; its record is still there.
                assert "held by another live session" in value["note"] and victim_sid[:8] in value["note"]
                assert holder() == victim_sid
                return None

            wait_for(register, "the killed session's role to be freed", interval=0.2)
            assert holder() == "newcomer"
            raw.close()
            ok, inbox = nportal.call(tool, newcomer, "coord_check_messages")
            assert ok and [m["id"] for m in inbox["messages"]] == [sent["ids"]["backend"]]


def test_mcp_tools_say_one_line_while_redis_is_down_and_recover(tmp_path: Path) -> None:
    """The embedded server killed mid-session: the next call brings it back with its data; a fixed
    COORD_REDIS_URL that is down: one-line errors, then recovery without restarting the session."""
    repo = agents_repo(tmp_path / "repo", ("pm", "backend"))
    setup_worktrees(repo, ("pm", "backend"))
    try:
        with stdio_sessions(repo, [("pm", "e-pm"), ("backend", "e-be")], {}) as (portal, (pm, be)):
            ok, sent = call(portal, pm, "coord_publish_message", {"to": "backend", "type": "INFO", "body": "kept"})
            assert ok
            pid = embedded_pid(repo)
            assert pid
            kill9(pid)
            ok, inbox = call(portal, be, "coord_check_messages")
            assert ok and [m["body"] for m in inbox["messages"]] == ["kept"]
            assert embedded_pid(repo) not in (None, pid)
    finally:
        stop_embedded(repo)

    from coord.server_process import ValkeyServer

    server = ValkeyServer(tmp_path / "ext").start()  # stop() then start() keeps its port
    env = {"COORD_REDIS_URL": server.url, "COORD_NAMESPACE": "ext"}
    try:
        with stdio_sessions(repo, [("backend", "x-be")], env) as (portal, (be,)):
            assert call(portal, be, "coord_get_presence")[0]
            server.stop()
            for name in ("coord_get_notifications", "coord_check_messages", "coord_get_presence"):
                ok, text = call(portal, be, name)
                assert not ok and "\n" not in text and "cannot reach Redis" in text, text
            server.start()
            ok, sent = call(portal, be, "coord_publish_message", {"to": "backend", "type": "INFO", "body": "back"})
            assert ok and set(sent["ids"]) == {"backend"}
    finally:
        server.stop()


def test_a_fresh_unused_worktree_is_torn_down_without_flags(tmp_path: Path) -> None:
    """Found by this suite: agent.setup renders coord's Claude Code files into a new worktree when the
    main checkout lacks them; they are untracked there, so a plain teardown of a worktree nobody
    touched is refused as 'uncommitted changes' (exit 11)."""
    repo = agents_repo(tmp_path / "repo", ("pm", "backend"))
    env = clean_env(COORD_REDIS_URL=f"redis://127.0.0.1:{free_port()}/0")
    assert run_coord(repo, "agent.setup", "backend", env=env).returncode == 0
    down = run_coord(repo, "agent.teardown", "backend", env=env)
    assert down.returncode == 0, down.stderr
