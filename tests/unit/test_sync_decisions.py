"""agent.sync's decisions: refusals before anything changes, and what kind of update it is."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from coord.errors import DirtyStateError, IdentityError
from coord.sync import FAST_FORWARD, MERGE, UP_TO_DATE, SyncFacts, check_caller, decide_sync

pytestmark = pytest.mark.unit

FACTS = SyncFacts(
    role="backend", branch="agent/backend/active", checked_out="agent/backend/active", base="main",
    head="a" * 40, base_tip="b" * 40, dirty=(), in_progress=None, base_in_head=False, head_in_base=False,
)


def test_kinds() -> None:
    assert decide_sync(FACTS) == MERGE
    assert decide_sync(replace(FACTS, head_in_base=True)) == FAST_FORWARD
    assert decide_sync(replace(FACTS, base_in_head=True)) == UP_TO_DATE
    assert decide_sync(replace(FACTS, base_in_head=True, head_in_base=True)) == UP_TO_DATE  # same commit


def test_refusals_name_the_problem_and_exit_4() -> None:
    with pytest.raises(DirtyStateError) as dirty:
        decide_sync(replace(FACTS, dirty=(" M api.py", "M  b.py")))
    assert dirty.value.exit_code == 4 and "api.py" in dirty.value.message and "2 file(s)" in dirty.value.message
    with pytest.raises(DirtyStateError, match="detached HEAD"):
        decide_sync(replace(FACTS, checked_out=None))
    with pytest.raises(DirtyStateError, match="MERGE_HEAD"):
        decide_sync(replace(FACTS, in_progress="MERGE_HEAD"))
    with pytest.raises(DirtyStateError):  # dirty wins over up to date: refused means refused
        decide_sync(replace(FACTS, dirty=(" M x",), base_in_head=True))


def test_an_agent_syncs_only_its_own_worktree(tmp_path: Path) -> None:
    main = tmp_path / "repo"
    (main / ".worktrees" / "backend").mkdir(parents=True)
    (main / ".worktrees" / "qa").mkdir(parents=True)
    check_caller(main, main, ".worktrees", "backend")
    check_caller(main / ".worktrees" / "backend", main, ".worktrees", "backend")
    with pytest.raises(IdentityError) as info:
        check_caller(main / ".worktrees" / "qa", main, ".worktrees", "backend")
    assert info.value.exit_code == 6 and "backend" in info.value.message
