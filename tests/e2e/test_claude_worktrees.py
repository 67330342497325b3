"""Claude Code's own worktrees go through coord: `claude --worktree NAME -p` and a subagent with
`isolation: "worktree"` run the committed WorktreeCreate hook, so the worktree is a coord one (folder,
branch, identity, presence); removal runs the committed WorktreeRemove hook and keeps uncommitted work.

WorktreeRemove: neither 2.1.197 nor 2.1.332 fires it when a `-p` session ends, nor for a subagent's
worktree in `-p`; the interactive CLI fires it when the user picks "Remove worktree" on exit (seen on
2.1.332 in tmux, payload {session_id, transcript_path, cwd, prompt_id, hook_event_name, worktree_path}).
The removal test therefore runs the rendered hook script exactly as the CLI does: that payload on stdin,
in the worktree, with CLAUDE_PROJECT_DIR set.
"""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest

from coord import adhoc
from coord.errors import ConfirmationRequiredError
from tests.conftest import git
from tests.e2e.conftest import Workspace
from tests.e2e.model import ScriptedModel, Text, ToolCall
from tests.e2e.test_claude_code import TOOL, result_json

pytestmark = pytest.mark.e2e


def test_claude_worktree_name_becomes_a_coord_agent_and_removal_keeps_work(workspace: Workspace) -> None:
    steps = [ToolCall(f"{TOOL}coord_get_presence", {}), Text("in feat1")]
    with ScriptedModel(steps) as model:
        run = workspace.claude(workspace.repo, "who am I?", model, None, "--worktree", "feat1")
    assert model.errors == [], model.errors
    assert run.code == 0 and run.text == "in feat1", (run.result, run.stderr)
    tree = workspace.repo.resolve() / ".worktrees" / "feat1"
    assert git(tree, "branch", "--show-current").stdout.strip() == "agent/feat1/active"
    assert git(tree, "config", "user.email").stdout.strip() == "feat1@coord.invalid"
    assert adhoc.read(workspace.repo) == ("feat1",)
    seen = model.texts(model.main_requests[0])
    assert "coord: you are feat1 (startup) on agent/feat1/active" in seen
    (presence,) = model.step_results()
    view = result_json(presence)
    mine = next(v for v in view["roles"] if v["role"] == "feat1")
    assert view["you"] == "feat1" and mine["status"] == "active"
    record = workspace.presence("feat1")
    assert record is not None and record["status"] == "inactive" and record["session_id"] == run.session_id

    (tree / "draft.py").write_text("work in progress\n")
    payload: dict[str, Any] = {
        "session_id": run.session_id, "transcript_path": str(workspace.home / "t.jsonl"), "cwd": str(tree),
        "prompt_id": "p-1", "hook_event_name": "WorktreeRemove", "worktree_path": str(tree),
    }
    env = {**workspace.base_env(), "CLAUDE_PROJECT_DIR": str(tree)}
    launcher = str(tree / ".claude" / "hooks" / "coord-hook.sh")
    kept = subprocess.run([launcher, "worktree-remove"], input=json.dumps(payload),
                          cwd=tree, env=env, capture_output=True, text=True, timeout=120)
    assert kept.returncode == ConfirmationRequiredError.exit_code, kept.stderr
    assert "uncommitted changes" in kept.stderr and "coord agent.teardown feat1 --abandon" in kept.stderr
    assert (tree / "draft.py").read_text() == "work in progress\n" and adhoc.read(workspace.repo) == ("feat1",)


def test_subagent_worktree_isolation_gets_a_coord_worktree(workspace: Workspace) -> None:
    steps = [
        ToolCall("Agent", {"description": "isolated probe", "prompt": "say done", "isolation": "worktree",
                           "run_in_background": False}),
        Text("sub done"),  # the subagent's own turn
        Text("main done"),
    ]
    with ScriptedModel(steps) as model:
        run = workspace.claude(workspace.repo, "delegate", model, "pm", "--allowedTools", "Agent")
    assert model.errors == [], model.errors
    assert run.code == 0 and run.text == "main done", (run.result, run.stderr)
    (names,) = [adhoc.read(workspace.repo)]
    assert len(names) == 1 and names[0].startswith("agent-"), names
    tree = workspace.repo.resolve() / ".worktrees" / names[0]
    assert git(tree, "branch", "--show-current").stdout.strip() == f"agent/{names[0]}/active"
    assert git(tree, "config", "user.email").stdout.strip() == f"{names[0]}@coord.invalid"
    (result,) = model.step_results()
    assert f"worktreePath: {tree}" in str(result["content"]), result
