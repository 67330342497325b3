"""The team loop with the real Claude Code CLI: mail between tool calls, at Stop, and activity.

Another role's mail is published from inside the scripted model (a callable step runs while the
CLI waits for the model's answer), so it arrives exactly between two tool calls of one turn, or
after the turn's last tool call. The model's requests are what the agent saw.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import git
from tests.e2e.conftest import Workspace
from tests.e2e.model import ScriptedModel, Text, ToolCall

pytestmark = pytest.mark.e2e

TRANSPORTS = ["mcp_tool", "command"]


def use_transport(workspace: Workspace, transport: str, **settings: object) -> None:
    """coord.toml with the hook transport (and any other settings), re-rendered and committed."""
    lines = [f'hook_transport = "{transport}"', *(f"{k} = {v!r}" for k, v in settings.items())]
    (workspace.repo / "coord.toml").write_text("\n".join(lines) + "\n")
    done = workspace.coord(workspace.repo, "init")
    assert done.returncode == 0, done.stderr
    git(workspace.repo, "add", "-A")
    git(workspace.repo, "commit", "-q", "-m", f"coord: {transport} hooks")
    import json

    rendered = json.loads((workspace.repo / ".claude" / "settings.json").read_text())
    kinds = {h["type"] for event in ("PostToolUse", "Stop") for g in rendered["hooks"][event] for h in g["hooks"]}
    assert kinds == {transport}


def read(path: Path) -> ToolCall:
    return ToolCall("Read", {"file_path": str(path)})


def publishing(workspace: Workspace, sender: str, kind: str, body: str, then: ToolCall | Text) -> Callable[..., Any]:
    """A step that first delivers a message from another role (as if it arrived now), then answers."""

    def step(_request: dict[str, Any]) -> ToolCall | Text:
        with workspace.store() as store:
            store.publish(sender, "backend", kind, body)
        return then

    return step


def token() -> str:
    return f"tok-{secrets.token_hex(4)}"


def shown_once(model: ScriptedModel, tok: str) -> int:
    """The request that first showed tok; fails if any later request shows it more often (a second
    delivery). Counted per request because the CLI itself may echo one hook output twice (2.1.332
    repeats a Stop reason as a user message and as a system note) and keeps history in every request."""
    counts = [model.texts(r).count(tok) for r in model.main_requests]
    first = next((i for i, n in enumerate(counts) if n), None)
    assert first is not None, f"{tok} never shown"
    assert all(n == counts[first] for n in counts[first:]), (tok, counts)
    return first


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_mail_arriving_mid_turn_reaches_the_next_request_of_that_turn(workspace: Workspace, transport: str) -> None:
    use_transport(workspace, transport)
    tree = workspace.worktree("backend")
    blocker = token()
    steps = [read(tree / "README.md"),
             publishing(workspace, "qa", "BLOCKER", f"tests are red on main ({blocker})", read(tree / "README.md")),
             Text("done")]
    with ScriptedModel(steps) as model:
        run = workspace.claude(tree, "work", model, "backend")
    assert run.code == 0 and run.text == "done", run.result
    assert not model.errors, model.errors
    before = model.texts(model.request_after(0))
    after = model.texts(model.request_after(1))
    assert blocker not in before
    assert blocker in after and "from qa, BLOCKER" in after
    assert shown_once(model, blocker) == model.main_requests.index(model.request_after(1))
    record = workspace.presence("backend")
    assert record is not None and record["activity"] == "idle" and record["activity_event"] == "Stop"


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_actionable_mail_after_the_last_tool_call_keeps_the_session_going(workspace: Workspace,
                                                                           transport: str) -> None:
    use_transport(workspace, transport)
    tree = workspace.worktree("backend")
    task = token()
    steps = [read(tree / "README.md"),
             publishing(workspace, "pm", "TASK_ASSIGNMENT", f"also add /health ({task})", Text("first answer")),
             Text("handled it")]
    with ScriptedModel(steps) as model:
        run = workspace.claude(tree, "work", model, "backend")
    assert run.code == 0, run.result
    assert not model.errors, model.errors
    assert run.text == "handled it", run.result
    last = model.texts(model.main_requests[-1])
    assert task in last and "from pm, TASK_ASSIGNMENT" in last
    assert shown_once(model, task) == len(model.main_requests) - 1


def test_info_alone_does_not_keep_a_session_going(workspace: Workspace) -> None:
    tree = workspace.worktree("backend")
    note = token()
    steps = [read(tree / "README.md"), publishing(workspace, "qa", "INFO", f"fyi ({note})", Text("finished"))]
    with ScriptedModel(steps) as model:
        run = workspace.claude(tree, "work", model, "backend")
    assert run.code == 0 and run.text == "finished", run.result
    assert len(model.main_requests) == 2
    assert note not in model.all_main_text()
    # not shown, so still unseen: the next prompt (or tool call) shows it
    assert workspace.r.get(workspace.keys.seen("backend")) is None


def test_a_spamming_role_keeps_a_session_going_at_most_keep_going_max_times(workspace: Workspace) -> None:
    use_transport(workspace, "mcp_tool", keep_going_max=2)
    tree = workspace.worktree("backend")
    steps = [publishing(workspace, "qa", "QUESTION", f"question {i} ({token()})", Text(f"answer {i}"))
             for i in range(6)]
    with ScriptedModel(steps) as model:
        run = workspace.claude(tree, "work", model, "backend")
    assert run.code == 0, run.result
    # the first answer, then two continuations; the third stop is let through
    assert len(model.main_requests) == 3, [model.texts(r)[-300:] for r in model.main_requests]
    assert run.text == "answer 2", run.result
    assert int(workspace.r.hlen(workspace.keys.pending("backend"))) == 3


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_nothing_is_shown_twice_across_prompt_tool_and_stop_hooks(workspace: Workspace, transport: str) -> None:
    use_transport(workspace, transport)
    tree = workspace.worktree("backend")
    first, second, third = token(), token(), token()
    with workspace.store() as store:
        store.publish("pm", "backend", "TASK_ASSIGNMENT", f"before the prompt ({first})")
    steps = [read(tree / "README.md"),
             publishing(workspace, "qa", "QUESTION", f"during the turn ({second})", read(tree / "README.md")),
             publishing(workspace, "pm", "REVIEW_REQUEST", f"at the end ({third})", Text("stopping")),
             Text("all handled")]
    with ScriptedModel(steps) as model:
        run = workspace.claude(tree, "work", model, "backend")
    assert run.code == 0 and run.text == "all handled", run.result
    assert not model.errors, model.errors
    at = {tok: shown_once(model, tok) for tok in (first, second, third)}
    assert at[first] == 0  # the prompt hook
    assert at[second] == model.main_requests.index(model.request_after(1))  # the tool-call hook
    assert at[third] == len(model.main_requests) - 1  # the Stop hook
    assert int(workspace.r.hlen(workspace.keys.pending("backend"))) == 3  # shown is not handled
