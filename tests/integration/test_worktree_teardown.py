"""agent.teardown and agent.restore on real git: nothing is lost, refusals change nothing."""

from __future__ import annotations

import os
import pty
import shlex
from pathlib import Path

import pytest

from coord import git as g
from coord import worktree
from coord.errors import GitError
from coord.identity import role_email
from tests.conftest import git
from tests.integration.test_worktree_support import (
    backup_refs,
    branches,
    clean_env,
    commit_file,
    head,
    run_coord,
    worktree_paths,
    ws,
)

BRANCH = "agent/backend/active"


def agent(repo: Path, role: str = "backend") -> Path:
    paths, config = ws(repo)
    return worktree.setup(paths, config, role).path


def snapshot(repo: Path, wt: Path) -> tuple[object, ...]:
    """Everything a refused teardown must leave as it was."""
    return (
        worktree_paths(repo), sorted(branches(repo)), head(repo, BRANCH) if BRANCH in branches(repo) else None,
        backup_refs(repo), git(wt, "status", "--porcelain").stdout if wt.is_dir() else None,
        sorted(p.name for p in wt.iterdir()) if wt.is_dir() else None,
    )


def test_clean_merged_worktree_is_removed_with_its_branch(git_repo: Path) -> None:
    wt = agent(git_repo)
    proc = run_coord(git_repo, "agent.teardown", "backend")
    assert proc.returncode == 0, proc.stderr
    assert not wt.exists() and BRANCH not in branches(git_repo)
    assert "deleted branch" in proc.stdout and backup_refs(git_repo) == []


def test_clean_unmerged_worktree_is_removed_but_branch_kept(git_repo: Path) -> None:
    wt = agent(git_repo)
    tip = commit_file(wt, "api.py", "api\n")
    proc = run_coord(git_repo, "agent.teardown", "backend")
    assert proc.returncode == 0, proc.stderr
    assert not wt.exists() and head(git_repo, BRANCH) == tip
    assert "kept branch" in proc.stdout
    # the branch can still be merged afterwards
    assert run_coord(git_repo, "agent.merge", "backend").returncode == 0
    assert head(git_repo) == tip


def test_dirty_worktree_without_terminal_is_refused_and_unchanged(git_repo: Path) -> None:
    wt = agent(git_repo)
    commit_file(wt, "api.py", "api\n")
    (wt / "README.md").write_text("changed\n")
    (wt / "new.txt").write_text("untracked\n")
    before = snapshot(git_repo, wt)
    proc = run_coord(git_repo, "agent.teardown", "backend")
    assert proc.returncode == 11, proc.stderr
    assert "uncommitted" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert snapshot(git_repo, wt) == before
    assert (wt / "README.md").read_text() == "changed\n"


def test_merge_flag_refuses_uncommitted_changes(git_repo: Path) -> None:
    wt = agent(git_repo)
    (wt / "README.md").write_text("changed\n")
    before = snapshot(git_repo, wt)
    proc = run_coord(git_repo, "agent.teardown", "backend", "--merge")
    assert proc.returncode == 4 and snapshot(git_repo, wt) == before


def test_merge_flag_merges_then_removes(git_repo: Path) -> None:
    wt = agent(git_repo)
    tip = commit_file(wt, "api.py", "api\n")
    proc = run_coord(git_repo, "agent.teardown", "backend", "--merge")
    assert proc.returncode == 0, proc.stderr
    assert head(git_repo) == tip and (git_repo / "api.py").exists()
    assert not wt.exists() and BRANCH not in branches(git_repo)


def test_merge_flag_with_conflict_changes_nothing(git_repo: Path) -> None:
    wt = agent(git_repo)
    commit_file(wt, "README.md", "backend\n")
    main_tip = commit_file(git_repo, "README.md", "main\n")
    before = snapshot(git_repo, wt)
    proc = run_coord(git_repo, "agent.teardown", "backend", "--merge")
    assert proc.returncode == 1 and "CONFLICT README.md" in proc.stderr
    assert snapshot(git_repo, wt) == before and head(git_repo) == main_tip


def test_merge_and_abandon_together_is_a_usage_error(git_repo: Path) -> None:
    agent(git_repo)
    proc = run_coord(git_repo, "agent.teardown", "backend", "--merge", "--abandon")
    assert proc.returncode == 2


