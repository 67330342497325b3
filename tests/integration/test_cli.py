"""The `coord` program as a user runs it, in repositories that are not this one."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from coord.identity import role_email
from tests.conftest import git, make_repo
from tests.integration.test_worktree_support import clean_env, run_coord

PROJECT = Path(__file__).resolve().parents[2]


def test_outside_a_git_repository_exits_9_with_one_line(tmp_path: Path) -> None:
    empty = tmp_path / "not-a-repo"
    empty.mkdir()
    for args in (("agent.list",), ("agent.setup", "backend"), ("session.start", "backend")):
        proc = run_coord(empty, *args)
        assert proc.returncode == 9, proc.stderr
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and "not inside a git repository" in lines[0]


def test_installed_console_script_works_in_another_repository(tmp_path: Path) -> None:
    binary = shutil.which("coord")
    assert binary, "the coord console script is not installed (pip install -e .)"
    repo = make_repo(tmp_path / "other project", branch="trunk")
    sub = repo / "src" / "deep"
    sub.mkdir(parents=True)
    proc = subprocess.run([binary, "agent.setup", "frontend"], cwd=sub, env=clean_env(), capture_output=True,
                          text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    wt = repo / ".worktrees" / "frontend"
    assert git(wt, "config", "user.email").stdout.strip() == role_email("frontend")
    assert git(wt, "rev-parse", "--abbrev-ref", "HEAD").stdout.strip() == "agent/frontend/active"
    listed = subprocess.run([binary, "agent.list", "--json"], cwd=wt, env=clean_env(), capture_output=True,
                            text=True, timeout=120)
    assert listed.returncode == 0 and [r["role"] for r in json.loads(listed.stdout)] == ["frontend"]
    assert not (sub / ".worktrees").exists()  # the repository root decides, not the current folder


def test_missing_role_is_usage_exit_2(git_repo: Path) -> None:
    for task in ("agent.setup", "agent.merge", "agent.teardown", "session.start"):
        proc = run_coord(git_repo, task)
        assert proc.returncode == 2, (task, proc.stderr)
        assert task in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_unknown_flag_is_usage_exit_2(git_repo: Path) -> None:
    proc = run_coord(git_repo, "agent.list", "--nope")
    assert proc.returncode == 2


def test_bad_coord_toml_is_exit_8(git_repo: Path) -> None:
    (git_repo / "coord.toml").write_text("roles = 3\n")
    proc = run_coord(git_repo, "agent.setup", "backend")
    assert proc.returncode == 8 and "roles" in proc.stderr
    assert not (git_repo / ".worktrees").exists()


def test_session_start_prints_the_exact_command(git_repo: Path) -> None:
    proc = run_coord(git_repo, "session.start", "backend")
    assert proc.returncode == 0, proc.stderr
    assert "  cd .worktrees/backend && CLAUDE_INSTANCE_ID=backend claude" in proc.stdout.splitlines()
    again = run_coord(git_repo, "session.start", "backend")
    assert again.returncode == 0 and "exists" in again.stdout
    main = run_coord(git_repo, "session.start", "pm")
    assert main.returncode == 0 and "  CLAUDE_INSTANCE_ID=pm claude" in main.stdout.splitlines()
    inside = run_coord(git_repo / ".worktrees" / "backend", "session.start", "pm")
    assert f"  cd {git_repo.resolve()} && CLAUDE_INSTANCE_ID=pm claude" in inside.stdout.splitlines()


def fake_claude(folder: Path) -> Path:
    """A stand-in for the claude binary that records where and as whom it was started."""
    script = folder / "fake-claude"
    script.write_text(
        f"#!{sys.executable}\n"
        "import json, os, sys\n"
        "json.dump({'cwd': os.getcwd(), 'id': os.environ.get('CLAUDE_INSTANCE_ID'), 'argv': sys.argv[1:]},"
        " open(os.environ['FAKE_CLAUDE_OUT'], 'w'))\n"
    )
    script.chmod(0o755)
    return script


def test_session_start_launch_execs_claude_in_the_worktree(git_repo: Path, tmp_path: Path) -> None:
    record = tmp_path / "launched.json"
    env = clean_env(COORD_CLAUDE_BIN=str(fake_claude(tmp_path)), FAKE_CLAUDE_OUT=str(record))
    proc = run_coord(git_repo, "session.start", "backend", "--launch", env=env)
    assert proc.returncode == 0, proc.stderr
    seen = json.loads(record.read_text())
    assert seen == {"cwd": str(git_repo.resolve() / ".worktrees" / "backend"), "id": "backend", "argv": []}
    proc = run_coord(git_repo, "session.start", "pm", "--launch", env=env)
    assert proc.returncode == 0 and json.loads(record.read_text())["cwd"] == str(git_repo.resolve())


def test_session_start_launch_without_claude_is_exit_9(git_repo: Path, tmp_path: Path) -> None:
    env = clean_env(PATH=f"{Path(sys.executable).parent}:/usr/bin:/bin", COORD_CLAUDE_BIN="no-such-claude-here")
    proc = run_coord(git_repo, "session.start", "backend", "--launch", env=env)
    assert proc.returncode == 9 and "no-such-claude-here" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_inv_in_this_repository_has_the_same_tasks() -> None:
    inv = shutil.which("inv")
    assert inv, "invoke is not installed"
    proc = subprocess.run([inv, "--list"], cwd=PROJECT, capture_output=True, text=True, timeout=120,
                          env=clean_env())
    assert proc.returncode == 0, proc.stderr
    for name in ("agent.setup", "agent.list", "agent.merge", "agent.teardown", "agent.restore", "session.start"):
        assert name in proc.stdout
    coord_list = run_coord(PROJECT, "help")
    assert coord_list.returncode == 0 and "agent.setup" in coord_list.stdout


def test_coord_version_and_help_do_not_need_a_repository(tmp_path: Path) -> None:
    proc = run_coord(tmp_path, "--help", "agent.teardown")
    assert proc.returncode == 0 and "--abandon" in proc.stdout
    assert os.path.isdir(tmp_path)


def _inv(cwd: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    inv = shutil.which("inv")
    assert inv, "invoke is not installed"
    return subprocess.run([inv, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL)


def test_readme_first_command_in_a_fresh_clone_leaves_the_worktree_clean(
    tmp_path: Path, coord_env: dict[str, str]
) -> None:
    """README's first command, `inv session.start backend`, in a fresh clone of this repository:
    the new worktree has nothing to commit, `inv` and `coord` render the same bytes, and teardown
    needs no flag."""
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(PROJECT), str(clone))
    git(clone, "config", "user.name", "Test Human")
    git(clone, "config", "user.email", "human@example.com")
    env = clean_env(COORD_REDIS_URL=coord_env["COORD_REDIS_URL"], COORD_NAMESPACE=coord_env["COORD_NAMESPACE"])
    for program in (_inv, lambda cwd, *a, env: run_coord(cwd, *a, env=env)):
        checked = program(clone, "init", "--check", env=env)
        assert checked.returncode == 0, checked.stdout + checked.stderr
    started = _inv(clone, "session.start", "backend", env=env)
    assert started.returncode == 0, started.stderr
    assert "warning" not in started.stderr, started.stderr
    tree = clone / ".worktrees" / "backend"
    assert git(tree, "status", "--porcelain=v1", "--untracked-files=all").stdout == ""
    removed = _inv(clone, "agent.teardown", "backend", env=env)
    assert removed.returncode == 0, removed.stdout + removed.stderr
    assert not tree.exists()
