"""coord.git's one runner against real git: errors, environment, no terminal, threads."""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from coord import git
from coord.errors import EnvironmentProblemError, GitError, InvalidInputError

pytestmark = pytest.mark.integration

EMPTY_BLOB = "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391"


def test_a_failure_is_one_git_error_with_exit_code_7_and_gits_own_line(git_repo: Path) -> None:
    with pytest.raises(GitError) as caught:
        git.run(git_repo, "rev-parse", "--verify", "refs/heads/no-such-branch")
    assert caught.value.exit_code == 7
    assert caught.value.line().startswith("coord: git rev-parse failed: fatal:")
    assert git.run(git_repo, "rev-parse", "--verify", "nope", ok=(0, 128)).code == 128


def test_git_variables_of_a_calling_hook_are_dropped_unless_kept(
    git_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GIT_DIR", str(tmp_path / "elsewhere"))
    assert git.out(git_repo, "rev-parse", "--absolute-git-dir") == str((git_repo / ".git").resolve())
    with pytest.raises(GitError):
        git.run(git_repo, "rev-parse", "--absolute-git-dir", keep_git_env=True)


def test_env_overrides_reach_git(git_repo: Path) -> None:
    ident = git.out(git_repo, "var", "GIT_AUTHOR_IDENT", env={"GIT_AUTHOR_NAME": "Runner Test"})
    assert ident.startswith("Runner Test <")


def test_no_terminal_stdin_is_empty_unless_given(git_repo: Path) -> None:
    assert git.out(git_repo, "hash-object", "--stdin") == EMPTY_BLOB
    given = git.run(git_repo, "hash-object", "--stdin", stdin="hello\n").stdout.strip()
    assert given == subprocess.run(["git", "hash-object", "--stdin"], input=b"hello\n", capture_output=True,
                                   cwd=git_repo, check=True).stdout.decode().strip()


def test_no_pager_even_when_one_is_configured(git_repo: Path) -> None:
    git.run(git_repo, "config", "core.pager", "false")  # a pager that fails would make git log fail
    assert "initial" in git.out(git_repo, "log", "--oneline", env={"PAGER": "false", "GIT_PAGER": "false"})


def test_many_threads_run_git_at_once(git_repo: Path) -> None:
    head = git.out(git_repo, "rev-parse", "HEAD")

    def one(i: int) -> str:
        if i % 5 == 0:
            with pytest.raises(GitError):
                git.run(git_repo, "rev-parse", "--verify", f"missing-{i}")
        return git.out(git_repo, "rev-parse", "HEAD")

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert set(pool.map(one, range(200))) == {head}


def test_missing_git_and_nul_arguments_are_clear_errors(git_repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(InvalidInputError):
        git.run(git_repo, "rev-parse", "a\0b")
    monkeypatch.setenv("PATH", str(git_repo / "no-bin-here"))
    with pytest.raises(EnvironmentProblemError):
        git.run(git_repo, "status")


def test_running_git_never_imports_sh(git_repo: Path) -> None:
    code = ("import sys; from pathlib import Path; from coord import git, worktree; "
            f"git.run(Path({str(git_repo)!r}), 'status'); print('sh' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == "False"
