"""Impersonation (issue 7): each test is one way a session could try to act as another role.

The sessions are real `coord mcp` processes behind real MCP clients, real `coord` / `coord-hook`
processes, in real worktrees; what was written is checked with redis-py, not through coord."""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from coord.config import Config
from coord.errors import IdentityError
from coord.keys import Keys
from coord.store import Store
from tests.stress.support import (
    COORD,
    HOOK,
    agents_repo,
    call,
    clean_env,
    raw_redis,
    setup_worktrees,
    stdio_sessions,
)

pytestmark = pytest.mark.integration

REFUSED = re.compile(r"must work in|but this checkout belongs to")

ROLES = ("pm", "backend", "frontend")
TOOLS_WITHOUT_ARGS = ("coord_get_presence", "coord_check_messages", "coord_get_notifications")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    main = agents_repo(tmp_path / "repo", ROLES)
    setup_worktrees(main, ROLES)
    return main


@pytest.fixture
def env(valkey: Any, namespace: str) -> dict[str, str]:
    return {"COORD_REDIS_URL": valkey.url, "COORD_NAMESPACE": namespace}


@pytest.fixture
def raw(valkey: Any) -> Iterator[Any]:
    client = raw_redis(valkey.url)
    yield client
    client.close()


def presence(raw: Any, namespace: str, role: str) -> dict[str, Any] | None:
    value = raw.hget(Keys(namespace).presence, role)
    return json.loads(value) if value else None


def test_publish_as_another_role_is_impossible(repo: Path, env: dict[str, str], raw: Any, namespace: str) -> None:
    with stdio_sessions(repo, [("backend", "s-be"), ("pm", "s-pm")], env) as (portal, (be, pm)):
        ok, sent = call(portal, be, "coord_publish_message",
                        {"to": "pm", "type": "INFO", "body": "hi", "sender": "pm", "from": "pm", "role": "pm"})
        assert ok and set(sent["ids"]) == {"pm"}
        ok, inbox = call(portal, pm, "coord_check_messages")
        assert ok and [m["sender"] for m in inbox["messages"]] == ["backend"]
    stored = raw.xrange(Keys(namespace).inbox("pm"))
    assert [fields["sender"] for _id, fields in stored] == ["backend"]
    # The CLI has no sender option, and CLAUDE_INSTANCE_ID naming pm does not work from backend's worktree.
    cli_env = {**clean_env(), **env}
    flag = subprocess.run([*COORD, "msg.send", "frontend", "INFO", "x", "--sender", "pm"],
                          cwd=repo / ".worktrees/backend", env=cli_env, capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL)
    assert flag.returncode == 2 and "Traceback" not in flag.stderr
    posing = subprocess.run([*COORD, "msg.send", "frontend", "INFO", "x"], cwd=repo / ".worktrees/backend",
                            env={**cli_env, "CLAUDE_INSTANCE_ID": "pm"}, capture_output=True, text=True, timeout=60,
                            stdin=subprocess.DEVNULL)
    assert posing.returncode == 6 and REFUSED.search(posing.stderr), posing.stderr
    assert raw.xlen(Keys(namespace).inbox("frontend")) == 0


def test_heartbeat_register_deregister_of_another_role_are_refused(valkey: Any, namespace: str, raw: Any) -> None:
    """The store refuses every presence change by a session that does not hold the role; the MCP tools
    take no role at all (checked in test_mcp), so this is the only door left."""
    holder = Store(valkey.url, namespace, Config(roles=ROLES))
    intruder = Store(valkey.url, namespace, Config(roles=ROLES))
    holder.register("backend", "real", "/x")
    before = presence(raw, namespace, "backend")
    with pytest.raises(IdentityError, match="held by another live session"):
        intruder.register("backend", "fake", "/y")
    with pytest.raises(IdentityError):
        intruder.heartbeat("backend", "fake")
    with pytest.raises(IdentityError):
        intruder.deregister("backend", "fake")
    assert presence(raw, namespace, "backend") == before
    assert raw.get(Keys(namespace).alive("backend")) == "real"
    holder.close()
    intruder.close()


