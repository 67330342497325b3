"""`coord init` / `coord rules.render` on real repositories, and this repository's own files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from coord import render, render_disk
from coord.tasks import command_table, namespace
from tests.conftest import git

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[2]
COMMANDS = command_table(namespace)
COORD = [sys.executable, "-m", "coord.cli"]


def coord(cwd: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("COORD_") and k != "CLAUDE_INSTANCE_ID"}
    return subprocess.run([*COORD, *args], cwd=cwd, capture_output=True, text=True, timeout=120,
                          env={**clean, **(env or {})})


def test_this_repository_dogfoods_its_rendered_files() -> None:
    """Fails when the templates, the config, the enums, the tool names or a task's docstring change
    without `coord init` being re-run and committed here."""
    files = render.plan(REPO_ROOT, render.render_config(REPO_ROOT), commands=COMMANDS)
    assert render_disk.drift(REPO_ROOT, files) == [], "run `coord init` in the repository root and commit the result"
    tracked = git(REPO_ROOT, "ls-files", "--", *render_disk.paths(files)).stdout.split()
    assert sorted(tracked) == sorted(render_disk.paths(files)), "the rendered files must be committed"


def test_init_writes_then_finds_nothing_to_do_then_check_passes(git_repo: Path) -> None:
    first = coord(git_repo, "init")
    assert first.returncode == 0, first.stderr
    for path in render_disk.paths(render.plan(git_repo, commands=COMMANDS)):
        assert f"wrote {path}" in first.stdout
        assert (git_repo / path).is_file()
    assert os.access(git_repo / ".claude/hooks/coord-hook.sh", os.X_OK)
    second = coord(git_repo, "init")
    assert second.returncode == 0 and "already up to date" in second.stdout
    check = coord(git_repo, "init", "--check")
    assert check.returncode == 0, check.stdout + check.stderr
    assert coord(git_repo, "rules.render", "--check").returncode == 0


def test_check_names_every_drifted_file_and_writes_nothing(git_repo: Path) -> None:
    coord(git_repo, "init")
    rules = git_repo / ".claude/coord/pm-cli.md"
    rules.write_text(rules.read_text() + "\nlocal edit\n")
    (git_repo / ".mcp.json").unlink()
    os.chmod(git_repo / ".claude/hooks/coord-hook.sh", 0o644)
    result = coord(git_repo, "init", "--check")
    assert result.returncode == 12
    line = (result.stdout + result.stderr).strip()
    assert line.count("\n") == 0
    for path in (".claude/coord/pm-cli.md", ".mcp.json", ".claude/hooks/coord-hook.sh"):
        assert path in line
    assert "coord init" in line
    assert not (git_repo / ".mcp.json").exists()
    assert rules.read_text().endswith("local edit\n")
    assert coord(git_repo, "init").returncode == 0
    assert coord(git_repo, "init", "--check").returncode == 0


def test_init_keeps_the_users_own_settings_and_claude_md(git_repo: Path) -> None:
    (git_repo / ".claude").mkdir()
    user_settings = {"model": "sonnet", "permissions": {"allow": ["Bash(ls)"]}}
    (git_repo / ".claude/settings.json").write_text(json.dumps(user_settings))
    (git_repo / "CLAUDE.md").write_text("# My project\n\nUse tabs.\n")
    (git_repo / ".mcp.json").write_text(json.dumps({"mcpServers": {"db": {"command": "db-mcp"}}}))
    assert coord(git_repo, "init").returncode == 0
    settings = json.loads((git_repo / ".claude/settings.json").read_text())
    assert settings["model"] == "sonnet" and "Bash(ls)" in settings["permissions"]["allow"]
    assert "SessionStart" in settings["hooks"]
    claude_md = (git_repo / "CLAUDE.md").read_text()
    assert claude_md.startswith("# My project\n\nUse tabs.\n\n<!-- coord:begin -->")
    assert set(json.loads((git_repo / ".mcp.json").read_text())["mcpServers"]) == {"db", "coord"}
    assert coord(git_repo, "init", "--check").returncode == 0


def test_init_refuses_to_overwrite_files_it_did_not_generate(git_repo: Path) -> None:
    mine = git_repo / ".claude/coord/pm-cli.md"
    mine.parent.mkdir(parents=True)
    mine.write_text("my own rules\n")
    result = coord(git_repo, "init")
    assert result.returncode == 10
    assert ".claude/coord/pm-cli.md" in result.stdout + result.stderr and "--force" in result.stdout + result.stderr
    assert mine.read_text() == "my own rules\n"
    assert not (git_repo / ".claude/settings.json").exists()  # nothing written at all
    assert coord(git_repo, "init", "--force").returncode == 0
    assert "Mail first, every turn" in mine.read_text()


def test_init_removes_the_files_coord_no_longer_generates_and_keeps_the_users(git_repo: Path) -> None:
    """An older render: one script per event, every role's rules in .claude/rules/ (loaded by every session)."""
    hooks, rules = git_repo / ".claude/hooks", git_repo / ".claude/rules"
    hooks.mkdir(parents=True)
    rules.mkdir()
    old = [hooks / "coord-session-start.sh", rules / "pm-cli.md", rules / "orchestrator.md"]
    for path in old:
        path.write_text(f"# {render.GENERATED}\nold\n")
    (rules / "style.md").write_text("# my own rules\n")
    (hooks / "coord-mine.sh").write_text("#!/bin/sh\n# not coord's\n")
    first = coord(git_repo, "init", "--check")
    assert first.returncode == 12 and "no longer generates" in first.stdout + first.stderr
    done = coord(git_repo, "init")
    assert done.returncode == 0, done.stderr
    assert not any(path.exists() for path in old)
    assert "removed .claude/rules/pm-cli.md" in done.stdout
    assert (rules / "style.md").exists() and (hooks / "coord-mine.sh").exists()
    assert coord(git_repo, "init", "--check").returncode == 0


