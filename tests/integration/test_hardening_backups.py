"""Backups capture everything an agent has, or refuse naming what they cannot (issue 12, class 1):
nested repositories, operations in progress, sparse checkouts, ignored files. Each case tears a
worktree down with `coord agent.teardown --abandon` (or without flags) and brings it back with
`coord agent.restore`, on real git, and compares what the agent had with what came back."""

from __future__ import annotations

from pathlib import Path

import pytest

from coord import worktree
from coord.worktree import backup
from tests.conftest import git
from tests.integration.test_worktree_support import backup_refs, branches, commit_file, head, run_coord, ws

BRANCH = "agent/backend/active"


def agent(repo: Path, role: str = "backend") -> Path:
    paths, config = ws(repo)
    return worktree.setup(paths, config, role).path


def abandon_and_restore(repo: Path, *flags: str) -> tuple[str, str]:
    down = run_coord(repo, "agent.teardown", "backend", *flags)
    assert down.returncode == 0, down.stderr
    assert not (repo / ".worktrees" / "backend").exists()
    up = run_coord(repo, "agent.restore", "backend")
    assert up.returncode == 0, up.stderr
    return down.stdout, up.stdout


def nested_repo(where: Path, name: str = "lib") -> dict[str, str]:
    """A repository with two branches, a remote, an uncommitted change and an untracked file."""
    where.mkdir(parents=True, exist_ok=True)
    git(where, "init", "-q", "-b", "main")
    git(where, "config", "user.name", "Vendor")
    git(where, "config", "user.email", "vendor@example.com")
    git(where, "config", "commit.gpgsign", "false")
    git(where, "remote", "add", "origin", f"https://example.com/{name}.git")
    tips = {"main": commit_file(where, "v.txt", "v1\n")}
    git(where, "checkout", "-q", "-b", "feature")
    tips["feature"] = commit_file(where, "f.txt", "feature\n")
    git(where, "tag", "-a", "v1", "-m", "release 1")
    git(where, "checkout", "-q", "main")
    tips["main"] = commit_file(where, "v.txt", "v2\n")
    (where / "v.txt").write_text("uncommitted\n")
    (where / "new.txt").write_text("untracked\n")
    return tips


def assert_nested_back(where: Path, tips: dict[str, str]) -> None:
    assert (where / ".git").is_dir()
    assert head(where, "refs/heads/main") == tips["main"] and head(where, "refs/heads/feature") == tips["feature"]
    assert git(where, "symbolic-ref", "--short", "HEAD").stdout.strip() == "main"
    assert (where / "v.txt").read_text() == "uncommitted\n" and (where / "new.txt").read_text() == "untracked\n"
    assert git(where, "status", "--porcelain").stdout.splitlines() == [" M v.txt", "?? new.txt"]
    assert git(where, "config", "remote.origin.url").stdout.strip() == "https://example.com/lib.git"
    assert head(where, "v1") == tips["feature"]
    assert git(where, "fsck", "--no-progress").returncode == 0


@pytest.mark.parametrize("rel", ["vendor/lib", "lib", "deep/er/still/lib"])
def test_untracked_nested_repository_comes_back_with_history_and_uncommitted_files(git_repo: Path, rel: str) -> None:
    wt = agent(git_repo)
    tips = nested_repo(wt / rel)
    down, _up = abandon_and_restore(git_repo, "--abandon")
    assert "saved all of backend's work" in down
    assert_nested_back(git_repo / ".worktrees" / "backend" / rel, tips)
    assert not [r for r in git(git_repo, "for-each-ref", "refs/coord/tmp").stdout.splitlines()]


def test_ignored_nested_repository_in_a_clean_worktree_is_saved_by_a_plain_teardown(git_repo: Path) -> None:
    wt = agent(git_repo)
    commit_file(wt, ".gitignore", "vendor/\n")
    tips = nested_repo(wt / "vendor" / "lib")
    assert git(wt, "status", "--porcelain").stdout == ""  # git calls this worktree clean
    down, _ = abandon_and_restore(git_repo)
    assert "saved all" in down and backup_refs(git_repo)
    assert_nested_back(git_repo / ".worktrees" / "backend" / "vendor" / "lib", tips)