def test_messages_of_another_role_cannot_be_read_or_acknowledged(repo: Path, env: dict[str, str], raw: Any,
                                                                 namespace: str) -> None:
    with stdio_sessions(repo, [("backend", "s-be"), ("frontend", "s-fe")], env) as (portal, (be, fe)):
        ok, sent = call(portal, be, "coord_publish_message", {"to": "frontend", "type": "QUESTION", "body": "secret"})
        assert ok
        the_id = sent["ids"]["frontend"]
        ok, mine = call(portal, be, "coord_check_messages", {"limit": 1000})
        assert ok and mine["pending"] == 0 and mine["messages"] == []
        ok, notes = call(portal, be, "coord_get_notifications")
        assert ok and notes["pending"] == 0
        ok, acked = call(portal, be, "coord_ack_messages", {"ids": [the_id]})
        assert ok and acked == {"acknowledged": 0, "not_pending": [the_id]}
        ok, extra = call(portal, be, "coord_check_messages", {"limit": 5, "role": "frontend"})  # extra arg ignored
        assert ok and extra["pending"] == 0
        ok, theirs = call(portal, fe, "coord_check_messages")
        assert ok and [m["body"] for m in theirs["messages"]] == ["secret"]
    assert raw.hkeys(Keys(namespace).pending("frontend")) == [the_id]


def test_a_live_role_cannot_be_claimed(repo: Path, env: dict[str, str], raw: Any, namespace: str) -> None:
    with stdio_sessions(repo, [("backend", "first")], env) as (portal, (first,)):
        assert call(portal, first, "coord_get_presence")[0]
        with stdio_sessions(repo, [("backend", "second")], env) as (portal2, (second,)):
            # No tool registers or heartbeats: the server's own registration was refused, and says so.
            ok, seen = call(portal2, second, "coord_get_presence")
            assert ok and "held by another live session first" in seen["note"] and "\n" not in seen["note"]
        assert presence(raw, namespace, "backend")["session_id"] == "first"  # type: ignore[index]
        ok, mine = call(portal, first, "coord_get_presence")
        assert ok and "note" not in mine


def test_instance_id_of_another_role_is_refused_by_hook_mcp_and_cli(repo: Path, env: dict[str, str], raw: Any,
                                                                    namespace: str) -> None:
    backend_wt = repo / ".worktrees" / "backend"
    # A symlink named like frontend's worktree pointing at backend's is no way in either.
    (repo / ".worktrees" / "alias").symlink_to(backend_wt)
    attempts = [(backend_wt, "frontend"), (backend_wt, "pm"), (repo, "backend"), (repo / ".worktrees" / "alias", "pm")]
    for where, role in attempts:
        hook_env = {**clean_env(), **env, "CLAUDE_INSTANCE_ID": role, "CLAUDE_PROJECT_DIR": str(where)}
        for event in ("session-start", "user-prompt-submit"):
            proc = subprocess.run([*HOOK, event], input=json.dumps({"session_id": f"pose-{role}", "cwd": str(where)}),
                                  cwd=where, env=hook_env, capture_output=True, text=True, timeout=30)
            assert proc.returncode == 0 and "Traceback" not in proc.stderr
            out = json.loads(proc.stdout)
            if event == "user-prompt-submit":
                assert out.get("decision") == "block" and REFUSED.search(out["reason"]), out
            else:
                assert "blocks this session's prompts" in out["hookSpecificOutput"]["additionalContext"], out
        cli = subprocess.run([*COORD, "msg.inbox"], cwd=where, env=hook_env, capture_output=True, text=True,
                             timeout=60, stdin=subprocess.DEVNULL)
        assert cli.returncode == 6, cli.stderr
    # The MCP server refuses every tool when started in a checkout that is not the role's own.
    from mcp.client.stdio import StdioServerParameters

    from tests.stress.support import MCP

    params = StdioServerParameters(command=MCP[0], args=MCP[1:], cwd=backend_wt, env={
        **clean_env(), **env, "CLAUDE_INSTANCE_ID": "frontend", "CLAUDE_CODE_SESSION_ID": "pose"})
    from anyio.from_thread import start_blocking_portal
    from mcp.client import Client

    with start_blocking_portal() as portal, portal.wrap_async_context_manager(Client(params)) as c:
        for name in TOOLS_WITHOUT_ARGS:
            ok, text = call(portal, c, name)
            assert not ok and REFUSED.search(text), (name, text)
        ok, text = call(portal, c, "coord_publish_message", {"to": "pm", "type": "INFO", "body": "x"})
        assert not ok and REFUSED.search(text)
    for role in ROLES:
        record = presence(raw, namespace, role)
        assert record is None or not record["session_id"].startswith("pose"), record
    assert raw.xlen(Keys(namespace).inbox("pm")) == 0
    assert os.path.islink(repo / ".worktrees" / "alias")
