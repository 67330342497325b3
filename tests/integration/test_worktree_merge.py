"""agent.merge on real git: fast-forward, merge commit, conflicts found before anything changes."""

from __future__ import annotations

from pathlib import Path

import pytest

from coord import git as g
from coord import worktree
from coord.errors import DirtyStateError, MergeConflictError, NotFoundError
from tests.conftest import git
from tests.integration.test_worktree_support import commit_file, head, run_coord, ws


def agent(repo: Path, role: str = "backend") -> Path:
    paths, config = ws(repo)
    return worktree.setup(paths, config, role).path


def tracked_status(repo: Path) -> str:
    return git(repo, "status", "--porcelain", "--untracked-files=no").stdout


def test_fast_forward_when_main_has_not_moved(git_repo: Path) -> None:
    wt = agent(git_repo)
    tip = commit_file(wt, "api.py", "print('api')\n")
    proc = run_coord(git_repo, "agent.merge", "backend")
    assert proc.returncode == 0, proc.stderr
    assert "fast-forwarded" in proc.stdout
    assert head(git_repo) == tip
    assert (git_repo / "api.py").read_text() == "print('api')\n"


def test_merge_commit_when_main_moved(git_repo: Path) -> None:
    wt = agent(git_repo)
    tip = commit_file(wt, "api.py", "api\n")
    main_before = commit_file(git_repo, "docs.md", "docs\n")
    paths, config = ws(git_repo)
    result = worktree.merge(paths, config, "backend")
    assert result.kind == "merge"
    assert head(git_repo) == result.commit
    assert git(git_repo, "rev-list", "--parents", "-n", "1", "HEAD").stdout.split()[1:] == [main_before, tip]
    message = git(git_repo, "log", "-1", "--format=%B").stdout
    assert "agent/backend/active" in message and "role backend" in message
    assert (git_repo / "api.py").exists() and (git_repo / "docs.md").exists()
    assert tracked_status(git_repo) == ""
    again = worktree.merge(paths, config, "backend")
    assert again.kind == "up-to-date" and head(git_repo) == result.commit


def test_conflict_lists_files_exits_1_and_leaves_main_untouched(git_repo: Path) -> None:
    wt = agent(git_repo)
    commit_file(wt, "README.md", "backend's readme\n")
    commit_file(wt, "shared.txt", "backend\n")
    commit_file(wt, "only-backend.txt", "fine\n")
    commit_file(git_repo, "README.md", "main's readme\n")
    commit_file(git_repo, "shared.txt", "main\n")
    before = head(git_repo)
    proc = run_coord(git_repo, "agent.merge", "backend")
    assert proc.returncode == 1, proc.stderr
    assert "CONFLICT README.md" in proc.stderr and "CONFLICT shared.txt" in proc.stderr
    assert "only-backend.txt" not in proc.stderr
    assert head(git_repo) == before
    assert not (git_repo / ".git" / "MERGE_HEAD").exists()
    assert tracked_status(git_repo) == ""
    assert (git_repo / "README.md").read_text() == "main's readme\n"
    assert "<<<<<<<" not in (git_repo / "shared.txt").read_text()
    assert not (git_repo / "only-backend.txt").exists()


def test_conflict_error_carries_the_files(git_repo: Path) -> None:
    wt = agent(git_repo)
    commit_file(wt, "README.md", "a\n")
    commit_file(git_repo, "README.md", "b\n")
    paths, config = ws(git_repo)
    with pytest.raises(MergeConflictError) as info:
        worktree.merge(paths, config, "backend")
    assert info.value.files == ("README.md",) and info.value.exit_code == 1


def test_dirty_main_checkout_is_refused_and_kept(git_repo: Path) -> None:
    wt = agent(git_repo)
    commit_file(wt, "api.py", "api\n")
    (git_repo / "README.md").write_text("uncommitted human edit\n")
    before = head(git_repo)
    proc = run_coord(git_repo, "agent.merge", "backend")
    assert proc.returncode == 4 and "uncommitted" in proc.stderr and "README.md" in proc.stderr
    assert head(git_repo) == before
    assert (git_repo / "README.md").read_text() == "uncommitted human edit\n"
    assert git(git_repo, "stash", "list").stdout == ""


def test_main_checkout_on_another_branch_is_refused(git_repo: Path) -> None:
    wt = agent(git_repo)
    commit_file(wt, "api.py", "api\n")
    paths, config = ws(git_repo, COORD_BASE_BRANCH="main")
    git(git_repo, "switch", "-q", "-c", "feature")
    with pytest.raises(DirtyStateError, match="not the base branch main"):
        worktree.merge(paths, config, "backend")
    assert head(git_repo, "main") != head(wt)


def test_missing_branch_is_not_found(git_repo: Path) -> None:
    proc = run_coord(git_repo, "agent.merge", "qa")
    assert proc.returncode == 3 and "agent/qa/active" in proc.stderr
    paths, config = ws(git_repo)
    with pytest.raises(NotFoundError):
        worktree.merge(paths, config, "qa")


def test_uncommitted_work_in_the_agent_worktree_is_warned_about(git_repo: Path) -> None:
    wt = agent(git_repo)
    commit_file(wt, "api.py", "api\n")
    (wt / "wip.py").write_text("not committed\n")
    proc = run_coord(git_repo, "agent.merge", "backend")
    assert proc.returncode == 0
    assert "warning" in proc.stderr and "wip.py" in proc.stderr and "not part of this merge" in proc.stderr
    assert not (git_repo / "wip.py").exists()
    assert (wt / "wip.py").exists()


def test_merge_tree_adapter_reports_clean_and_conflicted(git_repo: Path) -> None:
    wt = agent(git_repo)
    commit_file(wt, "x.txt", "x\n")
    clean = g.merge_tree(git_repo, "main", "agent/backend/active")
    assert clean.clean and clean.tree and clean.conflicted_files == ()
    commit_file(wt, "README.md", "a\n")
    commit_file(git_repo, "README.md", "b\n")
    conflicted = g.merge_tree(git_repo, "main", "agent/backend/active")
    assert not conflicted.clean and conflicted.conflicted_files == ("README.md",)
    assert g.ahead_behind(git_repo, "agent/backend/active", "main") == (2, 1)
    assert g.current_branch(git_repo) == "main" and g.rev_parse(git_repo, "nope") is None
    assert g.is_dirty(git_repo) is True  # .gitignore written by setup, untracked
    assert g.is_dirty(git_repo, untracked=False) is False
