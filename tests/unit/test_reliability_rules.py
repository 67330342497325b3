"""The pure parts of issue 12's classes 1 and 2: which added paths a merge may not write over, and
the metadata line of a backup commit."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from coord.worktree.backup import META_PREFIX, parse_meta, with_meta
from coord.worktree.overwrites import blocked_by_added, parents_of


def test_added_paths_blocked_by_what_is_on_disk() -> None:
    on_disk = {"a": "file", "d": "dir", "d2": "dir", "x": "file", "t": "file"}
    found = blocked_by_added(
        ["a", "d", "d2", "x/y/z", "t/new", "free"], tracked={"d2", "t"}.__contains__, kind=on_disk.get,
        untracked_under=lambda rel: {"d": ["d/junk"]}.get(rel, []),
    )
    # a: a file where one is added; d: a folder holding untracked files; x: an untracked file where a
    # folder is needed; t is tracked (git replaces it itself); d2 holds nothing untracked; free is absent
    assert found == ["a", "d/junk", "x"]


def test_nothing_on_disk_blocks_nothing() -> None:
    assert blocked_by_added(["a/b", "c"], tracked=lambda _: False, kind=lambda _: None,
                            untracked_under=lambda _: ["never asked"]) == []


def test_parents_of() -> None:
    assert parents_of("a/b/c") == ["a", "a/b"]
    assert parents_of("a") == []


def test_meta_round_trips_and_damage_reads_as_none() -> None:
    meta = {"operation": "rebase", "branch_tip": "f" * 40, "nested": [{"path": "vendor/lib", "refs": {}}]}
    assert parse_meta(with_meta("coord backup of backend\n\nbody", meta)) == meta
    assert with_meta("message", {}) == "message"
    assert parse_meta("coord backup of backend (an older one, no metadata)") == {}
    assert parse_meta(f"x\n\n{META_PREFIX}{{not json") == {}
    assert parse_meta(f"x\n\n{META_PREFIX}[1, 2]") == {}


@given(st.dictionaries(st.text(min_size=1, max_size=10), st.text(max_size=30) | st.integers(), max_size=5))
def test_any_meta_round_trips(meta: dict[str, object]) -> None:
    assert parse_meta(with_meta("coord backup\n\nfirst parent: HEAD", meta)) == meta
