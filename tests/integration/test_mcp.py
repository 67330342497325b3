"""The MCP server with real client sessions: in memory and over stdio against `coord mcp`.

Two sessions with different CLAUDE_INSTANCE_ID exchange a message and see each other's
presence; impersonation is impossible; Redis down gives a ToolError and the server works again
once Redis is back, without a restart."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import anyio
import pytest
import redis
from mcp.client import Client
from mcp.client.stdio import StdioServerParameters

from coord.catalog.claude import TOOL_NAMES
from coord.errors import IdentityError
from coord.keys import Keys
from coord.mcp_server import build_server
from coord.mcp_service import RegistrationState, Service
from coord.server_process import ValkeyServer
from tests.integration.conftest import repo_with_worktrees
from tests.polling import wait_for_async

pytestmark = pytest.mark.integration


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return repo_with_worktrees(tmp_path, ("backend", "frontend"))


def env_for(base: dict[str, str], role: str | None, session: str) -> dict[str, str]:
    env = {k: v for k, v in base.items() if k.startswith("COORD_")}
    if role:
        env["CLAUDE_INSTANCE_ID"] = role
    env["CLAUDE_CODE_SESSION_ID"] = session
    return env


def cwd_for(repo: Path, role: str) -> Path:
    return repo if role == "pm" else repo / ".worktrees" / role


async def call(client: Client, tool: str, args: dict[str, Any] | None = None) -> Any:
    result = await client.call_tool(tool, args or {})
    if result.is_error:
        return ("error", result.content[0].text)  # type: ignore[union-attr]
    return result.structured_content


def run(fn: Any) -> Any:
    return anyio.run(fn)


def test_two_sessions_exchange_a_message_in_memory(repo: Path, coord_env: dict[str, str]) -> None:
    pm = Service(env_for(coord_env, "pm", "sess-pm"), repo)
    backend = Service(env_for(coord_env, "backend", "sess-be"), cwd_for(repo, "backend"))
    assert pm.problem is None and backend.problem is None, (pm.problem, backend.problem)

    async def scenario() -> None:
        async with Client(build_server(pm, autostart=True)) as a, Client(build_server(backend, autostart=True)) as b:
            listed = await a.list_tools()
            assert sorted(t.name for t in listed.tools) == sorted(TOOL_NAMES)
            presence = await call(a, "coord_get_presence")
            states = {r["role"]: r for r in presence["roles"]}
            assert presence["you"] == "pm"
            backend_row = states["backend"]
            assert backend_row.pop("last_seen").endswith(" s ago")  # seconds, however loaded the machine
            assert backend_row == {"role": "backend", "status": "active", "activity": "idle"}
            assert "sess-be" not in json.dumps(presence)  # no other session's id
            sent = await call(a, "coord_publish_message", {"to": "backend", "type": "TASK_ASSIGNMENT",
                                                           "body": "build /health"})
            assert sent["type"] == "TASK_ASSIGNMENT" and sent["to"] == "backend" and set(sent["ids"]) == {"backend"}
            note = await call(b, "coord_get_notifications")
            assert note["pending"] == 1 and note["by_type"] == {"TASK_ASSIGNMENT": 1}
            inbox = await call(b, "coord_check_messages")
            (msg,) = inbox["messages"]
            assert (msg["sender"], msg["body"], msg["type"]) == ("pm", "build /health", "TASK_ASSIGNMENT")
            assert msg["sent"].endswith(" s ago") and msg["id"] == sent["ids"]["backend"]
            again = await call(b, "coord_check_messages")
            assert again["pending"] == 1  # not acknowledged yet: still there
            acked = await call(b, "coord_ack_messages", {"ids": [msg["id"]]})
            assert acked == {"acknowledged": 1}
            assert (await call(b, "coord_check_messages"))["pending"] == 0
            await call(b, "coord_publish_message", {"to": "pm", "type": "ANSWER", "body": "done"})
            assert (await call(a, "coord_check_messages"))["messages"][0]["sender"] == "backend"
            lifecycle = await call(b, "coord_publish_message", {"to": "pm", "type": "SESSION_END", "body": "bye"})
            assert lifecycle[0] == "error" and "sent by coord itself" in lifecycle[1]

    run(scenario)


def test_impersonation_is_impossible(repo: Path, coord_env: dict[str, str]) -> None:
    backend = Service(env_for(coord_env, "backend", "sess-be"), cwd_for(repo, "backend"))
    pm = Service(env_for(coord_env, "pm", "sess-pm"), repo)

    async def scenario() -> None:
        async with Client(build_server(backend, autostart=True)) as b, Client(build_server(pm, autostart=True)) as a:
            for tool in TOOL_NAMES:
                schema = next(t for t in (await b.list_tools()).tools if t.name == tool).input_schema
                assert not {"sender", "role", "from", "as_role", "session_id"} & set(schema.get("properties", {}))
            # Extra arguments naming another sender are ignored: the sender is the server's role.
            await call(b, "coord_publish_message",
                       {"to": "pm", "type": "INFO", "body": "hi", "sender": "frontend", "role": "frontend"})
            assert (await call(a, "coord_check_messages"))["messages"][0]["sender"] == "backend"
            for_pm = await call(b, "coord_publish_message", {"to": "pm", "type": "QUESTION", "body": "q"})
            # backend cannot read or acknowledge pm's messages: its tools only see its own inbox.
            assert (await call(b, "coord_check_messages"))["pending"] == 0
            not_mine = await call(b, "coord_ack_messages", {"ids": [for_pm["ids"]["pm"]]})
            assert not_mine == {"acknowledged": 0, "not_pending": [for_pm["ids"]["pm"]]}
            assert (await call(a, "coord_check_messages"))["pending"] == 2

            # While backend's session is live, a second session claiming the backend role is refused.
            intruder = Service(env_for(coord_env, "backend", "sess-other"), cwd_for(repo, "backend"))
            async with Client(build_server(intruder, autostart=True)) as c:
                assert intruder.state is RegistrationState.REFUSED
                assert intruder.refusal is not None and "held by another live session sess-be" in intruder.refusal
                with pytest.raises(IdentityError, match="held by another live session sess-be"):
                    intruder.heartbeat()
                assert (await call(c, "coord_get_presence"))["you"] == "backend"
            record = json.loads(redis.Redis.from_url(coord_env["COORD_REDIS_URL"], decode_responses=True).hget(
                Keys(coord_env["COORD_NAMESPACE"]).presence, "backend"))
            assert record["session_id"] == "sess-be" and record["status"] == "active"

    run(scenario)


@pytest.mark.parametrize(
    ("role", "where", "expected"),
    [
        ("frontend", "backend", "belongs to backend"),
        ("ops", "backend", "unknown role"),
        ("../x", "backend", "invalid role"),
        ("backend", "pm", "must work in"),
    ],
)
def test_invalid_identity_starts_and_every_tool_says_why(
    repo: Path, coord_env: dict[str, str], role: str, where: str, expected: str
) -> None:
    svc = Service(env_for(coord_env, role, "s"), cwd_for(repo, where))
    assert svc.problem is not None

    async def scenario() -> None:
        async with Client(build_server(svc, autostart=True)) as c:
            for tool in TOOL_NAMES:
                args = {"to": "pm", "type": "INFO", "body": "x"} if tool == "coord_publish_message" else {}
                if tool == "coord_ack_messages":
                    args = {"ids": ["1-1"]}
                if tool == "coord_claim_files":
                    args = {"paths": ["src/**"], "reason": "x"}
                result = await call(c, tool, args)
                assert result[0] == "error" and expected in result[1] and "Traceback" not in result[1]

    run(scenario)


def test_no_instance_id_in_a_worktree_uses_its_git_identity(repo: Path, coord_env: dict[str, str]) -> None:
    svc = Service(env_for(coord_env, None, "s"), cwd_for(repo, "backend"))
    assert svc.role == "backend" and svc.actor is not None and svc.actor.source == "git user.email"
    main = Service(env_for(coord_env, None, "s"), repo)
    assert main.role == "pm" and main.actor is not None and main.actor.source == "main checkout"
    # An instance id contradicting the checkout's git identity is refused.
    liar = Service(env_for(coord_env, "frontend", "s"), cwd_for(repo, "backend"))
    assert liar.problem is not None and "belongs to backend" in liar.problem.line()


def test_redis_down_is_a_tool_error_then_recovers_without_restart(
    repo: Path, tmp_path: Path, namespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = ValkeyServer(tmp_path / "restartable").start()  # stop() then start() keeps its port
    try:
        env = {"COORD_REDIS_URL": server.url, "COORD_NAMESPACE": namespace}
        svc = Service(env_for(env, "backend", "sess-be"), cwd_for(repo, "backend"))

        async def scenario() -> None:
            async with Client(build_server(svc, autostart=True)) as c:
                assert (await call(c, "coord_get_presence"))["you"] == "backend"
                server.stop()
                down = await call(c, "coord_check_messages")
                assert down[0] == "error" and "cannot reach Redis" in down[1] and "COORD_REDIS_URL" in down[1]
                assert "\n" not in down[1]
                server.start()  # empty server (no persistence): the service registers again by itself
                up = await call(c, "coord_publish_message", {"to": "backend", "type": "INFO", "body": "back"})
                assert set(up["ids"]) == {"backend"}
                assert (await call(c, "coord_check_messages"))["messages"][0]["body"] == "back"
                svc.tick()  # the automatic heartbeat finds the record gone and registers again
                roles = {r["role"]: r for r in (await call(c, "coord_get_presence"))["roles"]}
                assert roles["backend"]["status"] == "active"

        run(scenario)
    finally:
        server.stop()


def test_registration_deferred_by_an_outage_happens_on_the_next_call(
    repo: Path, tmp_path: Path, namespace: str
) -> None:
    server = ValkeyServer(tmp_path / "late").start()  # its port, then down until start()
    server.stop()
    try:
        env = {"COORD_REDIS_URL": server.url, "COORD_NAMESPACE": namespace}
        svc = Service(env_for(env, "backend", "sess-be"), cwd_for(repo, "backend"))

        async def scenario() -> None:
            async with Client(build_server(svc, autostart=True)) as c:
                assert svc.state is RegistrationState.PENDING
                server.start()
                roles = {r["role"]: r for r in (await call(c, "coord_get_presence"))["roles"]}
                assert roles["backend"]["status"] == "active" and svc.state is RegistrationState.REGISTERED

        run(scenario)
    finally:
        server.stop()


def test_automatic_heartbeat_keeps_the_session_live(
    repo: Path, coord_env: dict[str, str], valkey, namespace: str  # type: ignore[no-untyped-def]
) -> None:
    env = {**env_for(coord_env, "backend", "sess-be"), "COORD_HEARTBEAT_SECONDS": "1"}
    svc = Service(env, cwd_for(repo, "backend"))
    raw = redis.Redis.from_url(valkey.url, decode_responses=True)
    key = Keys(namespace).presence

    async def scenario() -> None:
        async with Client(build_server(svc, autostart=True)):
            first = json.loads(raw.hget(key, "backend"))["last_heartbeat"]

            async def beaten() -> bool:  # only the server's own timer can move it: the test calls no tool
                return bool(json.loads(raw.hget(key, "backend"))["last_heartbeat"] >= first + 1)

            await wait_for_async(beaten, "an automatic heartbeat")

    run(scenario)
    raw.close()


def _coord_bin() -> str:
    found = shutil.which("coord")
    assert found, "the coord console script is not installed (pip install -e .)"
    return found


def test_stdio_sessions_of_two_roles(repo: Path, coord_env: dict[str, str]) -> None:
    def params(role: str, session: str) -> StdioServerParameters:
        return StdioServerParameters(
            command=_coord_bin(), args=["mcp"], env=env_for(coord_env, role, session), cwd=cwd_for(repo, role)
        )

    async def scenario() -> None:
        with anyio.fail_after(60):
            await talk()

    async def talk() -> None:
        async with Client(params("pm", "stdio-pm")) as a, Client(params("frontend", "stdio-fe")) as f:
            assert sorted(t.name for t in (await f.list_tools()).tools) == sorted(TOOL_NAMES)
            roles = {r["role"]: r for r in (await call(f, "coord_get_presence"))["roles"]}
            assert roles["pm"]["status"] == "active" and roles["frontend"]["status"] == "active"
            await call(f, "coord_publish_message",
                       {"to": "pm", "type": "REVIEW_REQUEST", "body": "please review agent/frontend/active"})
            got = await call(a, "coord_check_messages")
            assert [(m["sender"], m["type"]) for m in got["messages"]] == [("frontend", "REVIEW_REQUEST")]
            assert (await call(a, "coord_ack_messages", {"ids": [got["messages"][0]["id"]]}))["acknowledged"]
            bad = await call(a, "coord_publish_message", {"to": "pm", "type": "INFO", "body": "x" * 70000})
            assert bad[0] == "error" and "limit is 65536" in bad[1]

    run(scenario)


def test_coord_mcp_starts_without_invoke(repo: Path, coord_env: dict[str, str]) -> None:
    code = (
        "import sys; sys.argv=['coord','mcp']; import coord.cli as c; "
        "import coord.mcp_server as m; m.main = lambda: print('served', 'invoke' in sys.modules); c.main()"
    )
    out = subprocess.run(["python", "-c", code], capture_output=True, text=True, cwd=repo,
                         env={**os.environ, **coord_env}, timeout=60)
    assert out.stdout.strip() == "served False", out.stderr


def test_closing_the_session_marks_the_role_inactive(repo: Path, coord_env: dict[str, str]) -> None:
    first = Service(env_for(coord_env, "backend", "sess-1"), cwd_for(repo, "backend"))
    second = Service(env_for(coord_env, "backend", "sess-2"), cwd_for(repo, "backend"))

    async def scenario() -> None:
        async with Client(build_server(first, autostart=True)):
            assert first.state is RegistrationState.REGISTERED
        # The next session of the role is not refused by the one that ended.
        async with Client(build_server(second, autostart=True)) as c:
            assert second.state is RegistrationState.REGISTERED
            roles = {r["role"]: r for r in (await call(c, "coord_get_presence"))["roles"]}
            assert roles["backend"]["status"] == "active"

    run(scenario)
