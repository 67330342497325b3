"""coord with the real Claude Code CLI: hooks, .mcp.json, tools and blocking, end to end."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from coord.catalog.claude import TOOL_NAMES
from tests.e2e.conftest import Workspace
from tests.e2e.model import ScriptedModel, Text, ToolCall

pytestmark = pytest.mark.e2e

TOOL = "mcp__coord__"
REPO_ROOT = Path(__file__).resolve().parents[2]


def result_json(block: dict[str, Any]) -> dict[str, Any]:
    """The JSON one tool_result block carries."""
    inner = block.get("content")
    text = inner if isinstance(inner, str) else "".join(b.get("text", "") for b in inner or [] if isinstance(b, dict))
    try:
        return dict(json.loads(text))
    except json.JSONDecodeError:
        raise AssertionError(f"tool result is not JSON: {text[:500]!r}") from None


def last_tool_json(request: dict[str, Any]) -> dict[str, Any]:
    """The JSON the last tool call returned, as the CLI sent it back to the model."""
    for message in reversed(request.get("messages", [])):
        content = message.get("content")
        if not isinstance(content, list):
            continue
        for block in reversed(content):
            if isinstance(block, dict) and block.get("type") == "tool_result":
                return result_json(block)
    raise AssertionError("no tool_result in the request")


def test_rendered_mcp_json_connects(workspace: Workspace) -> None:
    tree = workspace.worktree("backend")
    listed = workspace.mcp_list(tree, "backend")
    assert listed.returncode == 0, listed.stderr
    line = next(ln for ln in listed.stdout.splitlines() if ln.startswith("coord:"))
    assert "coord-hook.sh mcp" in line and "Connected" in line, listed.stdout
    record = workspace.presence("backend")
    assert record is None or record["status"] == "inactive"  # a health check does not hold the role


def test_session_registers_sees_its_mail_and_ends_inactive(workspace: Workspace) -> None:
    tree = workspace.worktree("backend")
    with workspace.store() as store:
        store.publish("pm", "backend", "TASK_ASSIGNMENT", "build the /orders endpoint (token 7f3a9)")
    with ScriptedModel([Text("on it")]) as model:
        run = workspace.claude(tree, "start working", model, "backend")
    assert run.code == 0 and run.text == "on it", run.result
    session = run.session_id
    assert session

    seen = model.texts(model.main_requests[0])
    assert "coord: you are backend (startup) on agent/backend/active" in seen
    assert "coord: 1 message(s) pending (1 TASK_ASSIGNMENT)" in seen
    assert "coord mail for backend, 1 new:" in seen
    assert "TASK_ASSIGNMENT from pm, " in seen and "build the /orders endpoint (token 7f3a9)" in seen
    assert "# Coordination protocol (every role)" in seen  # the protocol is loaded too
    assert "Mail first, every turn" not in seen and "STATUS_UPDATE after every operation" not in seen  # not its rules

    kinds = [(e["type"], e["sender"]) for e in workspace.events() if session in e["body"]]
    assert kinds[:2] == [("SESSION_START", "backend"), ("HEARTBEAT", "backend")]
    assert kinds[-1] == ("SESSION_END", "backend")
    record = workspace.presence("backend")
    assert record is not None and record["session_id"] == session and record["status"] == "inactive"
    assert workspace.r.get(workspace.keys.alive("backend")) is None
    assert workspace.r.hlen(workspace.keys.pending("backend")) == 1  # seen is not handled: still pending


def test_tool_calls_of_the_real_client_reach_redis(workspace: Workspace) -> None:
    tree = workspace.worktree("backend")
    with workspace.store() as store:
        asked = store.publish("pm", "backend", "QUESTION", "which database?")
    question_id = asked.ids["backend"]

    def ack_what_check_returned(request: dict[str, Any]) -> ToolCall:
        pending = last_tool_json(request)
        return ToolCall(f"{TOOL}coord_ack_messages", {"ids": [m["id"] for m in pending["messages"]]})

    steps = [
        # a direct call by name: on CLIs that defer MCP schemas this skips ToolSearch (the CLI accepts it)
        ToolCall(f"{TOOL}coord_publish_message", {"to": "pm", "type": "STATUS_UPDATE", "body": "done: schema v2"},
                 search=False),
        ToolCall(f"{TOOL}coord_check_messages", {}),
        ack_what_check_returned,
        ToolCall(f"{TOOL}coord_get_presence", {}),
        Text("finished"),
    ]
    with ScriptedModel(steps) as model:
        run = workspace.claude(tree, "report and read mail", model, "backend")
    assert model.errors == [], (model.errors, [c.name for c in model.calls], model.tool_results(), run.stderr)
    assert run.code == 0 and run.text == "finished", run.result
    assert not run.result.get("permission_denials"), run.result
    used = {f"{TOOL}{name}" for name in ("coord_publish_message", "coord_check_messages", "coord_ack_messages",
                                         "coord_get_presence")}
    assert used <= model.offered_tools()  # reachable, wherever this CLI version lists them
    results = model.step_results()
    assert len(results) == 4 and not any(r.get("is_error") for r in results), model.tool_results()
    assert f"{TOOL}coord_publish_message" not in model.searched()

    (status,) = workspace.inbox("pm")
    assert (status["sender"], status["type"], status["body"]) == ("backend", "STATUS_UPDATE", "done: schema v2")
    assert workspace.r.hlen(workspace.keys.pending("pm")) == 1
    check = result_json(results[1])
    assert [m["id"] for m in check["messages"]] == [question_id]
    assert workspace.r.hlen(workspace.keys.pending("backend")) == 0  # acknowledged through the tool
    presence = result_json(results[3])
    mine = next(v for v in presence["roles"] if v["role"] == "backend")
    assert presence["you"] == "backend" and mine["status"] == "active" and mine["last_seen"].endswith(" ago")
    assert workspace.presence("backend")["session_id"] == run.session_id  # type: ignore[index]


def test_wrong_identity_gets_the_prompt_blocked(workspace: Workspace) -> None:
    tree = workspace.worktree("backend")
    with ScriptedModel([Text("should never be said")]) as model:
        run = workspace.claude(tree, "hello", model, "frontend")
    assert "blocked" in run.text and "belongs to backend" in run.text, run.result
    assert model.main_requests == []  # the model was never called
    assert workspace.presence("frontend") is None and workspace.presence("backend") is None


def test_role_held_by_a_live_session_gets_the_prompt_blocked(workspace: Workspace) -> None:
    tree = workspace.worktree("backend")
    with workspace.store() as store:
        store.register("backend", "the-other-session", str(tree))
    with ScriptedModel([Text("should never be said")]) as model:
        run = workspace.claude(tree, "hello", model, "backend")
    assert "blocked" in run.text and "held by another live session the-othe, last heartbeat" in run.text, run.result
    assert model.main_requests == []
    record = workspace.presence("backend")
    assert record is not None and record["session_id"] == "the-other-session" and record["status"] == "active"


def test_main_role_works_from_the_main_checkout(workspace: Workspace) -> None:
    with workspace.store() as store:
        store.publish("qa", "pm", "MERGE_READY", "agent/qa/active at abc123 is ready")
    with ScriptedModel([Text("noted")]) as model:
        run = workspace.claude(workspace.repo, "anything new?", model, "pm")
    assert run.code == 0 and run.text == "noted", run.result
    seen = model.texts(model.main_requests[0])
    assert "agent/qa/active at abc123 is ready" in seen and "MERGE_READY from qa" in seen
    assert "Mail first, every turn" in seen  # the main role's own rules, from its SessionStart
    assert workspace.presence("pm")["status"] == "inactive"  # type: ignore[index]


def test_done_when_a_fresh_clone_of_this_repository_gives_a_coordinated_agent(
    workspace: Workspace, tmp_path: Path
) -> None:
    """The issue's acceptance: `session.start backend` in a fresh clone of coord itself, then claude in
    the printed directory: registered, the coord tools present, and new mail on every turn."""
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(REPO_ROOT), str(clone)], check=True, capture_output=True, timeout=120)
    workspace.repo = clone  # the workspace's helpers now act on the clone (its committed coord files)
    workspace.trust(clone)
    tree = workspace.worktree("backend")
    with workspace.store() as store:
        store.publish("pm", "backend", "TASK_ASSIGNMENT", "first task: wire the radar")
    with ScriptedModel([Text("turn one")]) as model:
        first = workspace.claude(tree, "begin", model, "backend")
    assert first.code == 0 and first.text == "turn one", first.result
    assert {f"{TOOL}{name}" for name in TOOL_NAMES} <= model.offered_tools()
    assert "first task: wire the radar" in model.texts(model.main_requests[0])

    with workspace.store() as store:
        store.publish("qa", "backend", "QUESTION", "second turn question")
    with ScriptedModel([Text("turn two")]) as model:
        second = workspace.claude(tree, "continue", model, "backend", "--resume", first.session_id)
    assert second.code == 0 and second.text == "turn two", second.result
    latest = model.texts(model.main_requests[-1])
    assert "second turn question" in latest
    assert latest.count("first task: wire the radar") <= 1  # the old mail is not re-announced as new
    assert "coord mail for backend, 1 new:" in latest
    record = workspace.presence("backend")
    assert record is not None and record["status"] == "inactive"


def test_a_shell_without_coord_on_path_still_gets_hooks_and_tools(workspace: Workspace) -> None:
    """The launcher runs the coord-hook `coord init` recorded in the git directory (and `coord mcp` beside
    it), so neither the hooks nor the MCP server need coord on the session's PATH."""
    tree = workspace.worktree("backend")
    with workspace.store() as store:
        store.publish("pm", "backend", "QUESTION", "no PATH needed? (token 51c2)")
    path = os.pathsep.join(d for d in os.environ.get("PATH", "").split(os.pathsep)
                           if d and not (Path(d) / "coord-hook").exists() and not (Path(d) / "coord").exists())
    steps = [ToolCall(f"{TOOL}coord_get_presence", {}), Text("done")]
    with ScriptedModel(steps) as model:
        run = workspace.claude(tree, "who is here?", model, "backend", env={"PATH": path})
    assert model.errors == [] and run.code == 0 and run.text == "done", (run.result, run.stderr)
    assert "no PATH needed? (token 51c2)" in model.texts(model.main_requests[0])  # the prompt hook ran
    (result,) = model.step_results()
    assert not result.get("is_error") and result_json(result)["you"] == "backend", result  # the tools are there
