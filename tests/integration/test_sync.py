"""agent.sync on real git: the base branch brought into an agent's branch in its own worktree."""

from __future__ import annotations

from pathlib import Path

import pytest

from coord import sync as s
from coord import worktree
from coord.errors import DirtyStateError, InvalidInputError, MergeConflictError, NotFoundError
from tests.conftest import HUMAN_EMAIL, git
from tests.integration.test_worktree_support import commit_file, head, ws

pytestmark = pytest.mark.integration


def agent(repo: Path, role: str = "backend") -> Path:
    paths, config = ws(repo)
    return worktree.setup(paths, config, role).path


def state(wt: Path) -> tuple[str, str, str]:
    """HEAD, porcelain status (untracked too), and whether a merge is in progress."""
    git_dir = git(wt, "rev-parse", "--absolute-git-dir").stdout.strip()
    return head(wt), git(wt, "status", "--porcelain").stdout, str((Path(git_dir) / "MERGE_HEAD").exists())


def test_fast_forward_when_the_branch_has_no_commits_of_its_own(git_repo: Path) -> None:
    wt = agent(git_repo)
    commit_file(git_repo, "a.txt", "a\n")
    tip = commit_file(git_repo, "b.txt", "b\n")
    paths, config = ws(git_repo)
    result = s.sync(paths, config, "backend")
    assert (result.kind, result.commit, result.commits) == ("fast-forward", tip, 2)
    assert head(wt) == tip and head(git_repo, "agent/backend/active") == tip
    assert (wt / "b.txt").read_text() == "b\n" and git(wt, "status", "--porcelain").stdout == ""
    again = s.sync(paths, config, "backend")
    assert again.kind == "up-to-date" and again.commit == tip and again.commits == 0


def test_merge_commit_is_made_by_the_agents_identity(git_repo: Path) -> None:
    wt = agent(git_repo)
    mine = commit_file(wt, "api.py", "api\n")
    base = commit_file(git_repo, "docs.md", "docs\n")
    paths, config = ws(git_repo)
    result = s.sync(paths, config, "backend")
    assert result.kind == "merge" and result.commits == 1 and result.previous == mine
    assert head(wt) == result.commit == head(git_repo, "agent/backend/active")
    assert git(wt, "rev-list", "--parents", "-n", "1", "HEAD").stdout.split()[1:] == [mine, base]
    who = git(wt, "log", "-1", "--format=%an <%ae>|%cn <%ce>").stdout.strip()
    assert who == "coord agent backend <backend@coord.invalid>|coord agent backend <backend@coord.invalid>"
    assert HUMAN_EMAIL not in who
    assert (wt / "docs.md").read_text() == "docs\n" and (wt / "api.py").exists()
    assert git(wt, "status", "--porcelain").stdout == ""
    assert head(git_repo) == base  # the base branch itself is not touched


def test_conflict_lists_files_exits_1_and_changes_nothing(git_repo: Path) -> None:
    wt = agent(git_repo)
    commit_file(wt, "README.md", "backend's\n")
    commit_file(wt, "only-mine.txt", "x\n")
    commit_file(git_repo, "README.md", "main's\n")
    commit_file(git_repo, "new-on-main.txt", "y\n")
    before = state(wt)
    paths, config = ws(git_repo)
    with pytest.raises(MergeConflictError) as info:
        s.sync(paths, config, "backend")
    assert info.value.exit_code == 1 and info.value.files == ("README.md",)
    assert "git merge main" in (info.value.fix or "")
    assert state(wt) == before
    assert (wt / "README.md").read_text() == "backend's\n" and not (wt / "new-on-main.txt").exists()


def test_dirty_worktree_is_refused_with_exit_4_and_nothing_changed(git_repo: Path) -> None:
    wt = agent(git_repo)
    commit_file(git_repo, "a.txt", "a\n")
    (wt / "README.md").write_text("edited, not committed\n")
    before = state(wt)
    paths, config = ws(git_repo)
    with pytest.raises(DirtyStateError) as info:
        s.sync(paths, config, "backend")
    assert info.value.exit_code == 4 and "README.md" in info.value.message
    assert state(wt) == before and (wt / "README.md").read_text() == "edited, not committed\n"


def test_untracked_files_elsewhere_stay_but_one_the_update_would_overwrite_refuses(git_repo: Path) -> None:
    wt = agent(git_repo)
    (wt / "scratch.txt").write_text("mine\n")
    commit_file(git_repo, "a.txt", "a\n")
    paths, config = ws(git_repo)
    assert s.sync(paths, config, "backend").kind == "fast-forward"
    assert (wt / "scratch.txt").read_text() == "mine\n"
    (git_repo / ".gitignore").write_text("*.log\n/.worktrees/\n")
    git(git_repo, "add", ".gitignore")
    git(git_repo, "commit", "-q", "-m", "ignore logs")
    assert s.sync(paths, config, "backend").kind == "fast-forward"
    (wt / "build.log").write_text("agent's log, ignored\n")
    (git_repo / "build.log").write_text("main tracks it\n")
    git(git_repo, "add", "-f", "build.log")
    git(git_repo, "commit", "-q", "-m", "track a log")
    before = state(wt)
    with pytest.raises(DirtyStateError, match=r"build\.log"):
        s.sync(paths, config, "backend")
    assert state(wt) == before and (wt / "build.log").read_text() == "agent's log, ignored\n"


def test_main_role_unknown_role_and_missing_worktree(git_repo: Path) -> None:
    paths, config = ws(git_repo)
    with pytest.raises(InvalidInputError, match="main role"):
        s.sync(paths, config, "pm")
    with pytest.raises(InvalidInputError):
        s.sync(paths, config, "../x")
    with pytest.raises(NotFoundError) as info:
        s.sync(paths, config, "qa")
    assert info.value.exit_code == 3 and "coord agent.setup qa" in (info.value.fix or "")