def test_broken_settings_json_is_reported_not_replaced(git_repo: Path) -> None:
    (git_repo / ".claude").mkdir()
    (git_repo / ".claude/settings.json").write_text("{oops")
    result = coord(git_repo, "init")
    assert result.returncode == 10 and "not valid JSON" in result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert (git_repo / ".claude/settings.json").read_text() == "{oops"


def test_init_outside_a_repository_is_exit_9(tmp_path: Path) -> None:
    result = coord(tmp_path, "init")
    assert result.returncode == 9 and "not inside a git repository" in result.stdout + result.stderr


def test_files_come_from_coord_toml_and_ignore_personal_environment(git_repo: Path) -> None:
    (git_repo / "coord.toml").write_text(
        'roles = ["lead", "api"]\nmain_role = "lead"\nstale_seconds = 45\nheartbeat_seconds = 15\n')
    assert coord(git_repo, "init", env={"COORD_STALE_SECONDS": "299"}).returncode == 0
    protocol = (git_repo / ".claude/rules/coordination-protocol.md").read_text()
    assert "45 s" in protocol and "299" not in protocol
    assert "(lead, api)" in (git_repo / "CLAUDE.md").read_text()
    assert coord(git_repo, "init", "--check", env={"COORD_STALE_SECONDS": "77"}).returncode == 0


def test_rendered_files_work_unchanged_in_a_worktree(git_repo: Path) -> None:
    assert coord(git_repo, "init").returncode == 0
    git(git_repo, "add", "-A")
    git(git_repo, "commit", "-q", "-m", "coord init")
    tree = git_repo / ".worktrees" / "backend"
    git(git_repo, "worktree", "add", "-q", "-b", "agent/backend/active", str(tree))
    assert coord(tree, "init", "--check").returncode == 0  # same bytes: nothing machine- or checkout-specific


def test_agent_setup_warns_and_renders_when_the_main_checkout_lacks_the_files(git_repo: Path) -> None:
    result = coord(git_repo, "agent.setup", "backend")
    assert result.returncode == 0, result.stderr
    assert "missing or out of date in the main checkout" in result.stderr and "coord init" in result.stderr
    tree = git_repo / ".worktrees" / "backend"
    assert "rendered into the worktree" in result.stdout
    assert coord(tree, "init", "--check").returncode == 0  # the agent's session gets working hooks anyway


def test_agent_setup_warns_about_uncommitted_files(git_repo: Path) -> None:
    assert coord(git_repo, "init").returncode == 0
    result = coord(git_repo, "agent.setup", "qa")  # session.start shares this path (and starts a server)
    assert result.returncode == 0, result.stderr
    assert "not committed in the main checkout" in result.stderr
    assert coord(git_repo / ".worktrees" / "qa", "init", "--check").returncode == 0


def test_agent_setup_is_quiet_when_the_files_are_committed(git_repo: Path) -> None:
    assert coord(git_repo, "init").returncode == 0
    git(git_repo, "add", "-A")
    git(git_repo, "commit", "-q", "-m", "coord init")
    result = coord(git_repo, "agent.setup", "backend")
    assert result.returncode == 0, result.stderr
    assert "warning" not in result.stderr and "rendered into" not in result.stdout
    tree = git_repo / ".worktrees" / "backend"
    assert git(tree, "status", "--porcelain").stdout == ""  # nothing written over the committed files