def test_abandon_backs_up_everything_and_the_printed_command_restores_it(git_repo: Path) -> None:
    (git_repo / "gone.txt").write_text("tracked, deleted by the agent\n")
    git(git_repo, "add", "gone.txt")
    git(git_repo, "commit", "-q", "-m", "gone")
    wt = agent(git_repo)
    tip = commit_file(wt, "committed.txt", "committed, unmerged\n")
    (wt / "README.md").write_text("modified, uncommitted\n")
    (wt / "untracked.txt").write_text("untracked\n")
    (wt / "staged.txt").write_text("staged\n")
    git(wt, "add", "staged.txt")
    (wt / "gone.txt").unlink()
    proc = run_coord(git_repo, "agent.teardown", "backend", "--abandon")
    assert proc.returncode == 0, proc.stderr
    assert not wt.exists() and BRANCH not in branches(git_repo)
    [ref] = backup_refs(git_repo)
    assert ref.startswith("refs/coord/backup/backend/")
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("restore it with: "))
    command = shlex.split(line.removeprefix("restore it with: "))
    assert command[0] == "coord"
    restored = run_coord(git_repo, *command[1:])
    assert restored.returncode == 0, restored.stderr
    assert head(wt) == tip and head(git_repo, BRANCH) == tip
    assert (wt / "committed.txt").read_text() == "committed, unmerged\n"
    assert (wt / "README.md").read_text() == "modified, uncommitted\n"
    assert (wt / "untracked.txt").read_text() == "untracked\n"
    assert (wt / "staged.txt").read_text() == "staged\n"
    assert not (wt / "gone.txt").exists()
    status = set(git(wt, "status", "--porcelain").stdout.splitlines())
    assert status == {" M README.md", " D gone.txt", "?? staged.txt", "?? untracked.txt"}
    assert git(wt, "config", "user.email").stdout.strip() == role_email("backend")


def test_yes_backs_up_a_dirty_worktree_before_removing(git_repo: Path) -> None:
    wt = agent(git_repo)
    (wt / "wip.txt").write_text("wip\n")
    proc = run_coord(git_repo, "agent.teardown", "backend", "--yes")
    assert proc.returncode == 0, proc.stderr
    [ref] = backup_refs(git_repo)
    assert not wt.exists()
    assert git(git_repo, "show", f"{ref}:wip.txt").stdout == "wip\n"


def test_terminal_is_asked_and_no_changes_nothing(git_repo: Path) -> None:
    wt = agent(git_repo)
    (wt / "wip.txt").write_text("wip\n")
    for answer, code in ((b"n\n", 11), (b"y\n", 0)):
        before = snapshot(git_repo, wt)
        master, slave = pty.openpty()
        try:
            os.write(master, answer)
            proc = run_coord(git_repo, "agent.teardown", "backend", stdin=slave)
        finally:
            os.close(slave)
            os.close(master)
        assert proc.returncode == code, proc.stderr
        assert "[y/N]" in proc.stdout
        if code:
            assert snapshot(git_repo, wt) == before
    assert not wt.exists() and len(backup_refs(git_repo)) == 1


def test_role_without_worktree_is_not_found(git_repo: Path) -> None:
    proc = run_coord(git_repo, "agent.teardown", "qa")
    assert proc.returncode == 3 and "no worktree" in proc.stderr
    assert run_coord(git_repo, "agent.teardown", "pm").returncode == 2


def test_locked_worktree_is_never_removed(git_repo: Path) -> None:
    wt = agent(git_repo)
    git(git_repo, "worktree", "lock", "--reason", "on a USB stick", str(wt))
    for flags in ((), ("--abandon",), ("--yes",)):
        proc = run_coord(git_repo, "agent.teardown", "backend", *flags)
        assert proc.returncode == 4 and "locked" in proc.stderr
        assert wt.is_dir() and BRANCH in branches(git_repo)


def test_interrupted_teardown_is_finished_by_running_it_again(git_repo: Path) -> None:
    wt = agent(git_repo)
    commit_file(wt, "api.py", "api\n")
    (wt / "wip.txt").write_text("wip\n")
    paths, config = ws(git_repo)
    ref = worktree.make_backup(paths, config, "backend")
    git(git_repo, "worktree", "remove", "--force", str(wt))  # crash after removal, before branch deletion
    proc = run_coord(git_repo, "agent.teardown", "backend")
    assert proc.returncode == 0, proc.stderr
    assert BRANCH not in branches(git_repo) and backup_refs(git_repo) == [ref]
    assert run_coord(git_repo, "agent.teardown", "backend").returncode == 3


