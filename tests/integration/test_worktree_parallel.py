"""Many `coord agent.setup` processes started at once against one repository."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from coord.identity import role_email
from tests.conftest import git
from tests.integration.test_worktree_support import COORD, clean_env, worktree_paths


def start_all(repo: Path, roles: list[str], env: dict[str, str]) -> list[subprocess.CompletedProcess[str]]:
    """Start every process before waiting for any, so they really overlap."""
    procs = [
        subprocess.Popen([*COORD, "agent.setup", role], cwd=repo, env=env, stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for role in roles
    ]
    results = []
    for role, proc in zip(roles, procs, strict=True):
        out, err = proc.communicate(timeout=180)
        results.append(subprocess.CompletedProcess([role], proc.returncode, out, err))
    return results


@pytest.mark.parametrize("count", [8, 20])
def test_distinct_roles_in_parallel_all_succeed(git_repo: Path, count: int) -> None:
    roles = [f"agent{i}" for i in range(count)]
    env = clean_env(COORD_ROLES=",".join(["pm", *roles]))
    started = time.monotonic()
    results = start_all(git_repo, roles, env)
    elapsed = time.monotonic() - started
    for result in results:
        assert result.returncode == 0, (result.args, result.stderr)
        assert "Traceback" not in result.stderr
    assert len(worktree_paths(git_repo)) == count + 1
    emails = {git(git_repo / ".worktrees" / r, "config", "user.email").stdout.strip() for r in roles}
    assert emails == {role_email(r) for r in roles}
    assert git(git_repo, "config", "user.email").stdout.strip() == "human@example.com"
    assert (git_repo / ".gitignore").read_text().count(".worktrees") == 1
    print(f"{count} parallel setups: {elapsed:.2f}s")


def test_same_role_ten_times_in_parallel_gives_one_worktree(git_repo: Path) -> None:
    results = start_all(git_repo, ["backend"] * 10, clean_env())
    for result in results:
        assert result.returncode == 0, result.stderr
    created = [r for r in results if "created worktree" in r.stdout]
    existing = [r for r in results if "exists" in r.stdout]
    assert len(created) == 1 and len(existing) == 9
    assert len(worktree_paths(git_repo)) == 2
    assert git(git_repo / ".worktrees" / "backend", "config", "user.email").stdout.strip() == role_email("backend")