def test_repository_nested_in_a_nested_repository(git_repo: Path) -> None:
    wt = agent(git_repo)
    outer = nested_repo(wt / "vendor" / "lib")
    inner = nested_repo(wt / "vendor" / "lib" / "third_party" / "lib")
    abandon_and_restore(git_repo, "--abandon")
    back = git_repo / ".worktrees" / "backend" / "vendor" / "lib"
    assert head(back, "refs/heads/main") == outer["main"]
    assert_nested_back(back / "third_party" / "lib", inner)
    # the outer nested repository does not record the inner one as its own file
    assert "third_party" not in git(back, "ls-files").stdout


def test_nested_repository_without_commits(git_repo: Path) -> None:
    wt = agent(git_repo)
    fresh = wt / "scratch"
    fresh.mkdir()
    git(fresh, "init", "-q", "-b", "main")
    (fresh / "notes.md").write_text("only files\n")
    abandon_and_restore(git_repo, "--abandon")
    back = git_repo / ".worktrees" / "backend" / "scratch"
    assert (back / "notes.md").read_text() == "only files\n" and (back / ".git").is_dir()


def test_checkout_linked_to_a_repository_elsewhere_comes_back(git_repo: Path, tmp_path: Path) -> None:
    wt = agent(git_repo)
    elsewhere = tmp_path / "elsewhere.git"
    linked = wt / "linked"
    git(tmp_path, "init", "-q", "-b", "main", "--separate-git-dir", str(elsewhere), str(linked))
    tip = commit_file(linked, "a.txt", "committed\n")
    (linked / "work.txt").write_text("uncommitted\n")
    down, _ = abandon_and_restore(git_repo, "--abandon")
    assert "saved all" in down
    back = git_repo / ".worktrees" / "backend" / "linked"
    assert head(back) == tip and (back / "work.txt").read_text() == "uncommitted\n"


def test_submodule_with_unpushed_commits_and_edits_comes_back(git_repo: Path, tmp_path: Path) -> None:
    """A submodule's repository lives in the worktree's own git dir (modules/): removing the
    worktree deletes it, and with it commits that exist nowhere else."""
    upstream = tmp_path / "upstream"
    nested_repo(upstream)
    git(upstream, "checkout", "-q", "--", ".")
    git(upstream, "clean", "-fdq")
    git(git_repo, "-c", "protocol.file.allow=always", "submodule", "add", "-q", str(upstream), "sub")
    git(git_repo, "commit", "-q", "-m", "add a submodule")
    wt = agent(git_repo)
    git(wt, "-c", "protocol.file.allow=always", "submodule", "update", "-q", "--init")
    git(wt / "sub", "config", "user.email", "agent@example.com")
    git(wt / "sub", "config", "user.name", "Agent")
    git(wt / "sub", "checkout", "-q", "-b", "fix")
    unpushed = commit_file(wt / "sub", "fix.txt", "only here\n")
    (wt / "sub" / "v.txt").write_text("edited in the submodule\n")
    down, _ = abandon_and_restore(git_repo, "--abandon")
    assert "saved all" in down
    back = git_repo / ".worktrees" / "backend" / "sub"
    assert head(back) == unpushed and git(back, "symbolic-ref", "--short", "HEAD").stdout.strip() == "fix"
    assert (back / "v.txt").read_text() == "edited in the submodule\n"
    assert git(back, "config", "remote.origin.url").stdout.strip() == str(upstream)


def test_nested_checkout_git_cannot_open_is_refused_unchanged(git_repo: Path, tmp_path: Path) -> None:
    wt = agent(git_repo)
    broken = wt / "broken"
    broken.mkdir()
    (broken / ".git").write_text(f"gitdir: {tmp_path / 'gone.git'}\n")
    (broken / "work.txt").write_text("uncommitted\n")
    proc = run_coord(git_repo, "agent.teardown", "backend", "--abandon")
    assert proc.returncode == 4, proc.stderr
    assert "broken" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert wt.is_dir() and (broken / "work.txt").exists() and backup_refs(git_repo) == []


def _conflicting_branch(repo: Path, wt: Path) -> tuple[str, list[str]]:
    """The base moves README one way, the agent twice another way: any rebase or merge conflicts."""
    commit_file(repo, "README.md", "base\n")
    ours = [commit_file(wt, "README.md", "agent 1\n"), commit_file(wt, "api.py", "api\n")]
    return head(repo), ours


