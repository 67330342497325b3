"""agent.setup and agent.list on real git repositories."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from coord import worktree
from coord.errors import DirtyStateError, InvalidInputError, NotFoundError
from coord.identity import role_email, role_name
from tests.conftest import HUMAN_EMAIL, git
from tests.integration.test_worktree_support import (
    branches,
    clean_env,
    commit_file,
    head,
    run_coord,
    worktree_paths,
    ws,
)

BAD_ROLES = ["../x", "-rf", "a b", "x$(id)", "HEAD", "", "a" * 200, "bäckend"]


def email(repo: Path) -> str:
    return git(repo, "config", "user.email").stdout.strip()


def test_setup_creates_worktree_branch_and_identity(git_repo: Path) -> None:
    paths, config = ws(git_repo)
    result = worktree.setup(paths, config, "backend")
    path = git_repo.resolve() / ".worktrees" / "backend"
    assert result.created and result.path == path and result.branch == "agent/backend/active"
    assert git(path, "rev-parse", "--abbrev-ref", "HEAD").stdout.strip() == "agent/backend/active"
    assert head(path) == head(git_repo, "main")
    assert email(path) == role_email("backend")
    assert git(path, "config", "user.name").stdout.strip() == role_name("backend")
    commit_file(path, "b.txt", "from backend\n")
    assert git(path, "log", "-1", "--format=%ae %ce").stdout.split() == [role_email("backend")] * 2


def test_identities_are_isolated_per_worktree(git_repo: Path) -> None:
    paths, config = ws(git_repo)
    worktree.setup(paths, config, "backend")
    worktree.setup(paths, config, "frontend")
    root = git_repo / ".worktrees"
    assert email(root / "backend") == role_email("backend")
    assert email(root / "frontend") == role_email("frontend")
    assert email(git_repo) == HUMAN_EMAIL
    # nothing was written to the shared config or to the main checkout's worktree config
    assert git(git_repo, "config", "--local", "--get-all", "user.email").stdout.split() == [HUMAN_EMAIL]
    assert not (paths.common_dir / "config.worktree").exists()


def test_gitignore_entry_added_once_and_left_uncommitted(git_repo: Path) -> None:
    (git_repo / ".gitignore").write_text("*.log")  # no trailing newline
    paths, config = ws(git_repo)
    assert worktree.setup(paths, config, "backend").gitignore_added
    assert not worktree.setup(paths, config, "frontend").gitignore_added
    assert not worktree.setup(paths, config, "backend").gitignore_added
    assert (git_repo / ".gitignore").read_text() == "*.log\n/.worktrees/\n"
    assert git(git_repo, "log", "--format=%s").stdout.split("\n")[0] == "initial"
    assert "?? .worktrees" not in git(git_repo, "status", "--porcelain").stdout


def test_worktreeinclude_copies_only_listed_ignored_files_and_never_overwrites(git_repo: Path) -> None:
    (git_repo / ".gitignore").write_text(".env\nconfig/local.toml\nbuild/\n")
    (git_repo / ".worktreeinclude").write_text(".env\nconfig/\nREADME.md\n")
    git(git_repo, "add", ".gitignore", ".worktreeinclude")
    git(git_repo, "commit", "-q", "-m", "ignore")
    (git_repo / ".env").write_text("TOKEN=1\n")
    (git_repo / "config").mkdir()
    (git_repo / "config" / "local.toml").write_text("x = 1\n")
    (git_repo / "build").mkdir()
    (git_repo / "build" / "out.bin").write_text("binary\n")  # ignored but not listed: not copied
    (git_repo / "notes.txt").write_text("untracked, not ignored\n")
    paths, config = ws(git_repo)
    result = worktree.setup(paths, config, "backend")
    wt = result.path
    assert sorted(result.copied) == [".env", "config/local.toml"]
    assert (wt / ".env").read_text() == "TOKEN=1\n"
    assert (wt / "config" / "local.toml").read_text() == "x = 1\n"
    assert not (wt / "build").exists() and not (wt / "notes.txt").exists()
    # the agent's own edit survives a re-run; a deleted include file is repaired
    (wt / ".env").write_text("TOKEN=agent\n")
    (wt / "config" / "local.toml").unlink()
    again = worktree.setup(paths, config, "backend")
    assert not again.created
    assert (wt / ".env").read_text() == "TOKEN=agent\n"
    assert (wt / "config" / "local.toml").read_text() == "x = 1\n"
    assert any("config/local.toml" in r for r in again.repaired)


def test_second_setup_is_idempotent_and_repairs_identity(git_repo: Path) -> None:
    paths, config = ws(git_repo)
    worktree.setup(paths, config, "backend")
    wt = git_repo / ".worktrees" / "backend"
    commit_file(wt, "w.txt", "work\n")
    tip = head(wt)
    second = worktree.setup(paths, config, "backend")
    assert not second.created and second.repaired == []
    git(wt, "config", "--worktree", "--unset", "user.email")
    third = worktree.setup(paths, config, "backend")
    assert third.repaired == ["identity (user.email)"]
    assert email(wt) == role_email("backend")
    assert head(wt) == tip  # nothing reset
    assert len(worktree_paths(git_repo)) == 2


def test_existing_branch_is_reused_not_reset(git_repo: Path) -> None:
    git(git_repo, "branch", "agent/backend/active")
    git(git_repo, "switch", "-q", "agent/backend/active")
    tip = commit_file(git_repo, "earlier.txt", "earlier work\n")
    git(git_repo, "switch", "-q", "main")
    commit_file(git_repo, "main.txt", "main moved on\n")
    paths, config = ws(git_repo)
    result = worktree.setup(paths, config, "backend", base="main")
    assert result.created and result.reused_branch
    assert head(result.path) == tip
    assert any("ignored" in n for n in result.notes)


def test_base_option_and_missing_base(git_repo: Path) -> None:
    first = head(git_repo)
    git(git_repo, "tag", "v0")
    commit_file(git_repo, "later.txt", "later\n")
    paths, config = ws(git_repo)
    assert head(worktree.setup(paths, config, "backend", base="v0").path) == first
    with pytest.raises(NotFoundError, match="nope"):
        worktree.setup(paths, config, "frontend", base="nope")
    assert "agent/frontend/active" not in branches(git_repo)
    assert not (git_repo / ".worktrees" / "frontend").exists()
    with pytest.raises(InvalidInputError):
        worktree.setup(paths, config, "frontend", base="--orphan")


def test_base_branch_from_config(git_repo: Path) -> None:
    git(git_repo, "branch", "develop")
    commit_file(git_repo, "main-only.txt", "x\n")
    paths, config = ws(git_repo, COORD_BASE_BRANCH="develop")
    assert head(worktree.setup(paths, config, "qa").path) == head(git_repo, "develop")


def test_main_role_gets_no_worktree(git_repo: Path) -> None:
    paths, config = ws(git_repo)
    result = worktree.setup(paths, config, "pm")
    assert result.is_main and result.path == git_repo.resolve() and not result.created
    assert worktree_paths(git_repo) == [str(git_repo.resolve())]
    assert worktree.worktree_path(paths, config, "pm") == paths.main_root


def test_setup_works_from_inside_a_worktree(git_repo: Path) -> None:
    paths, config = ws(git_repo)
    worktree.setup(paths, config, "backend")
    inner_paths, inner_config = ws(git_repo / ".worktrees" / "backend")
    result = worktree.setup(inner_paths, inner_config, "frontend")
    assert result.path == git_repo.resolve() / ".worktrees" / "frontend"


def test_foreign_folder_in_the_way_is_not_overwritten(git_repo: Path) -> None:
    target = git_repo / ".worktrees" / "backend"
    target.mkdir(parents=True)
    (target / "precious.txt").write_text("mine\n")
    paths, config = ws(git_repo)
    with pytest.raises(DirtyStateError, match="not a git worktree"):
        worktree.setup(paths, config, "backend")
    assert (target / "precious.txt").read_text() == "mine\n"
    assert "agent/backend/active" not in branches(git_repo)


def test_worktree_whose_folder_vanished_is_recreated(git_repo: Path) -> None:
    paths, config = ws(git_repo)
    wt = worktree.setup(paths, config, "backend").path
    tip = commit_file(wt, "kept.txt", "committed\n")
    subprocess.run(["rm", "-rf", str(wt)], check=True)
    result = worktree.setup(paths, config, "backend")
    assert result.created and head(wt) == tip
    assert any("gone" in r for r in result.repaired)


def test_branch_checked_out_elsewhere_is_refused(git_repo: Path) -> None:
    git(git_repo, "worktree", "add", "-q", "-b", "agent/backend/active", str(git_repo.parent / "elsewhere"))
    paths, config = ws(git_repo)
    with pytest.raises(DirtyStateError, match="checked out in"):
        worktree.setup(paths, config, "backend")


@pytest.mark.parametrize("role", BAD_ROLES)
def test_bad_roles_are_refused_and_nothing_is_created(git_repo: Path, role: str) -> None:
    before = (git(git_repo, "status", "--porcelain").stdout, branches(git_repo))
    proc = run_coord(git_repo, "agent.setup", role)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("coord: ")
    assert not (git_repo / ".worktrees").exists()
    assert not (git_repo.parent / "x").exists()
    assert (git(git_repo, "status", "--porcelain").stdout, branches(git_repo)) == before


def test_unknown_role_names_the_configured_ones(git_repo: Path) -> None:
    proc = run_coord(git_repo, "agent.setup", "ops")
    assert proc.returncode == 2 and "backend" in proc.stderr
    proc = run_coord(git_repo, "agent.setup", "ops", env=clean_env(COORD_ROLES="pm,ops"))
    assert proc.returncode == 0, proc.stderr
    assert (git_repo / ".worktrees" / "ops").is_dir()


def test_cli_setup_twice_says_it_exists(git_repo: Path) -> None:
    first = run_coord(git_repo, "agent.setup", "backend")
    assert first.returncode == 0, first.stderr
    assert "created worktree .worktrees/backend" in first.stdout
    second = run_coord(git_repo, "agent.setup", "backend")
    assert second.returncode == 0 and "exists" in second.stdout and "nothing to repair" in second.stdout
    main = run_coord(git_repo, "agent.setup", "pm")
    assert main.returncode == 0 and "main checkout" in main.stdout


# --- agent.list ------------------------------------------------------------------------------


def test_list_json_is_empty_array_without_agents(git_repo: Path) -> None:
    proc = run_coord(git_repo, "agent.list", "--json")
    assert proc.returncode == 0 and json.loads(proc.stdout) == []
    table = run_coord(git_repo, "agent.list")
    assert table.returncode == 0 and "no agent worktrees" in table.stdout


def test_list_reports_dirty_ahead_behind_and_only_agent_worktrees(git_repo: Path) -> None:
    paths, config = ws(git_repo)
    back = worktree.setup(paths, config, "backend").path
    front = worktree.setup(paths, config, "frontend").path
    commit_file(back, "one.txt", "1\n")
    commit_file(back, "two.txt", "2\n")
    (front / "README.md").write_text("edited\n")
    commit_file(git_repo, "main.txt", "main\n")
    git(git_repo, "worktree", "add", "-q", "-b", "human", str(git_repo.parent / "human-wt"))
    proc = run_coord(git_repo, "agent.list", "--json", env=clean_env(COORD_REDIS_URL="redis://127.0.0.1:1/0"))
    assert proc.returncode == 0, proc.stderr
    rows = {row["role"]: row for row in json.loads(proc.stdout)}
    assert set(rows) == {"backend", "frontend"}
    assert rows["backend"]["ahead"] == 2 and rows["backend"]["behind"] == 1 and rows["backend"]["dirty"] is False
    assert rows["frontend"]["ahead"] == 0 and rows["frontend"]["behind"] == 1 and rows["frontend"]["dirty"] is True
    assert rows["backend"]["head"] == head(back) and rows["backend"]["branch"] == "agent/backend/active"
    assert rows["backend"]["path"] == str(back)
    assert {row["presence"] for row in rows.values()} == {"unknown"}
    warnings = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(warnings) == 1 and "warning" in warnings[0]
    table = run_coord(git_repo, "agent.list").stdout
    assert "ROLE" in table and "agent/frontend/active" in table and "human" not in table.split("PATH", 1)[1]


def test_list_shows_presence_from_the_real_store(git_repo: Path, coord_env: dict[str, str]) -> None:
    from coord.store import open_store

    paths, config = ws(git_repo, COORD_REDIS_URL=coord_env["COORD_REDIS_URL"],
                       COORD_NAMESPACE=coord_env["COORD_NAMESPACE"])
    worktree.setup(paths, config, "backend")
    worktree.setup(paths, config, "frontend")
    with open_store(paths, config, start_server=False) as store:
        store.register("backend", "session-1", str(paths.main_root / ".worktrees" / "backend"))
    warnings: list[str] = []
    agents = {a.role: a.presence for a in worktree.list_agents(paths, config, warn=warnings.append)}
    assert agents == {"backend": "active", "frontend": "absent"} and warnings == []
    proc = run_coord(git_repo, "agent.list", "--json", env=coord_env)
    assert proc.returncode == 0 and proc.stderr == ""
    assert {r["role"]: r["presence"] for r in json.loads(proc.stdout)} == agents
