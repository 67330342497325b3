"""Codex CLI's and Gemini CLI's files from `coord init` (merged with the user's, drift-checked) and
the hook commands they hold, run exactly as each CLI runs them (a shell, JSON on stdin) against real
git and Valkey. The real CLIs run in tests/e2e/test_codex.py, test_gemini.py, test_mixed_team.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

from coord import claim_store
from coord.config import load_config
from coord.repo import find_repo
from coord.store import open_store
from tests.conftest import git

pytestmark = pytest.mark.integration

AGENTS = 'roles = ["pm", "backend", "qa", "docs"]\nagents = ["claude", "codex", "gemini"]\n'


def coord(cwd: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "coord.cli", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120)


def project(repo: Path) -> Path:
    (repo / "coord.toml").write_text(AGENTS)
    (repo / ".codex").mkdir()
    (repo / ".codex" / "config.toml").write_text('model = "o4"\n\n[mcp_servers.search]\ncommand = "search-mcp"\n')
    (repo / ".gemini").mkdir()
    (repo / ".gemini" / "settings.json").write_text(json.dumps(
        {"theme": "dark", "hooks": {"AfterAgent": [{"hooks": [{"type": "command", "command": "notify-me"}]}]}}))
    done = coord(repo, "init")
    assert done.returncode == 0, done.stderr
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "coord init")
    return repo


def test_init_renders_merges_and_drift_checks_the_codex_and_gemini_files(git_repo: Path) -> None:
    repo = project(git_repo)
    toml = tomllib.loads((repo / ".codex" / "config.toml").read_text())
    assert toml["model"] == "o4" and toml["mcp_servers"]["search"]["command"] == "search-mcp"
    assert toml["mcp_servers"]["coord"]["command"] == "coord"
    hooks = json.loads((repo / ".codex" / "hooks.json").read_text())["hooks"]
    assert set(hooks) == {"SessionStart", "UserPromptSubmit", "PreToolUse", "SessionEnd", "PostToolUse", "Stop"}
    settings = json.loads((repo / ".gemini" / "settings.json").read_text())
    assert settings["theme"] == "dark" and settings["hooks"]["AfterAgent"][0]["hooks"][0]["command"] == "notify-me"
    assert settings["mcpServers"]["coord"]["args"] == ["mcp"]
    for launcher in (".codex/coord-hook.sh", ".gemini/coord-hook.sh"):
        assert os.access(repo / launcher, os.X_OK), launcher
    assert coord(repo, "init", "--check").returncode == 0

    data = json.loads((repo / ".codex" / "hooks.json").read_text())
    data["hooks"]["PreToolUse"][0]["matcher"] = "nothing"
    (repo / ".codex" / "hooks.json").write_text(json.dumps(data))
    drifted = coord(repo, "init", "--check")
    assert drifted.returncode == 12 and ".codex/hooks.json" in drifted.stdout + drifted.stderr
    assert coord(repo, "init").returncode == 0
    restored = json.loads((repo / ".codex" / "hooks.json").read_text())
    assert restored["hooks"]["PreToolUse"][0]["matcher"] == "^(apply_patch)$"
    assert git(repo, "status", "--porcelain").stdout == ""  # back to exactly what was committed


def run_hook(command: str, cwd: Path, payload: dict[str, Any], env: dict[str, str]) -> dict[str, Any] | None:
    """One hook command as the CLI runs it: through a shell, in the session's folder."""
    proc = subprocess.run(["sh", "-c", command], input=json.dumps(payload), cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout) if proc.stdout.strip() else None


def command_for(settings: dict[str, Any], event: str) -> str:
    return str(settings["hooks"][event][0]["hooks"][0]["command"])


