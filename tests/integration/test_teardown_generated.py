"""coord's generated files rendered into a worktree are not work, unless someone edited them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import free_port, make_repo


def coord(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COORD_REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"}
    env.pop("CLAUDE_INSTANCE_ID", None)
    return subprocess.run([sys.executable, "-m", "coord.cli", *args], cwd=repo, env=env, capture_output=True,
                          text=True, stdin=subprocess.DEVNULL)


def test_an_edited_generated_file_is_still_work(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    assert coord(repo, "agent.setup", "backend").returncode == 0
    worktree = repo / ".worktrees" / "backend"
    claude_md = worktree / "CLAUDE.md"
    assert claude_md.is_file()  # rendered into the worktree because the main checkout lacks it
    claude_md.write_text("my notes\n" + claude_md.read_text())
    refused = coord(repo, "agent.teardown", "backend")
    assert refused.returncode == 11 and "CLAUDE.md" in refused.stderr
    assert worktree.is_dir()
    claude_md.write_text(claude_md.read_text().replace("my notes\n", ""))
    done = coord(repo, "agent.teardown", "backend")
    assert done.returncode == 0, done.stderr
    assert not worktree.exists()
