"""Helpers shared by the worktree and CLI integration tests (no tests of its own beyond a sanity check).

Everything here drives the real thing: real git through subprocess, and the `coord` program as a
subprocess (`python -m coord.cli`), the way a user runs it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from coord.config import Config, load_config
from coord.repo import RepoPaths, find_repo
from tests.conftest import git

COORD = [sys.executable, "-m", "coord.cli"]


def clean_env(**overrides: str) -> dict[str, str]:
    """The caller's environment without coord or agent settings, plus overrides."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COORD_", "GIT_", "CLAUDE"))}
    env.update(overrides)
    return env


def run_coord(
    cwd: Path, *args: str, env: dict[str, str] | None = None, stdin: int | None = subprocess.DEVNULL,
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """`coord ARGS` in cwd, with no terminal on stdin (as in CI)."""
    proc = subprocess.run(
        [*COORD, *args], cwd=cwd, env=env if env is not None else clean_env(), stdin=stdin,
        capture_output=True, text=True, timeout=timeout,
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def ws(repo: Path, **environ: str) -> tuple[RepoPaths, Config]:
    """The library's view of repo, with settings from the given COORD_* values only."""
    return find_repo(repo), load_config(repo, environ)


def head(repo: Path, ref: str = "HEAD") -> str:
    return git(repo, "rev-parse", ref).stdout.strip()


def commit_file(repo: Path, name: str, text: str, message: str | None = None) -> str:
    path = repo / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    git(repo, "add", name)
    git(repo, "commit", "-q", "-m", message or f"write {name}")
    return head(repo)


def branches(repo: Path) -> set[str]:
    return set(git(repo, "for-each-ref", "--format=%(refname:short)", "refs/heads/").stdout.split())


def worktree_paths(repo: Path) -> list[str]:
    out = git(repo, "worktree", "list", "--porcelain").stdout
    return [line.split(" ", 1)[1] for line in out.splitlines() if line.startswith("worktree ")]


def backup_refs(repo: Path) -> list[str]:
    return git(repo, "for-each-ref", "--format=%(refname)", "refs/coord/backup/").stdout.split()


def test_helpers_see_a_fresh_repository(git_repo: Path) -> None:
    assert worktree_paths(git_repo) == [str(git_repo.resolve())]
    assert branches(git_repo) == {"main"}
    assert backup_refs(git_repo) == []
