"""A team day, end to end (issue 13's "Done when"): pm, backend and qa started by `coord team.up`
as REAL interactive Claude Code CLIs in tmux (tests/e2e/team.py), each on its own scripted model.

1. pm assigns backend a task while backend sits idle at its prompt; nobody touches backend's
   terminal: coord's idle waker types its wake-up line and backend's model gets the task.
2. During that turn (between two of backend's tool calls) qa sends backend a BLOCKER through qa's
   own CLI; backend's very next model request shows it.
3. backend commits and tells pm MERGE_READY; pm, idle, is woken by it, and merges with
   `coord agent.merge backend` through its Bash tool; backend, qa and pm each get the right notice
   (pm's in its next request, between tool calls).

Only the models are scripted. Where a step's callable acts (typing into qa's pane, committing in
backend's worktree) it does what that role's model would have asked its CLI to do, while the CLI
waits for the model's answer: that is how a message lands mid-turn, deterministically.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ValkeyProcess, git
from tests.e2e.model import Step, Text, ToolCall
from tests.e2e.team import Team

pytestmark = pytest.mark.e2e

ROLES = ("pm", "backend", "qa")
PUBLISH = "mcp__coord__coord_publish_message"
WAKE_AFTER = 3  # seconds idle before the waker types (the setting's default is 20)


def publish(to: str, kind: str, body: str) -> ToolCall:
    return ToolCall(PUBLISH, {"to": to, "type": kind, "body": body})


def test_a_team_day_with_the_real_cli(tmp_path: Path, claude_bin: str, valkey: ValkeyProcess, namespace: str) -> None:
    task, blocker, ready = (f"tok-{secrets.token_hex(4)}" for _ in range(3))
    seen: dict[str, str] = {}  # what the models were shown at the moments that matter
    team: Team

    def woken_with_task(request: dict[str, Any]) -> ToolCall | Text:
        """backend's first request of the woken turn. While its CLI waits for this answer, qa sends
        the BLOCKER through qa's own CLI; then backend goes on with a tool call."""
        seen["wake"] = team.text_of("backend", request)
        team.prompt("qa", "main is red; tell backend to hold its merge")
        team.wait(lambda: any(m.get("type") == "BLOCKER" for m in team.inbox("backend")), "qa's BLOCKER in Redis")
        return ToolCall("Read", {"file_path": str(team.workdir("backend") / "README.md")})

    def after_blocker(request: dict[str, Any]) -> ToolCall | Text:
        """backend's very next request; then its work is committed and it tells pm it is ready."""
        seen["next"] = team.text_of("backend", request)
        tree = team.workdir("backend")
        (tree / "health.py").write_text("def health():\n    return 'ok'\n")
        git(tree, "add", "health.py")
        git(tree, "commit", "-q", "-m", "health endpoint")
        return publish("pm", "MERGE_READY", f"health endpoint committed, tests green ({ready})")

    def pm_woken(request: dict[str, Any]) -> ToolCall | Text:
        seen["pm_wake"] = team.text_of("pm", request)
        return ToolCall("Bash", {"command": "coord agent.merge backend", "description": "merge backend's branch"})

    def pm_after_merge(request: dict[str, Any]) -> ToolCall | Text:
        seen["pm_next"] = team.text_of("pm", request)
        return Text("merged backend")

    scripts: dict[str, list[Step]] = {
        "backend": [Text("ready when you are"), woken_with_task, after_blocker, Text("handed over to pm")],
        "qa": [publish("backend", "BLOCKER", f"main is red, hold your merge ({blocker})"), Text("told backend")],
        "pm": [publish("backend", "TASK_ASSIGNMENT", f"add a /health endpoint ({task})"), Text("assigned"),
               pm_woken, pm_after_merge],
    }
    settings = {"COORD_WAKE_AFTER_SECONDS": str(WAKE_AFTER)}
    with Team(tmp_path, claude_bin, valkey, namespace, scripts, roles=ROLES, settings=settings,
              allow=["Bash(coord agent.merge:*)"]) as team:
        team.up()
        for role in ROLES:
            team.wait_ready(role)
        # backend finishes a first turn and waits at its prompt (its Stop hook: activity idle)
        team.prompt("backend", "get ready for today's work")
        team.wait(lambda: (team.presence("backend") or {}).get("activity") == "idle", "backend to be idle",
                  role="backend")
        backend_requests = len(team.requests("backend"))

        # 1. pm assigns; backend's terminal is not touched again by the test
        team.prompt("pm", "assign the /health endpoint to backend")
        index, _woken = team.wait_request("backend", lambda r: task in team.text_of("backend", r),
                                          "the task, woken without a keystroke", after=backend_requests)
        assert index == backend_requests  # the first request after the idle prompt: the wake-up turn
        assert "coord: 1 new TASK_ASSIGNMENT from pm; read your mail and act on it" in seen["wake"]
        assert "TASK_ASSIGNMENT from pm" in seen["wake"] and task in seen["wake"]

        # 2. the BLOCKER sent mid-turn is in backend's very next request
        team.wait(lambda: "next" in seen, "backend's request after the BLOCKER", role="backend")
        assert blocker in seen["next"] and "BLOCKER from qa" in seen["next"]
        assert blocker not in seen["wake"]

        # 3. MERGE_READY wakes pm, pm merges through its Bash tool, everyone is told
        team.wait(lambda: "pm_next" in seen, "pm's merge turn", timeout=300, role="pm")
        assert "coord: 1 new MERGE_READY from backend" in seen["pm_wake"] and ready in seen["pm_wake"]
        merged = git(team.repo, "merge-base", "--is-ancestor", "agent/backend/active", "main", check=False)
        assert merged.returncode == 0, "backend's branch is in main"
        told_backend = [m["body"] for m in team.inbox("backend") if m.get("type") == "INFO"]
        told_qa = [m["body"] for m in team.inbox("qa") if m.get("type") == "INFO"]
        told_pm = [m["body"] for m in team.inbox("pm") if m.get("type") == "INFO"]
        assert any("your branch agent/backend/active was merged into main" in b for b in told_backend), told_backend
        assert any("main moved 1 commit (backend's branch merged" in b for b in told_qa), told_qa
        assert any("Acknowledged 1 MERGE_READY from backend" in b for b in told_pm), told_pm
        assert "Acknowledged 1 MERGE_READY from backend" in seen["pm_next"]  # shown between pm's tool calls
        assert not any(m.get("type") == "MERGE_READY" for m in team.pending("pm"))
        for role in ROLES:
            assert not team.models[role].errors, (role, team.models[role].errors)
        team.down()
        for role in ROLES:
            assert team.status(role) == "inactive"

