"""The rendered launcher runs this machine's recorded coord-hook (no PATH shim) for every hook event,
and `coord mcp` beside it for the MCP server, from the main checkout and from a worktree (whose .git
is a file pointing at the common git directory); it falls back to PATH, then to silence that blocks
nothing (the session is told once, at SessionStart: tests/integration/test_hooks.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from coord.catalog.claude import LAUNCHER
from tests.conftest import git, make_repo


def coord(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "coord.cli", *args], cwd=repo, capture_output=True, text=True)


def run_hook(checkout: Path, path_env: str, arg: str = "user-prompt-submit") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CLAUDE_PROJECT_DIR": str(checkout), "PATH": path_env}
    return subprocess.run(
        ["/bin/sh", str(checkout / LAUNCHER), arg], input="{}", cwd=checkout, env=env, capture_output=True, text=True
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
    bin_dir = tmp_path / "venv-bin"
    bin_dir.mkdir()
    for name in ("coord-hook", "coord"):  # a recorded coord-hook and the coord beside it
        (bin_dir / name).write_text(f'#!/bin/sh\necho "{name} $1" > {marker}\n')
        (bin_dir / name).chmod(0o755)
    record.write_text(f"{bin_dir / 'coord-hook'}\n")
    for checkout in (repo, repo / ".worktrees" / "backend"):
        for arg, ran in (("user-prompt-submit", "coord-hook user-prompt-submit"), ("mcp", "coord mcp")):
            marker.unlink(missing_ok=True)
            result = run_hook(checkout, "/usr/bin:/bin", arg)  # a shell without coord on PATH
            assert result.returncode == 0, result.stderr
            assert marker.read_text().strip() == ran

    record.unlink()
    marker.unlink()
    result = run_hook(repo, "/usr/bin:/bin")  # no record, no coord-hook on PATH: quiet, never blocks
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    assert not marker.exists()
