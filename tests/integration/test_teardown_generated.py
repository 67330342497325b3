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


def test_teardown_rerun_after_a_kill_clears_leftover_presence(tmp_path: Path, coord_env: dict[str, str]) -> None:
    """A teardown killed after its last git step leaves presence behind: the rerun finds nothing
    to remove (exit 3) but still deregisters the role and says so."""
    from coord.config import load_config
    from coord.presence import Status
    from coord.repo import find_repo
    from coord.store import open_store

    repo = make_repo(tmp_path / "repo")
    paths = find_repo(repo)
    with open_store(paths, load_config(paths.main_root)) as store:
        store.register("qa", "gone-session", str(repo / ".worktrees" / "qa"))
    env = {k: v for k, v in coord_env.items() if k != "CLAUDE_INSTANCE_ID"}
    rerun = subprocess.run([sys.executable, "-m", "coord.cli", "agent.teardown", "qa"], cwd=repo, env=env,
                           capture_output=True, text=True, stdin=subprocess.DEVNULL)
    assert rerun.returncode == 3, rerun.stderr
    assert "leftover presence was cleared" in rerun.stderr
    with open_store(paths, load_config(paths.main_root)) as store:
        assert next(v for v in store.presence() if v.role == "qa").status is Status.INACTIVE
        assert [e.type for e in store.events()][:1] == ["SESSION_END"]
    again = subprocess.run([sys.executable, "-m", "coord.cli", "agent.teardown", "qa"], cwd=repo, env=env,
                           capture_output=True, text=True, stdin=subprocess.DEVNULL)
    assert again.returncode == 3 and "leftover" not in again.stderr