def test_the_rendered_hook_commands_enforce_identity_claims_and_deliver_mail(
        git_repo: Path, coord_env: dict[str, str]) -> None:
    repo = project(git_repo)
    (repo / "docs").mkdir()
    (repo / "docs" / "api.md").write_text("# API\n")
    git(repo, "add", "docs")
    git(repo, "commit", "-q", "-m", "docs")
    for role in ("qa", "docs"):
        assert coord(repo, "session.start", role, env=coord_env).returncode == 0
    qa, docs = repo / ".worktrees" / "qa", repo / ".worktrees" / "docs"
    codex_hooks = json.loads((qa / ".codex" / "hooks.json").read_text())
    gemini_settings = json.loads((docs / ".gemini" / "settings.json").read_text())
    paths = find_repo(repo)
    with open_store(paths, load_config(paths.main_root)) as store:
        store.register("backend", "backend-session", str(repo / ".worktrees" / "backend"))
        claim_store.claim(store, "backend", ["docs/**"], "regenerating the reference", 900)
        store.publish("backend", "qa", "TASK_ASSIGNMENT", "test /orders (token i-qa-7)")

    # Codex: a wrong identity blocks the prompt; the right one registers and shows the mail.
    wrong = run_hook(command_for(codex_hooks, "UserPromptSubmit"), qa,
                     {"session_id": "cx-1", "cwd": str(qa), "hook_event_name": "UserPromptSubmit", "prompt": "go"},
                     {**coord_env, "COORD_ROLE": "docs"})
    assert wrong is not None and wrong["decision"] == "block" and "COORD_ROLE=docs" in wrong["reason"]
    qa_env = {**coord_env, "COORD_ROLE": "qa"}
    start = run_hook(command_for(codex_hooks, "SessionStart"), qa,
                     {"session_id": "cx-1", "cwd": str(qa), "hook_event_name": "SessionStart", "source": "startup"},
                     qa_env)
    assert start is not None and "coord: you are qa " in start["hookSpecificOutput"]["additionalContext"]
    turn = run_hook(command_for(codex_hooks, "UserPromptSubmit"), qa,
                    {"session_id": "cx-1", "cwd": str(qa), "hook_event_name": "UserPromptSubmit", "prompt": "go"},
                    qa_env)
    assert turn is not None and "token i-qa-7" in turn["hookSpecificOutput"]["additionalContext"]
    patch = "*** Begin Patch\n*** Update File: docs/api.md\n@@\n-# API\n+# mine\n*** End Patch\n"
    denied = run_hook(command_for(codex_hooks, "PreToolUse"), qa,
                      {"session_id": "cx-1", "cwd": str(qa), "hook_event_name": "PreToolUse",
                       "tool_name": "apply_patch", "tool_input": {"command": patch}}, qa_env)
    assert denied is not None and denied["hookSpecificOutput"]["permissionDecision"] == "deny"
    assert "backend" in denied["hookSpecificOutput"]["permissionDecisionReason"]

    # Gemini CLI: the same decisions in its own shape (decision deny + reason), its own events.
    docs_env = {**coord_env, "COORD_ROLE": "docs", "GEMINI_PROJECT_DIR": str(docs)}
    blocked = run_hook(command_for(gemini_settings, "BeforeAgent"), docs,
                       {"session_id": "gm-1", "cwd": str(docs), "hook_event_name": "BeforeAgent", "prompt": "go"},
                       {**docs_env, "COORD_ROLE": "qa"})
    assert blocked == {"decision": "deny", "reason": blocked["reason"]} and "qa" in blocked["reason"]
    refused = run_hook(command_for(gemini_settings, "BeforeTool"), docs,
                       {"session_id": "gm-1", "cwd": str(docs), "hook_event_name": "BeforeTool",
                        "tool_name": "write_file", "tool_input": {"file_path": str(docs / "docs" / "api.md")}},
                       docs_env)
    assert refused is not None and refused["decision"] == "deny" and "regenerating the reference" in refused["reason"]
    allowed = run_hook(command_for(gemini_settings, "BeforeTool"), docs,
                       {"session_id": "gm-1", "cwd": str(docs), "hook_event_name": "BeforeTool",
                        "tool_name": "write_file", "tool_input": {"file_path": str(docs / "notes.md")}}, docs_env)
    assert allowed is None


def test_session_start_prints_each_clis_line_and_refuses_one_the_project_lacks(
        git_repo: Path, coord_env: dict[str, str]) -> None:
    repo = git_repo
    (repo / "coord.toml").write_text('roles = ["pm", "qa", "docs"]\nagents = ["claude", "codex"]\n')
    assert coord(repo, "init").returncode == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "coord init")
    done = coord(repo, "session.start", "qa", "--agent", "codex", env=coord_env)
    assert done.returncode == 0, done.stderr
    assert "cd .worktrees/qa && COORD_ROLE=qa codex" in done.stdout and "coord doctor" in done.stdout
    refused = coord(repo, "session.start", "docs", "--agent", "gemini", env=coord_env)
    assert refused.returncode == 8, refused.stdout + refused.stderr  # ConfigError
    assert 'add "gemini" to agents' in refused.stderr and not (repo / ".worktrees" / "docs").exists()
    plain = coord(repo, "session.start", "docs", env=coord_env)
    assert "CLAUDE_INSTANCE_ID=docs claude" in plain.stdout, plain.stdout + plain.stderr
