"""`coord team.up` / `coord team.down` with the real interactive Claude Code CLI in a private tmux
server (tests/e2e/team.py): every window in its directory with its identity, presence active, a
rerun starts nothing new, team.down ends each agent so its own SessionEnd hook marks it inactive,
and worktrees, branches and uncommitted files stay."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ValkeyProcess, git
from tests.e2e.model import Step, Text, ToolCall
from tests.e2e.team import Team, descendants

pytestmark = pytest.mark.e2e

ROLES = ("pm", "backend", "qa")


def environ_of(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    return dict(item.split("=", 1) for item in raw.decode(errors="replace").split("\0") if "=" in item)


def result_json(block: dict[str, Any]) -> dict[str, Any]:
    """The JSON one tool_result block carries."""
    inner = block.get("content")
    text = inner if isinstance(inner, str) else "".join(b.get("text", "") for b in inner or [] if isinstance(b, dict))
    return dict(json.loads(text))


def cli_pid(team: Team, role: str) -> int:
    """The Claude Code process in role's pane (the pane runs `env ... claude`, which execs it)."""
    pane = team.pane(role)
    found = [pid for pid, cmd in [(pane.pid, Path(f"/proc/{pane.pid}/cmdline").read_bytes().decode(errors="replace")),
                                  *descendants(pane.pid)] if "claude" in cmd and " mcp" not in cmd.replace("\0", " ")]
    assert found, f"no claude process in {role}'s pane"
    return found[0]


def test_team_up_rerun_and_down_with_the_real_cli(tmp_path: Path, claude_bin: str, valkey: ValkeyProcess,
                                                  namespace: str) -> None:
    scripts: dict[str, list[Step]] = {"backend": [ToolCall("mcp__coord__coord_get_presence"), Text("presence read")]}
    with Team(tmp_path, claude_bin, valkey, namespace, scripts, roles=ROLES) as team:
        up = team.up()
        for role in ROLES:
            assert f"{role}: started" in up.stdout, up.stdout
        for role in ROLES:
            team.wait_ready(role)

        windows = team.tmux.panes()
        assert set(windows) == set(ROLES)
        for role in ROLES:
            where = team.workdir(role)
            assert os.path.realpath(windows[role].path) == os.path.realpath(where)
            env = environ_of(cli_pid(team, role))
            assert (env["COORD_ROLE"], env["CLAUDE_INSTANCE_ID"], env["COORD_WAKE"]) == (role, role, "tmux")
            assert env["ANTHROPIC_BASE_URL"] == team.models[role].url  # its own scripted model
            record = team.presence(role)
            assert record is not None and record["status"] == "active"
            assert os.path.realpath(record["worktree_path"]) == os.path.realpath(where)
        emails = {role: git(team.workdir(role), "config", "user.email").stdout.strip() for role in ("backend", "qa")}
        assert emails == {"backend": "backend@coord.invalid", "qa": "qa@coord.invalid"}

        # the agent itself knows who it is and sees its team through its own coord MCP server
        _index, first = team.prompt("backend", "who is on the team right now?")
        seen = team.text_of("backend", first)
        assert "coord: you are backend" in seen
        results = team.wait(lambda: team.models["backend"].step_results(), "the presence tool's result", role="backend")
        payload = result_json(results[0])
        assert payload["you"] == "backend"
        assert {r["role"]: r["status"] for r in payload["roles"]} == dict.fromkeys(ROLES, "active")
        team.wait(lambda: "presence read" in team.screen("backend"), "backend's turn to end", role="backend")

        # a rerun starts nothing: same windows, same programs
        wip = team.workdir("backend") / "work-in-progress.txt"
        wip.write_text("not committed\n")
        again = team.up()
        assert "started" not in again.stdout and again.stdout.count("already running") == len(ROLES), again.stdout
        assert team.tmux.panes() == windows

        down = team.down()
        assert down.stdout.count("agent ended, window closed") == len(ROLES), down.stdout
        for role in ROLES:  # each CLI's own SessionEnd hook ran: team.down marked nobody itself
            assert team.status(role) == "inactive", (role, team.presence(role))
        assert {e["sender"] for e in team.events() if e.get("type") == "SESSION_END"} == set(ROLES)
        assert team.tmux.panes() == {}
        assert wip.read_text() == "not committed\n"
        assert team.workdir("qa").is_dir()
        branches = git(team.repo, "branch", "--format=%(refname:short)").stdout.split()
        assert "agent/backend/active" in branches and "agent/qa/active" in branches
