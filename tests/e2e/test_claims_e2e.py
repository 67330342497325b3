"""File claims with the real Claude Code CLI: the committed PreToolUse hook denies an Edit of a file
another live role has claimed, and the denial (holder and reason) reaches the model in the next
request's tool_result; an Edit of an unclaimed file in the same session goes through."""

from __future__ import annotations

import pytest

from coord import claim_store
from tests.conftest import git
from tests.e2e.conftest import Workspace
from tests.e2e.model import ScriptedModel, Text, ToolCall

pytestmark = pytest.mark.e2e


def _text(block: dict) -> str:
    inner = block.get("content")
    if isinstance(inner, str):
        return inner
    return "".join(b.get("text", "") for b in inner or [] if isinstance(b, dict))


def test_edit_of_a_claimed_file_is_denied_with_the_holder(workspace: Workspace) -> None:
    (workspace.repo / "src").mkdir()
    (workspace.repo / "src" / "settings.py").write_text("theme = 'light'\n")
    (workspace.repo / "notes.py").write_text("todo = 1\n")
    git(workspace.repo, "add", "src/settings.py", "notes.py")
    git(workspace.repo, "commit", "-q", "-m", "files to edit")
    tree = workspace.worktree("backend")
    with workspace.store() as store:
        store.register("frontend", "frontend-session", str(workspace.repo / ".worktrees" / "frontend"))
        claim_store.claim(store, "frontend", ["src/**"], "dark mode for the settings page", 900)

    claimed, free = tree / "src" / "settings.py", tree / "notes.py"
    steps = [
        ToolCall("Read", {"file_path": str(claimed)}),
        ToolCall("Edit", {"file_path": str(claimed), "old_string": "theme = 'light'", "new_string": "theme = 'x'"}),
        ToolCall("Read", {"file_path": str(free)}),
        ToolCall("Edit", {"file_path": str(free), "old_string": "todo = 1", "new_string": "todo = 2"}),
        Text("done"),
    ]
    with ScriptedModel(steps) as model:
        run = workspace.claude(tree, "change the theme", model, "backend", "--allowedTools", "Read,Edit")
    assert run.code == 0 and run.text == "done", (run.result, run.stderr)

    results = model.step_results()
    assert len(results) == 4, results
    denied = _text(results[1])
    assert results[1].get("is_error") is True, results[1]
    assert "frontend" in denied and "dark mode for the settings page" in denied and "src/settings.py" in denied
    # the denial was in the request right after the Edit, i.e. the model saw it before its next step
    assert "dark mode for the settings page" in model.texts(model.request_after(1))
    assert claimed.read_text() == "theme = 'light'\n"  # not edited

    assert not results[3].get("is_error"), results[3]
    assert free.read_text() == "todo = 2\n"  # an unclaimed file is edited normally
