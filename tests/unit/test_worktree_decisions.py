"""Pure decisions of coord.worktree and coord.git parsers: no git, no server."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from coord.config import Config
from coord.errors import ConfirmationRequiredError, DirtyStateError, InvalidInputError, NotFoundError
from coord.git import parse_merge_tree, parse_worktree_list
from coord.repo import RepoPaths
from coord.tasks.session import launch_command
from coord.worktree import (
    AgentInfo,
    TeardownFacts,
    TeardownPlan,
    agent_branch,
    backup_ref,
    backup_stamp,
    decide_teardown,
    format_table,
    gitignore_with_entry,
    include_candidates,
    restore_command,
    worktree_path,
)

ROOT = Path("/repo")
PATHS = RepoPaths(toplevel=ROOT, git_dir=ROOT / ".git", common_dir=ROOT / ".git", main_root=ROOT)

CLEAN_MERGED = TeardownFacts(
    has_worktree=True, folder_exists=True, locked=False, lock_reason=None, dirty_files=(), branch_exists=True,
    merged=True, backed_up=False, head_safe=True, unmerged_commits=0,
)
DIRTY = replace(CLEAN_MERGED, dirty_files=(" M a.py", "?? new.txt"), merged=False, unmerged_commits=2)


def test_paths_and_branches() -> None:
    config = Config()
    assert worktree_path(PATHS, config, "backend") == ROOT / ".worktrees" / "backend"
    assert worktree_path(PATHS, config, "pm") == ROOT
    assert worktree_path(PATHS, replace(config, worktree_dir="agents"), "qa") == ROOT / "agents" / "qa"
    assert agent_branch("backend") == "agent/backend/active"
    with pytest.raises(InvalidInputError):
        worktree_path(PATHS, config, "../x")
    with pytest.raises(InvalidInputError):
        agent_branch("x$(id)")


def test_backup_names_are_sortable_utc_and_restorable() -> None:
    local = datetime(2026, 3, 1, 12, 0, 5, tzinfo=timezone(timedelta(hours=2)))
    assert backup_stamp(local) == "20260301T100005Z"
    assert backup_stamp(datetime(2026, 3, 1, 10, 0, 6, tzinfo=UTC)) > backup_stamp(local)
    ref = backup_ref("backend", "20260301T100005Z")
    assert ref == "refs/coord/backup/backend/20260301T100005Z"
    assert restore_command("backend", ref) == f"coord agent.restore backend --ref {ref}"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (None, "/.worktrees/\n"),
        ("", "/.worktrees/\n"),
        ("*.log", "*.log\n/.worktrees/\n"),
        ("*.log\n", "*.log\n/.worktrees/\n"),
        ("/.worktrees/\n", None),
        ("build/\n.worktrees\n", None),
        ("  .worktrees/  \n", None),
        ("# .worktrees/\n", "# .worktrees/\n/.worktrees/\n"),
        (".worktrees-old/\n", ".worktrees-old/\n/.worktrees/\n"),
    ],
)
def test_gitignore_entry_is_added_once(text: str | None, expected: str | None) -> None:
    assert gitignore_with_entry(text, ".worktrees") == expected


@given(st.text(alphabet="abc/.\n *#", max_size=40))
def test_gitignore_entry_is_idempotent(text: str) -> None:
    once = gitignore_with_entry(text, ".worktrees")
    after = text if once is None else once
    assert gitignore_with_entry(after, ".worktrees") is None
    assert after.startswith(text)  # existing lines are never rewritten


def test_include_candidates_need_both_lists_and_stay_inside() -> None:
    listed = [".env", "config/local.toml", "notes.txt", ".worktrees/backend/.env", "../escape", "/abs"]
    ignored = [".env", "config/local.toml", ".worktrees/backend/.env", "../escape", "/abs", "build/x"]
    assert include_candidates(listed, ignored, ".worktrees") == [".env", "config/local.toml"]
    assert include_candidates([], ignored, ".worktrees") == []


def test_teardown_clean_and_merged_removes_and_deletes_branch() -> None:
    assert decide_teardown("backend", CLEAN_MERGED, None, False) == TeardownPlan(remove=True, delete_branch=True)


def test_teardown_clean_unmerged_keeps_branch() -> None:
    plan = decide_teardown("backend", replace(CLEAN_MERGED, merged=False, unmerged_commits=3), None, False)
    assert plan.remove and not plan.delete_branch and not plan.backup and not plan.force_remove
    assert plan.note and "3 commit" in plan.note


def test_teardown_dirty_needs_confirmation_then_backs_up_first() -> None:
    with pytest.raises(ConfirmationRequiredError) as info:
        decide_teardown("backend", DIRTY, None, False)
    assert info.value.exit_code == 11 and "a.py" in info.value.message
    plan = decide_teardown("backend", DIRTY, None, True)
    assert plan == TeardownPlan(backup=True, remove=True, force_remove=True, delete_branch=True)


def test_teardown_abandon_always_backs_up_unsaved_work() -> None:
    assert decide_teardown("backend", DIRTY, "abandon", False).backup
    unmerged = replace(CLEAN_MERGED, merged=False)
    assert decide_teardown("backend", unmerged, "abandon", False).backup
    # nothing to save: no backup, still removed
    assert decide_teardown("backend", CLEAN_MERGED, "abandon", False) == TeardownPlan(
        remove=True, force_remove=True, delete_branch=True
    )


def test_teardown_merge_refuses_dirty_and_detached_unsaved_head() -> None:
    with pytest.raises(DirtyStateError):
        decide_teardown("backend", DIRTY, "merge", True)
    with pytest.raises(DirtyStateError):
        decide_teardown("backend", replace(CLEAN_MERGED, head_safe=False), "merge", False)
    assert decide_teardown("backend", replace(CLEAN_MERGED, merged=False), "merge", False) == TeardownPlan(
        merge=True, remove=True, delete_branch=True
    )


def test_teardown_detached_head_with_unsaved_commits_is_at_risk() -> None:
    with pytest.raises(ConfirmationRequiredError):
        decide_teardown("backend", replace(CLEAN_MERGED, head_safe=False), None, False)


def test_teardown_locked_is_refused_in_every_mode() -> None:
    locked = replace(CLEAN_MERGED, locked=True, lock_reason="usb")
    for mode in (None, "merge", "abandon"):
        with pytest.raises(DirtyStateError, match="locked"):
            decide_teardown("backend", locked, mode, True)


def test_teardown_without_worktree() -> None:
    gone = replace(CLEAN_MERGED, has_worktree=False, folder_exists=False)
    with pytest.raises(NotFoundError):
        decide_teardown("backend", replace(gone, branch_exists=False), None, True)
    assert decide_teardown("backend", gone, None, False).delete_branch  # merged leftover: finish the job
    unmerged = replace(gone, merged=False)
    assert decide_teardown("backend", replace(unmerged, backed_up=True), None, False).delete_branch
    with pytest.raises(NotFoundError, match="unmerged"):
        decide_teardown("backend", unmerged, None, True)
    assert decide_teardown("backend", unmerged, "abandon", False) == TeardownPlan(backup=True, delete_branch=True)


def test_teardown_unknown_mode() -> None:
    with pytest.raises(InvalidInputError):
        decide_teardown("backend", CLEAN_MERGED, "force", False)


@given(
    dirty=st.booleans(), merged=st.booleans(), head_safe=st.booleans(), backed_up=st.booleans(),
    has_worktree=st.booleans(), branch_exists=st.booleans(), mode=st.sampled_from([None, "merge", "abandon"]),
    confirmed=st.booleans(),
)
def test_teardown_never_discards_unsaved_work(
    dirty: bool, merged: bool, head_safe: bool, backed_up: bool, has_worktree: bool, branch_exists: bool,
    mode: str | None, confirmed: bool,
) -> None:
    facts = TeardownFacts(
        has_worktree=has_worktree, folder_exists=has_worktree, locked=False, lock_reason=None,
        dirty_files=(" M a",) if dirty and has_worktree else (), branch_exists=branch_exists,
        merged=merged and branch_exists, backed_up=backed_up and branch_exists, head_safe=head_safe or not has_worktree,
        unmerged_commits=0 if merged else 1,
    )
    try:
        plan = decide_teardown("backend", facts, mode, confirmed)
    except (ConfirmationRequiredError, DirtyStateError, NotFoundError):
        return
    if plan.force_remove and (facts.dirty_files or not facts.head_safe):
        assert plan.backup
    if plan.delete_branch and not plan.merge:
        assert facts.merged or facts.backed_up or plan.backup
    if plan.remove and not plan.force_remove:
        assert not facts.dirty_files and facts.head_safe


def test_parse_merge_tree_output() -> None:
    clean = parse_merge_tree("abc123\0", 0)
    assert clean.clean and clean.tree == "abc123" and clean.conflicted_files == ()
    conflicted = parse_merge_tree("def456\0a.txt\0dir/b c.txt\0a.txt\0", 1)
    assert not conflicted.clean and conflicted.conflicted_files == ("a.txt", "dir/b c.txt")


def test_parse_worktree_list() -> None:
    text = (
        "worktree /repo\0HEAD aaa\0branch refs/heads/main\0\0"
        "worktree /repo/.worktrees/backend\0HEAD bbb\0branch refs/heads/agent/backend/active\0locked usb stick\0\0"
        "worktree /repo/.worktrees/qa\0HEAD ccc\0detached\0prunable gitdir file points to non-existent location\0\0"
    )
    main, backend, qa = parse_worktree_list(text)
    assert main.path == Path("/repo") and main.branch == "main" and not main.locked
    assert backend.branch == "agent/backend/active" and backend.locked and backend.lock_reason == "usb stick"
    assert qa.detached and qa.branch is None and qa.prunable and qa.head == "ccc"
    assert parse_worktree_list("") == []


def test_format_table() -> None:
    assert "no agent worktrees" in format_table([], ROOT)
    rows = [
        AgentInfo("backend", "agent/backend/active", ROOT / ".worktrees/backend", "0123456789", True, 2, 0, "active"),
        AgentInfo("qa", None, ROOT / ".worktrees/qa", None, False, None, None, "unknown", missing=True),
    ]
    lines = format_table(rows, ROOT).splitlines()
    assert lines[0].split() == ["ROLE", "BRANCH", "HEAD", "DIRTY", "AHEAD", "BEHIND", "PRESENCE", "PATH"]
    assert lines[1].split() == ["backend", "agent/backend/active", "01234567", "yes", "2", "0", "active",
                                ".worktrees/backend"]
    assert lines[2].split() == ["qa", "(detached)", "missing", "-", "-", "unknown", ".worktrees/qa"]


def test_launch_command_is_relative_to_where_the_user_stands() -> None:
    assert launch_command("backend", ROOT / ".worktrees/backend", ROOT) == \
        "cd .worktrees/backend && CLAUDE_INSTANCE_ID=backend claude"
    assert launch_command("pm", ROOT, ROOT) == "CLAUDE_INSTANCE_ID=pm claude"
    assert launch_command("pm", Path("/my repo"), Path("/my repo/.worktrees/qa")) == \
        "cd '/my repo' && CLAUDE_INSTANCE_ID=pm claude"
