"""Issue 15's budgets, measured in the requests the real Claude Code CLI sends (tests/e2e/budget.py):
coord's fixed text per session, its tool definitions, and the per-prompt mail text. Each test prints
its figures (`pytest -s`), and fails when a budget is exceeded."""

from __future__ import annotations

from typing import Any

import pytest

from coord.catalog.claude import TOOL_NAMES
from coord.messages import LIFECYCLE_TYPES, MessageType
from tests.e2e import budget
from tests.e2e.conftest import Workspace
from tests.e2e.model import TOOL_SEARCH, ScriptedModel, Text, ToolCall, is_deferred

pytestmark = pytest.mark.e2e

WORKTREE_BUDGET = 6000
MAIN_BUDGET = 8000
TOOLS_BUDGET = 2500
ONE_MESSAGE_BUDGET = 300
TOOL = budget.TOOL_PREFIX


def first_request(workspace: Workspace, role: str) -> dict[str, Any]:
    """The first request of a session of `role` with nothing pending."""
    cwd = workspace.repo if role == "pm" else workspace.worktree(role)
    with ScriptedModel([Text("ok")]) as model:
        run = workspace.claude(cwd, "hello", model, role)
    assert run.code == 0 and run.text == "ok", run.result
    return model.main_requests[0]


@pytest.mark.parametrize(("role", "limit"), [("backend", WORKTREE_BUDGET), ("orchestrator", WORKTREE_BUDGET),
                                             ("pm", MAIN_BUDGET)])
def test_fixed_coord_text_per_session(workspace: Workspace, role: str, limit: int) -> None:
    request = first_request(workspace, role)
    fixed = budget.fixed_text(request)
    print(f"\n{role}: {fixed.line()}")
    files = set(fixed.memory)
    assert {"CLAUDE.md", "coordination-protocol.md"} <= files, fixed.line()  # the protocol, for everyone
    assert not {"pm-cli.md", "orchestrator.md"} & files, fixed.line()  # role rules are not memory files
    context = budget.hook_context(request)
    assert context.startswith(f"coord: you are {role}"), context[:300]
    own = {"pm": "Mail first, every turn", "orchestrator": "STATUS_UPDATE after every operation"}
    for other, heading in own.items():  # each role's rules reach that role and nobody else
        assert (heading in context) == (other == role), (role, context[:500])
    assert budget.server_instructions(request), "the coord MCP server's instructions were not sent"
    assert fixed.total <= limit, f"{role}: {fixed.line()} (budget {limit})"


def test_a_resume_carries_the_role_rules_once(workspace: Workspace) -> None:
    """A resumed conversation replays its first SessionStart context: the rules are not added again."""
    with ScriptedModel([Text("one")]) as model:
        first = workspace.claude(workspace.repo, "hello", model, "pm")
    with ScriptedModel([Text("two")]) as model:
        again = workspace.claude(workspace.repo, "again", model, "pm", "--resume", first.session_id)
    assert (first.code, again.code, again.text) == (0, 0, "two"), again.result
    seen = model.texts(model.main_requests[-1])
    assert seen.count("Mail first, every turn") == 1 and "coord: you are pm (resume)" in seen


def test_tool_definitions_as_sent(workspace: Workspace) -> None:
    """All coord tool definitions, loaded through ToolSearch where the CLI defers them."""
    tree = workspace.worktree("backend")
    names = [f"{TOOL}{name}" for name in TOOL_NAMES]

    def load_all(request: dict[str, Any]) -> ToolCall | Text:
        if is_deferred(request, names[0]):
            return ToolCall(TOOL_SEARCH, {"query": "select:" + ",".join(names)}, search=False)
        return Text("all loaded")

    with ScriptedModel([load_all, Text("done")]) as model:
        run = workspace.claude(tree, "load the coord tools", model, "backend")
    assert run.code == 0, run.result
    sent = budget.tool_definitions(model.main_requests[-1])
    assert set(sent) == set(names), sorted(sent)
    total = sum(len(text) for text in sent.values())
    print(f"\ncoord tool definitions: {len(sent)} tools, {total} chars")
    schemas = "".join(sent.values())
    assert '"title"' not in schemas and (MessageType.__doc__ or "").split(".")[0] not in schemas
    publish = sent[f"{TOOL}coord_publish_message"]
    assert not any(f'"{kind.value}"' in publish for kind in LIFECYCLE_TYPES), publish
    assert '"TASK_ASSIGNMENT"' in publish
    assert total <= TOOLS_BUDGET, f"{total} chars: " + ", ".join(f"{n} {len(t)}" for n, t in sent.items())


def test_one_short_message_per_prompt(workspace: Workspace) -> None:
    tree = workspace.worktree("backend")
    with workspace.store() as store:
        store.publish("pm", "backend", "QUESTION", "which port does the API use?")
    with ScriptedModel([Text("ok")]) as model:
        run = workspace.claude(tree, "go on", model, "backend")
    assert run.code == 0, run.result
    mail = budget.prompt_context(model.main_requests[0])
    print(f"\nper-prompt mail, one short message: {len(mail)} chars")
    assert "which port does the API use?" in mail and "QUESTION" in mail, mail
    assert len(mail) <= ONE_MESSAGE_BUDGET, mail


def test_lifecycle_types_are_refused_to_agents(workspace: Workspace) -> None:
    tree = workspace.worktree("backend")
    steps = [ToolCall(f"{TOOL}coord_publish_message", {"to": "pm", "type": "SESSION_END", "body": "bye"},
                      search=False), Text("done")]
    with ScriptedModel(steps) as model:
        run = workspace.claude(tree, "try it", model, "backend")
    assert run.code == 0, run.result
    (result,) = model.step_results()
    assert result.get("is_error"), result
    assert not [e for e in workspace.events() if e["type"] == "SESSION_END" and e["body"] == "bye"]