def test_unmerged_branch_without_worktree_is_kept(git_repo: Path) -> None:
    wt = agent(git_repo)
    tip = commit_file(wt, "api.py", "api\n")
    git(git_repo, "worktree", "remove", str(wt))
    proc = run_coord(git_repo, "agent.teardown", "backend")
    assert proc.returncode == 3 and "unmerged" in proc.stderr and head(git_repo, BRANCH) == tip
    abandon = run_coord(git_repo, "agent.teardown", "backend", "--abandon")
    assert abandon.returncode == 0 and BRANCH not in branches(git_repo)
    [ref] = backup_refs(git_repo)
    assert g.is_ancestor(git_repo, tip, ref)


def _register(paths, config, wt: Path, seconds_ago: float) -> None:  # type: ignore[no-untyped-def]
    import time

    from coord.store import open_store

    with open_store(paths, config, start_server=False, clock=lambda: time.time() - seconds_ago) as store:
        store.register("backend", "s-1", str(wt))


def test_teardown_deregisters_and_announces_session_end(git_repo: Path, coord_env: dict[str, str]) -> None:
    from coord.presence import Status
    from coord.store import open_store

    paths, config = ws(git_repo, COORD_REDIS_URL=coord_env["COORD_REDIS_URL"],
                       COORD_NAMESPACE=coord_env["COORD_NAMESPACE"])
    wt = worktree.setup(paths, config, "backend").path
    _register(paths, config, wt, seconds_ago=config.stale_seconds + 1)  # a stale session: its agent is gone
    proc = run_coord(git_repo, "agent.teardown", "backend", env=coord_env)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    with open_store(paths, config, start_server=False) as store:
        status = {v.role: v.status for v in store.presence()}["backend"]
        events = [(e.sender, e.type) for e in store.events()]
    assert status == Status.INACTIVE
    assert ("backend", "SESSION_END") in events


@pytest.mark.parametrize("flags", [(), ("--abandon",), ("--merge",), ("--yes",), ("--abandon", "--yes")])
def test_a_live_sessions_worktree_is_never_removed(
    git_repo: Path, coord_env: dict[str, str], flags: tuple[str, ...]
) -> None:
    from coord.presence import Status
    from coord.store import open_store

    paths, config = ws(git_repo, COORD_REDIS_URL=coord_env["COORD_REDIS_URL"],
                       COORD_NAMESPACE=coord_env["COORD_NAMESPACE"])
    wt = worktree.setup(paths, config, "backend").path
    (wt / "work.txt").write_text("in progress\n")
    _register(paths, config, wt, seconds_ago=7)
    proc = run_coord(git_repo, "agent.teardown", "backend", *flags, env=coord_env)
    assert proc.returncode == 6, proc.stderr
    line = proc.stderr.strip()
    assert "\n" not in line and "s-1" in line and " ago" in line and "stale" in line
    assert wt.is_dir() and (wt / "work.txt").read_text() == "in progress\n" and BRANCH in branches(git_repo)
    assert backup_refs(git_repo) == []
    with open_store(paths, config, start_server=False) as store:
        assert {v.role: v.status for v in store.presence()}["backend"] == Status.ACTIVE
        assert ("backend", "SESSION_END") not in [(e.sender, e.type) for e in store.events()]


def test_a_failed_teardown_changes_no_presence_and_sends_nothing(
    git_repo: Path, coord_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from coord.store import open_store

    paths, config = ws(git_repo, COORD_REDIS_URL=coord_env["COORD_REDIS_URL"],
                       COORD_NAMESPACE=coord_env["COORD_NAMESPACE"])
    wt = worktree.setup(paths, config, "backend").path
    _register(paths, config, wt, seconds_ago=config.stale_seconds + 1)
    with open_store(paths, config, start_server=False) as store:
        before = {v.role: v for v in store.presence()}["backend"]

    def failing_remove(*args: object, **kwargs: object) -> None:  # fault injection: git fails mid-teardown
        raise GitError("git worktree failed: fatal: simulated failure")

    monkeypatch.setattr(g, "worktree_remove", failing_remove)
    with pytest.raises(GitError):
        worktree.teardown(paths, config, "backend")
    with open_store(paths, config, start_server=False) as store:
        after = {v.role: v for v in store.presence()}["backend"]
        events = [(e.sender, e.type) for e in store.events()]
    assert (after.status, after.session_id) == (before.status, before.session_id)
    assert ("backend", "SESSION_END") not in events
    assert wt.is_dir()


def test_unreachable_store_is_one_warning_not_a_failure(git_repo: Path) -> None:
    wt = agent(git_repo)
    proc = run_coord(git_repo, "agent.teardown", "backend", env=clean_env(COORD_REDIS_URL="redis://127.0.0.1:1/0"))
    assert proc.returncode == 0 and not wt.exists()
    warnings = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(warnings) == 1 and "warning" in warnings[0]
