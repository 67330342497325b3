"""One team, three agent CLIs: Claude Code as backend, Codex CLI as qa, Gemini CLI as docs, each the
real CLI in its own worktree against its own scripted model, one Valkey between them. backend
assigns work to qa and docs; each sees the assignment at its next turn (its prompt hook), answers
with a STATUS_UPDATE through coord's MCP tool, and backend sees both answers at its next turn. The
senders are the roles the sessions were started as: no tool takes a sender."""

from __future__ import annotations

import pytest

from tests.e2e import clis
from tests.e2e.clis import Agents
from tests.e2e.codex_model import CodexModel
from tests.e2e.gemini_model import GeminiModel
from tests.e2e.model import ScriptedModel, Text, ToolCall

pytestmark = [pytest.mark.e2e, pytest.mark.clis]

agents = clis.agents
codex_bin = clis.codex_bin
gemini_bin = clis.gemini_bin

CLAUDE_PUBLISH = "mcp__coord__coord_publish_message"


def publish(to: str, kind: str, body: str, claude: bool = False) -> ToolCall:
    return ToolCall(CLAUDE_PUBLISH if claude else "coord_publish_message", {"to": to, "type": kind, "body": body})


def test_claude_codex_and_gemini_exchange_an_assignment_round(agents: Agents) -> None:
    ws = agents.ws
    backend = ws.worktree("backend")  # Claude Code, trusted in its throwaway HOME
    qa, docs = agents.worktree("qa"), agents.worktree("docs")

    assign = [publish("qa", "TASK_ASSIGNMENT", "test the /orders endpoint (token t-qa-41)", claude=True),
              publish("docs", "TASK_ASSIGNMENT", "document the /orders endpoint (token t-docs-42)", claude=True),
              Text("assigned")]
    with ScriptedModel(assign) as model:
        run = ws.claude(backend, "hand out the /orders work", model, "backend")
    assert run.code == 0 and run.text == "assigned", (run.result, run.stderr)
    assert model.errors == [], model.errors
    assert not any(r.get("is_error") for r in model.step_results()), model.step_results()

    with CodexModel([publish("backend", "STATUS_UPDATE", "qa: /orders tests pass (token s-qa-43)"),
                     Text("reported")]) as codex_model:
        done = agents.codex(qa, "check your mail and report", codex_model, "qa")
    assert done.code == 0 and "reported" in done.stdout, done.stdout + done.stderr
    assert codex_model.errors == [], codex_model.errors
    assert "t-qa-41" in codex_model.all_main_text() and "t-docs-42" not in codex_model.all_main_text()

    with GeminiModel([publish("backend", "STATUS_UPDATE", "docs: /orders documented (token s-docs-44)"),
                      Text("reported")]) as gemini_model:
        done = agents.gemini(docs, "check your mail and report", gemini_model, "docs")
    assert done.code == 0 and "reported" in done.stdout, done.stdout + done.stderr
    assert gemini_model.errors == [], gemini_model.errors
    assert "t-docs-42" in gemini_model.all_main_text() and "t-qa-41" not in gemini_model.all_main_text()

    with ScriptedModel([Text("both reported")]) as model:
        run = ws.claude(backend, "any news?", model, "backend")
    assert run.code == 0, (run.result, run.stderr)
    shown = model.all_main_text()
    assert "s-qa-43" in shown and "s-docs-44" in shown, shown[-3000:]

    updates = {m["sender"]: m for m in ws.inbox("backend") if m.get("type") == "STATUS_UPDATE"}
    assert set(updates) == {"qa", "docs"}, updates  # senders fixed by each session's identity
    assignments = [m for r in ("qa", "docs") for m in ws.inbox(r) if m.get("type") == "TASK_ASSIGNMENT"]
    assert {m["sender"] for m in assignments} == {"backend"} and len(assignments) == 2, assignments
