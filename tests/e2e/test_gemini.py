"""coord with the real Gemini CLI (`gemini -p`): the committed .gemini/settings.json (coord's MCP
server and hooks, timeouts in milliseconds) in a trusted workspace, against the scripted Gemini API."""

from __future__ import annotations

import json

import pytest

from coord import claim_store
from tests.conftest import git
from tests.e2e import clis
from tests.e2e.clis import Agents
from tests.e2e.gemini_model import GeminiModel
from tests.e2e.model import Text, ToolCall

pytestmark = [pytest.mark.e2e, pytest.mark.clis]

agents = clis.agents
codex_bin = clis.codex_bin
gemini_bin = clis.gemini_bin


def tool_json(output: str) -> dict:
    """The JSON a coord tool returned, from the functionResponse Gemini CLI sent back (its text is
    wrapped, e.g. in an <untrusted_context> element, inside the response's output)."""
    text = json.dumps(json.loads(output))  # one string, escapes and all
    inner = json.loads(output)
    body = inner.get("output") if isinstance(inner, dict) else None
    if isinstance(body, str) and "{" in body:
        return dict(json.loads(body[body.find("{"):body.rfind("}") + 1]))
    raise AssertionError(f"no JSON in the tool's response: {text[:500]!r}")


def test_tools_listed_callable_and_presence_ends_inactive(agents: Agents) -> None:
    ws = agents.ws
    tree = agents.worktree("docs")
    role = "docs"
    with GeminiModel([ToolCall("coord_get_presence"), Text("all checked")]) as model:
        run = agents.gemini(tree, "who is working?", model, role)
    assert run.code == 0 and "all checked" in run.stdout, run.stdout + run.stderr
    assert model.errors == [], model.errors
    seen = tool_json(model.outputs()[-1])
    assert seen["you"] == role, seen
    mine = next(r for r in seen["roles"] if r["role"] == role)
    assert mine["status"] == "active"  # registered by the SessionStart hook before the model ran
    record = ws.presence(role)
    assert record is not None and record["status"] == "inactive", record  # SessionEnd hook
    kinds = [e.get("type") for e in ws.events() if e.get("sender") == role]
    assert "SESSION_START" in kinds and "SESSION_END" in kinds, kinds


def test_wrong_identity_is_refused_before_the_model_is_called(agents: Agents) -> None:
    tree = agents.worktree("docs")
    with GeminiModel([Text("should never be asked")]) as model:
        run = agents.gemini(tree, "do something", model, "backend")  # backend's identity in docs' worktree
    assert model.main_requests == [], "the model was called although the identity is wrong"
    said = run.stdout + run.stderr
    assert "COORD_ROLE=backend" in said and "docs" in said, said


def test_message_from_a_claude_role_is_shown_at_the_next_turn(agents: Agents) -> None:
    tree = agents.worktree("docs")
    with agents.ws.store() as store:
        store.publish("backend", "docs", "TASK_ASSIGNMENT", "document the /orders endpoint (token g3m1n)")
    with GeminiModel([Text("writing")]) as model:
        run = agents.gemini(tree, "next task", model, "docs")
    assert run.code == 0, run.stdout + run.stderr
    shown = model.all_main_text()
    assert "token g3m1n" in shown and "from backend" in shown and "TASK_ASSIGNMENT" in shown


def test_edit_of_a_claimed_file_is_denied_naming_the_holder(agents: Agents) -> None:
    ws = agents.ws
    (ws.repo / "docs").mkdir()
    (ws.repo / "docs" / "api.md").write_text("# API\n")
    git(ws.repo, "add", "docs/api.md")
    git(ws.repo, "commit", "-q", "-m", "docs")
    tree = agents.worktree("docs")
    with ws.store() as store:
        store.register("backend", "backend-session", str(ws.repo / ".worktrees" / "backend"))
        claim_store.claim(store, "backend", ["docs/**"], "regenerating the API reference", 900)
    claimed, free = tree / "docs" / "api.md", tree / "notes.md"
    steps = [ToolCall("write_file", {"file_path": str(claimed), "content": "# mine\n"}),
             ToolCall("write_file", {"file_path": str(free), "content": "docs notes\n"}),
             Text("done")]
    with GeminiModel(steps) as model:
        run = agents.gemini(tree, "update the docs", model, "docs")
    assert run.code == 0, run.stdout + run.stderr
    denied = model.outputs()[0]
    assert "backend" in denied and "regenerating the API reference" in denied and "docs/api.md" in denied, denied
    assert claimed.read_text() == "# API\n"  # not edited
    assert free.read_text() == "docs notes\n"  # an unclaimed file is written normally


def test_mail_that_arrives_mid_turn_is_shown_after_the_next_tool_call(agents: Agents) -> None:
    """A message sent while the agent works reaches it after its next tool call (AfterTool)."""
    ws = agents.ws
    tree = agents.worktree("docs")

    def send_then_work(_body: dict) -> ToolCall:
        with ws.store() as store:
            store.publish("backend", "docs", "QUESTION", "is /orders documented? (token mid-turn-88)")
        return ToolCall("coord_get_presence")

    with GeminiModel([send_then_work, Text("answered")]) as model:
        run = agents.gemini(tree, "keep writing", model, "docs")
    assert run.code == 0 and "answered" in run.stdout, run.stdout + run.stderr
    assert model.errors == [], model.errors
    assert "mid-turn-88" not in model.texts(model.main_requests[0])
    assert "mid-turn-88" in model.texts(model.main_requests[1]), "not delivered right after the tool call"