def test_rebase_in_progress_restores_the_branch_with_the_agents_commits(git_repo: Path) -> None:
    wt = agent(git_repo)
    _base, ours = _conflicting_branch(git_repo, wt)
    assert git(wt, "rebase", "main", check=False).returncode != 0
    assert (Path(git(wt, "rev-parse", "--absolute-git-dir").stdout.strip()) / "rebase-merge").is_dir()
    (wt / "README.md").write_text("resolving\n")
    _down, up = abandon_and_restore(git_repo, "--abandon")
    assert "rebase was in progress" in up
    back = git_repo / ".worktrees" / "backend"
    assert head(back) == ours[-1] and head(git_repo, BRANCH) == ours[-1]
    assert git(back, "status", "--porcelain").stdout == ""
    ref = backup_refs(git_repo)[-1]
    assert git(git_repo, "show", f"{ref}:README.md").stdout == "resolving\n"  # the half-done state kept


def test_merge_in_progress_keeps_the_merged_commits_and_the_resolution(git_repo: Path) -> None:
    wt = agent(git_repo)
    git(git_repo, "checkout", "-q", "-b", "other")
    theirs = commit_file(git_repo, "README.md", "theirs\n")
    git(git_repo, "checkout", "-q", "main")
    commit_file(wt, "README.md", "ours\n")
    assert git(wt, "merge", "other", check=False).returncode != 0
    (wt / "README.md").write_text("resolved\n")
    git(git_repo, "branch", "-D", "other")  # the merged commit now lives only in MERGE_HEAD
    _down, up = abandon_and_restore(git_repo, "--abandon")
    assert "merge was in progress" in up
    ref = backup_refs(git_repo)[-1]
    assert git(git_repo, "merge-base", "--is-ancestor", theirs, ref, check=False).returncode == 0
    assert (git_repo / ".worktrees" / "backend" / "README.md").read_text() == "resolved\n"


def test_cherry_pick_in_progress_keeps_the_picked_commit(git_repo: Path) -> None:
    wt = agent(git_repo)
    git(git_repo, "checkout", "-q", "-b", "donor")
    picked = commit_file(git_repo, "README.md", "donor\n")
    git(git_repo, "checkout", "-q", "main")
    mine = commit_file(wt, "README.md", "mine\n")
    assert git(wt, "cherry-pick", picked, check=False).returncode != 0
    git(git_repo, "branch", "-D", "donor")
    abandon_and_restore(git_repo, "--abandon")
    ref = backup_refs(git_repo)[-1]
    assert git(git_repo, "merge-base", "--is-ancestor", picked, ref, check=False).returncode == 0
    assert head(git_repo / ".worktrees" / "backend") == mine


def test_am_in_progress_restores_the_branch(git_repo: Path, tmp_path: Path) -> None:
    wt = agent(git_repo)
    commit_file(git_repo, "README.md", "patched upstream\n")
    patch = git(git_repo, "format-patch", "-1", "--stdout").stdout
    (tmp_path / "p.patch").write_text(patch)
    mine = commit_file(wt, "README.md", "mine\n")
    assert git(wt, "am", str(tmp_path / "p.patch"), check=False).returncode != 0
    _, up = abandon_and_restore(git_repo, "--abandon")
    assert "am was in progress" in up
    assert head(git_repo / ".worktrees" / "backend") == mine


@pytest.mark.parametrize("cone", [True, False])
def test_sparse_checkout_is_backed_up_without_losing_or_deleting_files(git_repo: Path, cone: bool) -> None:
    for rel in ("a/x.txt", "b/y.txt", "c/z.txt"):
        commit_file(git_repo, rel, f"{rel}\n")
    wt = agent(git_repo)
    git(wt, "sparse-checkout", "set", *(["a"] if cone else ["--no-cone", "/a/"]))
    assert not (wt / "b" / "y.txt").exists()
    (wt / "a" / "x.txt").write_text("changed in the cone\n")
    (wt / "b").mkdir(exist_ok=True)
    (wt / "b" / "new.txt").write_text("created outside the cone\n")
    definition = git(wt, "sparse-checkout", "list").stdout
    _, up = abandon_and_restore(git_repo, "--abandon")
    ref = backup_refs(git_repo)[-1]
    saved = git(git_repo, "ls-tree", "-r", "--name-only", ref).stdout.split()
    assert {"b/y.txt", "c/z.txt", "a/x.txt", "b/new.txt"} <= set(saved)  # none deleted
    back = git_repo / ".worktrees" / "backend"
    assert (back / "a" / "x.txt").read_text() == "changed in the cone\n"
    assert (back / "b" / "new.txt").read_text() == "created outside the cone\n"
    assert "sparse checkout again" in up
    assert git(back, "sparse-checkout", "list").stdout == definition
    assert not (back / "c" / "z.txt").exists()  # narrowed again: outside the definition, unchanged
    assert "?? b/new.txt" in git(back, "status", "--porcelain").stdout
    assert " M a/x.txt" in git(back, "status", "--porcelain").stdout


