"""`coord mcp`'s stdio wire (coord.mcp_wire) against a real Valkey, in the real process: coord_hook
calls answered on the wire, everything else by the SDK, one pipe for both.

A raw pipe shows the bytes (the hook's reply is the wire's own line, ids of either kind, pipelined
requests, a bad line); the SDK's own client shows a real client accepts the replies; closing stdin
ends the session the way the SDK's transport did (the role goes inactive)."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
import redis
from mcp.client import Client
from mcp.client.stdio import StdioServerParameters

from coord.keys import Keys
from coord.mcp_wire import Era, HookCall, hook_reply
from tests.integration.conftest import repo_with_worktrees
from tests.polling import DEADLINE, wait_for

pytestmark = pytest.mark.integration

HOOK_ARGS = {"event": "PostToolUse", "notification_type": "${notification_type}",
             "stop_hook_active": "${stop_hook_active}"}


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return repo_with_worktrees(tmp_path, ["backend"])


def server_env(coord_env: dict[str, str], session: str) -> dict[str, str]:
    env = {k: v for k, v in coord_env.items() if k.startswith("COORD_") or k in ("PATH", "HOME", "LANG")}
    return {**env, "CLAUDE_INSTANCE_ID": "backend", "CLAUDE_CODE_SESSION_ID": session}


LEGACY = Era("", (), "", {})  # the raw pipe speaks the 2025 handshake era: no per-request envelope


def coord_bin() -> str:
    found = shutil.which("coord")
    assert found, "the coord console script is not installed (pip install -e .)"
    return found


class Pipe:
    """`coord mcp` on raw pipes: lines in, lines out. A guard kills the server after DEADLINE
    seconds, so a reply that never comes ends the read (and the test) instead of hanging it."""

    def __init__(self, cwd: Path, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen([coord_bin(), "mcp"], cwd=cwd, env=env, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self._guard = threading.Timer(DEADLINE, self.proc.kill)
        self._guard.start()
        self.replies: dict[Any, dict[str, Any]] = {}

    def send(self, *messages: dict[str, Any] | bytes) -> None:
        assert self.proc.stdin is not None
        data = b"".join(m if isinstance(m, bytes) else json.dumps(m).encode() + b"\n" for m in messages)
        self.proc.stdin.write(data)  # pipelined: every line before the first reply is read
        self.proc.stdin.flush()

    def reply(self, ident: Any) -> tuple[bytes, dict[str, Any]]:
        """The raw line answering request ident (other replies are kept for later)."""
        assert self.proc.stdout is not None
        while ident not in self.replies:
            line = self.proc.stdout.readline()
            assert line, f"coord mcp closed stdout before answering {ident!r}: {self.stderr()}"
            message = json.loads(line)
            self.replies[message.get("id")] = {"line": line, **message}
        found = self.replies.pop(ident)
        return found.pop("line"), found

    def stderr(self) -> str:
        if self.proc.poll() is None:
            return "(still running)"
        assert self.proc.stderr is not None
        return self.proc.stderr.read().decode(errors="replace")

    def close(self) -> None:
        self._guard.cancel()
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)


def request(ident: Any, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": ident, "method": method, **({"params": params} if params is not None else {})}


def hook(ident: Any, args: dict[str, Any]) -> dict[str, Any]:
    return request(ident, "tools/call", {"name": "coord_hook", "arguments": args})


def initialize(pipe: Pipe) -> None:
    pipe.send(request(0, "initialize", {"protocolVersion": "2025-06-18", "capabilities": {},
                                        "clientInfo": {"name": "test", "version": "1"}}),
              {"jsonrpc": "2.0", "method": "notifications/initialized"})
    _, answer = pipe.reply(0)
    assert answer["result"]["serverInfo"]["name"] == "coord", answer


@pytest.fixture
def pipe(repo: Path, coord_env: dict[str, str]) -> Iterator[Pipe]:
    """`coord mcp` as backend, initialized over a raw pipe; killed at the end if still running."""
    opened = Pipe(repo / ".worktrees" / "backend", server_env(coord_env, f"wire-{uuid.uuid4().hex[:8]}"))
    try:
        initialize(opened)
        yield opened
    finally:
        opened.close()


def test_hook_calls_are_answered_on_the_wire_and_the_rest_by_the_sdk(
        pipe: Pipe, repo: Path, coord_env: dict[str, str], raw: redis.Redis) -> None:
    keys = Keys(coord_env["COORD_NAMESPACE"])
    wait_for(lambda: raw.hget(keys.presence, "backend") is not None, "the server to register its session")
    pipe.send(hook(1, HOOK_ARGS))
    line, answer = pipe.reply(1)
    # nothing new: zero characters, in the wire's own reply (the SDK's would differ byte for byte)
    assert line == hook_reply(HookCall(1, HOOK_ARGS), "", LEGACY), line
    from coord.config import load_config
    from coord.repo import find_repo
    from coord.store import open_store

    paths = find_repo(repo)
    store = open_store(paths, load_config(paths.main_root, coord_env))
    store.publish("pm", "backend", "TASK_ASSIGNMENT", "add the /v1/items endpoint")
    # Pipelined: a hook call with a string id, the tool list, a line that is not JSON, a hook call
    # the wire leaves to the SDK (an argument coord_hook does not take), and an ordinary tool.
    pipe.send(hook("h-2", HOOK_ARGS), request(3, "tools/list"), b"{not json\n",
              hook(4, {**HOOK_ARGS, "unknown": "x"}), request(5, "tools/call", {"name": "coord_get_notifications"}))
    line, answer = pipe.reply("h-2")
    text = answer["result"]["content"][0]["text"]
    assert line == hook_reply(HookCall("h-2", HOOK_ARGS), text, LEGACY) and not answer["result"]["isError"]
    shown = json.loads(text)["hookSpecificOutput"]
    assert shown["hookEventName"] == "PostToolUse" and "add the /v1/items endpoint" in shown["additionalContext"]
    _, listed = pipe.reply(3)
    assert "coord_hook" in [t["name"] for t in listed["result"]["tools"]]
    _, by_sdk = pipe.reply(4)  # answered by the SDK: same tool, and the mail is not shown twice
    assert by_sdk["result"]["isError"] is False and by_sdk["result"]["content"][0]["text"] == ""
    _, counted = pipe.reply(5)
    assert json.loads(counted["result"]["content"][0]["text"])["pending"] == 1
    store.close()


def test_closing_stdin_ends_the_session_and_the_process(pipe: Pipe, coord_env: dict[str, str],
                                                       raw: redis.Redis) -> None:
    keys = Keys(coord_env["COORD_NAMESPACE"])
    pipe.send(hook(1, {"event": "Stop", "stop_hook_active": "false"}))
    pipe.reply(1)

    def record() -> dict[str, Any]:
        found = raw.hget(keys.presence, "backend")
        return json.loads(found) if found else {}

    wait_for(lambda: record().get("status") == "active", "the session to be active")
    assert record()["activity"] == "idle"  # the Stop hook went through the wire to the store
    assert pipe.proc.stdin is not None
    pipe.proc.stdin.close()
    assert pipe.proc.wait(timeout=60) == 0, pipe.stderr()
    assert record()["status"] == "inactive"  # shutdown ran: history kept, role free


def test_a_real_client_takes_the_wires_replies(repo: Path, coord_env: dict[str, str]) -> None:
    params = StdioServerParameters(command=coord_bin(), args=["mcp"], env=server_env(coord_env, "wire-3"),
                                   cwd=str(repo / ".worktrees" / "backend"))

    async def scenario() -> None:
        with anyio.fail_after(60):
            async with Client(params) as client:
                for _ in range(3):
                    result = await client.call_tool("coord_hook", HOOK_ARGS)
                    assert not result.is_error and [getattr(b, "text", None) for b in result.content] == [""]
                presence = await client.call_tool("coord_get_presence", {})
                assert not presence.is_error

    anyio.run(scenario)


def test_a_client_gone_mid_call_ends_the_session_without_a_traceback(pipe: Pipe) -> None:
    assert pipe.proc.stdout is not None and pipe.proc.stdin is not None
    pipe.proc.stdout.close()  # the client stops reading: the reply to this call has nowhere to go
    pipe.send(hook(1, HOOK_ARGS), request(2, "tools/list"))
    pipe.proc.wait(timeout=60)  # the failed reply ends the session by itself: stdin is still open
    errors = pipe.stderr()
    assert pipe.proc.returncode == 0 and "Traceback" not in errors, errors
