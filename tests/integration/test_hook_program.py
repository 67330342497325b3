"""The rendered hook scripts run this machine's recorded coord-hook (no PATH shim), from the main
checkout and from a worktree, and fall back to PATH, then to a warning that blocks nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import git, make_repo

SCRIPT = ".claude/hooks/coord-user-prompt-submit.sh"


def coord(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "coord.cli", *args], cwd=repo, capture_output=True, text=True)


def run_hook(checkout: Path, path_env: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CLAUDE_PROJECT_DIR": str(checkout), "PATH": path_env}
    return subprocess.run(
        ["/bin/sh", str(checkout / SCRIPT)], input="{}", cwd=checkout, env=env, capture_output=True, text=True
    )


def test_hook_scripts_use_the_recorded_program(tmp_path: Path, coord_env: dict[str, str]) -> None:
    repo = make_repo(tmp_path / "repo")
    assert coord(repo, "init").returncode == 0
    record = repo / ".git" / "coord" / "hook-program"
    assert record.read_text().strip() == str(Path(sys.executable).parent / "coord-hook")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "coord init")
    assert coord(repo, "agent.setup", "backend").returncode == 0

    marker = tmp_path / "ran.txt"
    fake = tmp_path / "fake-hook"
    fake.write_text(f'#!/bin/sh\necho "$1" > {marker}\n')
    fake.chmod(0o755)
    record.write_text(f"{fake}\n")
    for checkout in (repo, repo / ".worktrees" / "backend"):
        marker.unlink(missing_ok=True)
        result = run_hook(checkout, "/usr/bin:/bin")
        assert result.returncode == 0, result.stderr
        assert marker.read_text().strip() == "user-prompt-submit"

    record.unlink()
    marker.unlink()
    result = run_hook(repo, "/usr/bin:/bin")  # no record, no coord-hook on PATH
    assert result.returncode == 0
    assert "coord-hook is not on PATH" in result.stderr
    assert not marker.exists()