def test_ignored_files_are_saved_and_unchanged_copies_are_not(git_repo: Path) -> None:
    commit_file(git_repo, ".gitignore", ".env\n.env.example.local\nbuild/\n")
    commit_file(git_repo, ".worktreeinclude", ".env\n.env.example.local\n")
    (git_repo / ".env").write_text("TOKEN=main\n")
    (git_repo / ".env.example.local").write_text("copied, untouched\n")
    wt = agent(git_repo)
    assert (wt / ".env").read_text() == "TOKEN=main\n"
    (wt / ".env").write_text("TOKEN=agent\n")
    (wt / "build").mkdir()
    (wt / "build" / "out.bin").write_bytes(b"\x00\x01built")
    down, _ = abandon_and_restore(git_repo)  # a clean worktree: git would delete these silently
    assert "saved all" in down
    ref = backup_refs(git_repo)[-1]
    saved = git(git_repo, "ls-tree", "-r", "--name-only", ref).stdout.split()
    assert ".env" in saved and "build/out.bin" in saved and ".env.example.local" not in saved
    back = git_repo / ".worktrees" / "backend"
    assert (back / ".env").read_text() == "TOKEN=agent\n"
    assert (back / "build" / "out.bin").read_bytes() == b"\x00\x01built"
    assert git(back, "status", "--porcelain").stdout == ""


def test_ignored_files_over_the_limit_are_named_and_saved_all_is_not_said(
    git_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    commit_file(git_repo, ".gitignore", "cache/\n.env\n")
    wt = agent(git_repo)
    (wt / "cache").mkdir()
    for i in range(5):
        (wt / "cache" / f"f{i}").write_text(f"{i}\n")
    (wt / ".env").write_text("SECRET=1\n")
    monkeypatch.setattr(backup, "IGNORED_MAX_FILES", 3)
    paths, config = ws(git_repo)
    result = worktree.teardown(paths, config, "backend", mode="abandon")
    assert result.saved_ignored == 1 and result.unsaved == ["cache/ (5 files, 0.0 MB)"]
    assert result.backup_ref
    saved = git(git_repo, "ls-tree", "-r", "--name-only", result.backup_ref).stdout.split()
    assert ".env" in saved and not [p for p in saved if p.startswith("cache/")]


def test_clean_teardown_without_ignored_work_makes_no_backup(git_repo: Path) -> None:
    agent(git_repo)
    proc = run_coord(git_repo, "agent.teardown", "backend")
    assert proc.returncode == 0 and backup_refs(git_repo) == [] and BRANCH not in branches(git_repo)


@pytest.mark.parametrize("when", ["before", "after"])
def test_abandon_with_a_nested_repository_and_a_merge_in_progress_killed_half_way(tmp_path: Path, when: str) -> None:
    """The fast subset of tests/stress/test_backup_crashes.py: one kill point, before and after its git call."""
    from tests.stress import backup_crashes

    total = backup_crashes.count_git_calls(tmp_path)
    backup_crashes.kill_and_rerun(tmp_path, max(1, total * 2 // 3), when)


def test_the_teardown_command_says_saved_all_only_when_true(
    git_repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The task's words, in process (the limit is lowered for the test): what was left out is named."""
    from invoke import Config, Context

    from coord.tasks import namespace
    from coord.tasks.agent import teardown

    commit_file(git_repo, ".gitignore", "cache/\n")
    wt = agent(git_repo)
    (wt / "cache").mkdir()
    for i in range(4):
        (wt / "cache" / f"f{i}").write_text(f"{i}\n")
    (wt / "work.txt").write_text("uncommitted\n")
    monkeypatch.setattr(backup, "IGNORED_MAX_FILES", 3)
    monkeypatch.chdir(git_repo)
    for name in ("COORD_REDIS_URL", "COORD_NAMESPACE"):
        monkeypatch.delenv(name, raising=False)
    teardown.body(Context(Config(overrides=namespace.configuration())), role="backend", abandon=True)
    out = capsys.readouterr().out
    assert "saved all" not in out
    assert "saved backend's work under refs/coord/backup/backend/" in out and "cache/ (4 files" in out
