"""No merge destroys a file (issue 12, class 2): any untracked, ignored or hidden-edit file that
`agent.merge` (main checkout) or `agent.sync` (agent worktree) would overwrite or delete is named
and the step refused with exit 4 before anything changes. Real git, the real `coord` program."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from coord import sync as syncing
from coord import worktree
from coord.errors import DirtyStateError
from tests.conftest import git
from tests.integration.test_worktree_support import commit_file, head, run_coord, ws


def agent(repo: Path) -> Path:
    paths, config = ws(repo)
    return worktree.setup(paths, config, "backend").path


def remove_file(repo: Path, rel: str) -> None:
    git(repo, "rm", "-q", rel)
    git(repo, "commit", "-q", "-m", f"remove {rel}")


def state(repo: Path) -> tuple[str, str, bool]:
    git_dir = Path(git(repo, "rev-parse", "--absolute-git-dir").stdout.strip())
    return head(repo), git(repo, "status", "--porcelain", "--ignored").stdout, (git_dir / "MERGE_HEAD").exists()


def _ignored_file_where_the_branch_adds_one(repo: Path, wt: Path) -> tuple[str, bytes]:
    (repo / ".git" / "info" / "exclude").write_text("local.db\n")
    (repo / "local.db").write_bytes(b"the user's data")
    git(wt, "add", "-f", commit_file_path(wt, "local.db", "the agent's version\n"))
    git(wt, "commit", "-q", "-m", "a db")
    return "local.db", b"the user's data"


def _untracked_file_where_the_branch_adds_one(repo: Path, wt: Path) -> tuple[str, bytes]:
    (repo / "notes.txt").write_text("mine\n")
    commit_file(wt, "notes.txt", "agent\n")
    return "notes.txt", b"mine\n"


def _untracked_folder_where_the_branch_adds_a_file(repo: Path, wt: Path) -> tuple[str, bytes]:
    (repo / "out").mkdir()
    (repo / "out" / "result.csv").write_text("1,2\n")
    commit_file(wt, "out", "now a file\n")
    return "out/result.csv", b"1,2\n"


def _ignored_file_where_the_branch_adds_a_folder(repo: Path, wt: Path) -> tuple[str, bytes]:
    (repo / ".git" / "info" / "exclude").write_text("logs\n")
    (repo / "logs").write_text("a log file the user keeps\n")
    git(wt, "add", "-f", commit_file_path(wt, "logs/app/readme.txt", "folder now\n"))
    git(wt, "commit", "-q", "-m", "logs folder")
    return "logs", b"a log file the user keeps\n"


def _ignored_file_in_a_folder_that_becomes_a_file(repo: Path, wt: Path) -> tuple[str, bytes]:
    commit_file(repo, "data/a.txt", "tracked\n")
    git(wt, "merge", "-q", "--ff-only", "main")
    (repo / ".git" / "info" / "exclude").write_text("*.bin\n")
    (repo / "data" / "cache.bin").write_bytes(b"expensive cache")
    remove_file(wt, "data/a.txt")
    commit_file(wt, "data", "a file now\n")
    return "data/cache.bin", b"expensive cache"


def _assume_unchanged_edit(repo: Path, wt: Path) -> tuple[str, bytes]:
    commit_file(repo, "settings.ini", "committed\n")
    git(wt, "merge", "-q", "--ff-only", "main")
    git(repo, "update-index", "--assume-unchanged", "settings.ini")
    (repo / "settings.ini").write_text("local edit git does not see\n")
    commit_file(wt, "settings.ini", "agent\n")
    return "settings.ini", b"local edit git does not see\n"


def _skip_worktree_edit(repo: Path, wt: Path) -> tuple[str, bytes]:
    commit_file(repo, "config.yml", "committed\n")
    git(wt, "merge", "-q", "--ff-only", "main")
    git(repo, "update-index", "--skip-worktree", "config.yml")
    (repo / "config.yml").write_text("hidden local edit\n")
    remove_file(wt, "config.yml")
    return "config.yml", b"hidden local edit\n"


def commit_file_path(wt: Path, rel: str, text: str) -> str:
    (wt / rel).parent.mkdir(parents=True, exist_ok=True)
    (wt / rel).write_text(text)
    return rel


CASES = [
    _ignored_file_where_the_branch_adds_one, _untracked_file_where_the_branch_adds_one,
    _untracked_folder_where_the_branch_adds_a_file, _ignored_file_where_the_branch_adds_a_folder,
    _ignored_file_in_a_folder_that_becomes_a_file, _assume_unchanged_edit, _skip_worktree_edit,
]


@pytest.mark.parametrize("diverged", [False, True], ids=["fast-forward", "merge-commit"])
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.__name__.strip("_"))
def test_merge_refuses_to_destroy_a_file_in_the_main_checkout(
    git_repo: Path, case: Callable[[Path, Path], tuple[str, bytes]], diverged: bool
) -> None:
    wt = agent(git_repo)
    rel, content = case(git_repo, wt)
    if diverged:
        commit_file(git_repo, "elsewhere.txt", "main moved on\n")
    before = state(git_repo)
    proc = run_coord(git_repo, "agent.merge", "backend")
    assert proc.returncode == 4, (proc.stdout, proc.stderr)
    assert rel.split("/")[0] in proc.stderr and "nothing was changed" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert state(git_repo) == before and (git_repo / rel).read_bytes() == content


def test_ignored_files_the_merge_does_not_touch_stay_and_the_merge_goes_on(git_repo: Path) -> None:
    wt = agent(git_repo)
    (git_repo / ".git" / "info" / "exclude").write_text("*.db\n")
    (git_repo / "keep.db").write_bytes(b"kept")
    tip = commit_file(wt, "api.py", "api\n")
    proc = run_coord(git_repo, "agent.merge", "backend")
    assert proc.returncode == 0, proc.stderr
    assert head(git_repo) == tip and (git_repo / "keep.db").read_bytes() == b"kept"


@pytest.mark.parametrize("diverged", [False, True], ids=["fast-forward", "merge-commit"])
def test_sync_refuses_to_destroy_a_hidden_edit_in_the_agent_worktree(
    git_repo: Path, diverged: bool
) -> None:
    wt = agent(git_repo)
    commit_file(git_repo, "shared.cfg", "v1\n")
    git(wt, "merge", "-q", "--ff-only", "main")
    git(wt, "update-index", "--assume-unchanged", "shared.cfg")
    (wt / "shared.cfg").write_text("agent's hidden edit\n")
    commit_file(git_repo, "shared.cfg", "v2\n")
    if diverged:
        commit_file(wt, "mine.py", "x\n")
    paths, config = ws(git_repo)
    before = state(wt)
    with pytest.raises(DirtyStateError) as info:
        syncing.sync(paths, config, "backend")
    assert info.value.exit_code == 4 and "shared.cfg" in info.value.message
    assert state(wt) == before and (wt / "shared.cfg").read_text() == "agent's hidden edit\n"

