"""Hostile input, fast budgets (issue 7): role names, base refs, message bodies and types, hook stdin,
raw bytes on the MCP wire. The same properties run with large budgets in tests/stress."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from anyio.from_thread import start_blocking_portal
from hypothesis import given, settings
from hypothesis import strategies as st
from mcp.client import Client

from coord.config import Config
from coord.store import Store
from tests.stress import hostile
from tests.stress.support import (
    COORD,
    MCP,
    agents_repo,
    clean_env,
    mcp_params,
    one_line_refusal,
    setup_worktrees,
    snapshot,
    tool,
)

pytestmark = pytest.mark.integration

FAST = settings(max_examples=40)  # each example starts git or coord processes; the rest: tests/conftest.py


# -- role names and base refs -------------------------------------------------------------------------
@pytest.fixture
def scene(tmp_path: Path) -> hostile.Scene:
    return hostile.make_scene(tmp_path)


def cli_roles_refused(scene: hostile.Scene, values: list[str], tasks: tuple[str, ...]) -> int:
    """Each value as ROLE of each task, run as a real process: exit 2, one line, nothing touched."""
    env = clean_env()
    procs = []
    for value in values:
        if "\0" in value or value in hostile.ROLES:
            continue  # argv cannot carry NUL (tested in-process); configured roles are valid
        for task in tasks:
            procs.append((task, value, subprocess.Popen(
                [*COORD, task, value], cwd=scene.repo, env=env, stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)))
            if len(procs) % 8 == 0:  # 2 cores: a few at a time
                procs[-8][2].wait(timeout=60)
    for task, value, proc in procs:
        out, err = proc.communicate(timeout=120)
        done = subprocess.CompletedProcess([task, value], proc.returncode, out, err)
        assert proc.returncode == 2, (task, value, out, err)
        one_line_refusal(done)
    scene.assert_untouched()
    return len(procs)


ISSUE_LIST = ["../x", "-x", "--upload-pack=x", "x$(touch {m})", "HEAD", "main", ".", "..", "a b", "a\nb", "ünï",
              "x" * 300]


def issue_list(marker: Path) -> list[str]:
    return [v.replace("{m}", str(marker)) for v in ISSUE_LIST]


def test_listed_role_names_are_refused_by_the_cli_in_one_line(scene: hostile.Scene) -> None:
    assert cli_roles_refused(scene, issue_list(scene.marker), ("agent.setup",)) == len(ISSUE_LIST)


def cli_bases(scene: hostile.Scene, values: list[str]) -> None:
    """Each value as --base of agent.setup, run as a real process: a worktree at what git resolves, or
    one line; nothing touched either way."""
    env = clean_env()
    for value in values:
        if "\0" in value:
            continue
        want = hostile.expected_base(scene.repo, value)
        proc = subprocess.run([*COORD, "agent.setup", "frontend", "--base", value], cwd=scene.repo, env=env,
                              stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
        if want is None:
            assert proc.returncode in (2, 3), (value, proc.stdout, proc.stderr)
            one_line_refusal(proc)
        else:
            assert proc.returncode == 0, (value, proc.stderr)
            hostile._drop_worktree(scene, "frontend")
        scene.assert_untouched()


def test_listed_base_refs_through_the_cli(scene: hostile.Scene) -> None:
    cli_bases(scene, [*issue_list(scene.marker), f"--upload-pack=touch {scene.marker}", ":/initial", "@"])


@FAST
@given(data=st.data())
def test_generated_role_names(scene: hostile.Scene, data: st.DataObject) -> None:
    hostile.check_role(scene, data.draw(hostile.strings(scene.marker)))


@FAST
@given(data=st.data())
def test_generated_base_refs(scene: hostile.Scene, data: st.DataObject) -> None:
    hostile.check_base(scene, data.draw(hostile.strings(scene.marker)))


@pytest.mark.parametrize(
    ("setting", "value"),
    [("base_branch", "x\\u0000y"), ("worktree_dir", "../outside"), ("worktree_dir", "{tmp}/abs"),
     ("worktree_dir", ".git"), ("worktree_dir", "."), ("worktree_dir", "a/../../b"), ("main_role", "../x"),
     ("roles", "x$(id)")],
)
def test_hostile_settings_in_coord_toml_are_refused_or_contained(scene: hostile.Scene, setting: str,
                                                                  value: str) -> None:
    """coord.toml is committed, so any branch can change it: a setting must not lead a worktree,
    a file or a command out of the repository."""
    value = value.replace("{tmp}", str(scene.repo.parent))
    text = f"{setting} = [\"{value}\"]\n" if setting == "roles" else f'{setting} = "{value}"\n'
    toml = scene.repo / "coord.toml"
    original = toml.read_text()
    roles_line = "" if setting == "roles" else 'roles = ["pm", "backend", "frontend"]\n'
    toml.write_text(roles_line + text)
    scene.before = snapshot(scene.repo)
    outside_before = set(os.listdir(scene.repo.parent))
    proc = subprocess.run([*COORD, "agent.setup", "frontend"], cwd=scene.repo, env=clean_env(),
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
    assert "Traceback" not in proc.stderr, proc.stderr
    if proc.returncode != 0:
        one_line_refusal(proc)
    else:  # accepted: the worktree must still be inside the repository, under a folder of its own
        listed = [line.split(" ", 1)[1] for line in
                  hostile.git(scene.repo, "worktree", "list", "--porcelain").stdout.splitlines()
                  if line.startswith("worktree ")]
        for path in listed[1:]:
            rel = os.path.relpath(path, scene.repo)
            assert not rel.startswith(".."), f"worktree outside the repository: {path}"
            assert not rel.startswith(".git"), f"worktree inside .git: {path}"
    assert set(os.listdir(scene.repo.parent)) == outside_before, "something was created next to the repository"
    toml.write_text(original)


# -- message bodies and types ---------------------------------------------------------------------------
@pytest.fixture
def store(valkey: Any, namespace: str) -> Iterator[Store]:
    s = Store(valkey.url, namespace, Config(roles=hostile.ROLES))
    yield s
    s.close()


@FAST
@given(body=hostile.bodies(), kind=hostile.types())
def test_generated_bodies_and_types_through_the_store(store: Store, body: Any, kind: Any) -> None:
    hostile.check_store_message(store, body, kind, {})


@pytest.fixture
def mcp_repo(tmp_path: Path) -> Path:
    repo = agents_repo(tmp_path / "repo", hostile.ROLES)
    setup_worktrees(repo, hostile.ROLES)
    return repo


@pytest.fixture
def two_clients(mcp_repo: Path, valkey: Any, namespace: str) -> Iterator[tuple[Any, Any, Any]]:
    """Real `coord mcp` processes for backend and pm behind real MCP clients, usable from sync code
    (hypothesis drives them through a blocking portal)."""
    env = {"COORD_REDIS_URL": valkey.url, "COORD_NAMESPACE": namespace}
    with start_blocking_portal() as portal:
        sender = portal.wrap_async_context_manager(Client(mcp_params(mcp_repo, "backend", "hb", env)))
        reader = portal.wrap_async_context_manager(Client(mcp_params(mcp_repo, "pm", "hp", env)))
        with sender as b, reader as p:
            yield portal, b, p


def mcp_round_trip(portal: Any, sender: Any, reader: Any, body: str, kind: str) -> None:
    ok, sent = portal.call(tool, sender, "coord_publish_message", {"to": "pm", "type": kind, "body": body})
    want = hostile.body_ok(body, Config().max_body_bytes)
    if not ok:
        assert "\n" not in sent and not want, (body[:80], sent)
        return
    assert want, f"accepted {body[:80]!r}"
    ok, got = portal.call(tool, reader, "coord_check_messages", {"limit": 1000})
    assert ok, got
    mine = [m for m in got["messages"] if m["id"] == sent["ids"]["pm"]]
    assert len(mine) == 1 and mine[0]["sender"] == "backend"
    assert mine[0]["body"].encode("utf-8") == body.encode("utf-8")
    ok, acked = portal.call(tool, reader, "coord_ack_messages", {"ids": [sent["ids"]["pm"]]})
    assert ok and acked == {"acknowledged": 1}


def test_nasty_bodies_through_real_mcp_stdio(two_clients: tuple[Any, Any, Any]) -> None:
    portal, b, p = two_clients
    for body in ["", " ", "\0", "a\0b", "\x1b[2J", '{"jsonrpc": "2.0", "id": 1}', "\n" * 10 + "x",
                 "\u2028\u2029", "x" * 65536, "x" * 65537, "é" * 32768, "é" * 32769, "\U0001F600", " lead and trail "]:
        mcp_round_trip(portal, b, p, body, "INFO")


@settings(max_examples=25)  # every example is two MCP round trips
@given(body=st.text(st.characters(codec="utf-8"), min_size=0, max_size=200))
def test_generated_bodies_through_real_mcp_stdio(two_clients: tuple[Any, Any, Any], body: str) -> None:
    portal, b, p = two_clients
    mcp_round_trip(portal, b, p, body, "QUESTION")


def test_unknown_type_and_bad_arguments_through_mcp(two_clients: tuple[Any, Any, Any]) -> None:
    portal, b, _ = two_clients
    for args in [{"to": "pm", "type": "NOPE", "body": "x"}, {"to": "pm", "type": 3, "body": "x"},
                 {"to": "pm", "type": "INFO", "body": 5}, {"to": "pm", "type": "INFO"},
                 {"to": "../x", "type": "INFO", "body": "x"}, {"to": "", "type": "INFO", "body": "x"},
                 {"to": ["pm"], "type": "INFO", "body": "x"}, {"to": "pm", "type": "INFO", "body": None}]:
        ok, text = portal.call(tool, b, "coord_publish_message", args)
        assert not ok and "Traceback" not in text, (args, text)
    for args in [{"ids": "1-1"}, {"ids": [None]}, {"ids": ["x" * 10000]}, {"ids": [str(i) for i in range(1001)]},
                 {"limit": 0}, {"limit": 10**9}]:
        name = "coord_check_messages" if "limit" in args else "coord_ack_messages"
        ok, text = portal.call(tool, b, name, args)
        assert ok or "Traceback" not in text
    ok, presence = portal.call(tool, b, "coord_get_presence")
    assert ok and presence["you"] == "backend"  # the server still serves


# -- raw bytes on the MCP wire -----------------------------------------------------------------------------
def test_garbage_on_the_stdio_wire_does_not_kill_the_server(mcp_repo: Path, valkey: Any, namespace: str) -> None:
    env = {**clean_env(), "COORD_REDIS_URL": valkey.url, "COORD_NAMESPACE": namespace,
           "CLAUDE_INSTANCE_ID": "backend", "CLAUDE_CODE_SESSION_ID": "raw"}
    proc = subprocess.Popen(MCP, cwd=mcp_repo / ".worktrees" / "backend", env=env, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdin and proc.stdout

    def send(obj: Any) -> None:
        data = obj if isinstance(obj, bytes) else json.dumps(obj).encode()
        proc.stdin.write(data + b"\n")  # type: ignore[union-attr]
        proc.stdin.flush()  # type: ignore[union-attr]

    def answer(want_id: int, timeout: float = 30) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = proc.stdout.readline()  # type: ignore[union-attr]
            assert line, f"server exited: {proc.stderr.read().decode()[-500:]}"  # type: ignore[union-attr]
            msg = json.loads(line)
            if msg.get("id") == want_id:
                return msg
        raise AssertionError("no answer")

    try:
        send({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}})
        assert "result" in answer(1)
        send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        for junk in [b"not json", b"\xff\xfe\xfd", b"{", b"[]", b"null", b'{"jsonrpc": "2.0"}',
                     b'{"jsonrpc": "2.0", "id": 99, "method": "tools/call", "params": {"name": "nope"}}',
                     b'{"jsonrpc": "2.0", "id": 98, "method": "tools/call", "params": {"name": '
                     b'"coord_publish_message", "arguments": {"to": "pm", "type": "INFO", "body": "\\ud800"}}}',
                     b"\0" * 100, b"x" * 200_000]:
            send(junk)
        send({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
              "params": {"name": "coord_publish_message", "arguments": {"to": "pm", "type": "INFO", "body": "alive"}}})
        reply = answer(2)
        assert reply["result"].get("isError") is not True, reply
        assert set(reply["result"]["structuredContent"]["ids"]) == {"pm"}
        assert proc.poll() is None
    finally:
        proc.kill()
        proc.wait(timeout=10)
    assert b"Traceback" not in proc.stderr.read()  # type: ignore[union-attr]


# -- hook stdin ---------------------------------------------------------------------------------------------
@pytest.fixture
def hook_env(mcp_repo: Path, valkey: Any, namespace: str) -> dict[str, str]:
    return {**clean_env(), "COORD_REDIS_URL": valkey.url, "COORD_NAMESPACE": namespace,
            "CLAUDE_INSTANCE_ID": "pm", "CLAUDE_PROJECT_DIR": str(mcp_repo)}


@FAST
@given(event=st.sampled_from(["session-start", "user-prompt-submit", "session-end", "nope", ""]),
       data=hostile.payloads())
def test_generated_hook_stdin(hook_env: dict[str, str], event: str, data: bytes) -> None:
    hostile.check_hook(event, data, hook_env, {})


def test_hostile_hook_stdin_as_processes(hook_env: dict[str, str], mcp_repo: Path) -> None:
    from tests.stress.support import HOOK

    for data in [b"", b"{", b"\xff" * 1000, b'{"session_id": 5}', b'{"session_id": "s", "cwd": "/"}',
                 json.dumps({"session_id": "z" * 201}).encode(), b"[" * 100_000 + b"]" * 100_000]:
        for event in ("session-start", "user-prompt-submit", "session-end"):
            proc = subprocess.run([*HOOK, event], input=data, cwd=mcp_repo, env=hook_env, capture_output=True,
                                  timeout=60)  # a hang guard only: hook speed is the bench's rows 1 and 2
            assert proc.returncode == 0 and b"Traceback" not in proc.stderr, proc.stderr
            out = proc.stdout.decode()
            assert not out.strip() or json.loads(out).get("decision") != "block"

