"""The pure parts of issue 12's classes 1 and 2: which added paths a merge may not write over, and
the metadata line of a backup commit."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from coord.worktree.backup import META_PREFIX, choose_ignored, parse_meta, with_meta
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


def test_ignored_files_are_saved_by_whole_groups_smallest_first() -> None:
    sizes = {".env": 20, "build/a.o": 400, "build/b.o": 400, "node_modules/x/index.js": 900,
             "node_modules/y/index.js": 900, "notes.local": 10}
    saved, left = choose_ignored(sizes, max_files=4, max_bytes=1_000)
    assert saved == [".env", "build/a.o", "build/b.o", "notes.local"]
    assert left == ["node_modules/ (2 files, 0.0 MB)"]
    saved, left = choose_ignored(sizes, max_files=100, max_bytes=10_000)
    assert saved == sorted(sizes) and left == []
    assert choose_ignored({}, 10, 10) == ([], [])


@given(st.dictionaries(st.from_regex(r"[a-c]{1,2}(/[a-c]{1,2}){0,2}", fullmatch=True), st.integers(0, 500)),
       st.integers(0, 10), st.integers(0, 2_000))
def test_ignored_choice_stays_within_limits_and_names_every_group_left_out(
    sizes: dict[str, int], max_files: int, max_bytes: int
) -> None:
    saved, left = choose_ignored(sizes, max_files, max_bytes)
    assert len(saved) <= max_files and sum(sizes[r] for r in saved) <= max_bytes
    groups_left = {d.split(" ")[0] for d in left}
    for rel in set(sizes) - set(saved):
        head, sep, _ = rel.partition("/")
        assert head + sep in groups_left  # nothing dropped without being named
