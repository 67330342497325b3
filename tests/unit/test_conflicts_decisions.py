"""Conflict-radar decisions: pairs, the tip-keyed cache, statuses, warn-once fingerprints."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from coord.conflicts import (
    CLEAN,
    CONFLICT,
    ERROR,
    TOUCH,
    BranchTip,
    MergeFacts,
    Pair,
    PairResult,
    RadarReport,
    all_pairs,
    cache_field,
    conflicts_by_role,
    fingerprint,
    format_report,
    needs_merge,
    plan_warnings,
    result_of,
    touched_files,
)

pytestmark = pytest.mark.unit

BASE = BranchTip("pm", "main", "0" * 40, base=True)


def tip(role: str, sha: str) -> BranchTip:
    return BranchTip(role, f"agent/{role}/active", sha * 40)


BE, FE, QA = tip("backend", "b"), tip("frontend", "f"), tip("qa", "q")


def conflict(a: BranchTip, b: BranchTip, files: tuple[str, ...] = ("shared.py",)) -> PairResult:
    return result_of(Pair(a, b), MergeFacts(files, files), cached=False)


def clean(a: BranchTip, b: BranchTip) -> PairResult:
    return result_of(Pair(a, b), MergeFacts((), ()), cached=False)


def test_every_pair_once_base_first() -> None:
    pairs = all_pairs([QA, BE, BASE, FE])
    assert [(p.a.role, p.b.role) for p in pairs] == [
        ("pm", "backend"), ("pm", "frontend"), ("pm", "qa"), ("backend", "frontend"), ("backend", "qa"),
        ("frontend", "qa"),
    ]
    assert [(p.a.role, p.b.role) for p in all_pairs([QA, BE, BASE, FE], only="frontend")] == [
        ("pm", "frontend"), ("backend", "frontend"), ("frontend", "qa")]
    assert all_pairs([BE]) == [] and all_pairs([]) == []


@given(st.integers(min_value=0, max_value=12))
def test_pair_count(n: int) -> None:
    tips = [tip(f"r{i}", "ab"[i % 2]) for i in range(n)]
    assert len(all_pairs(tips)) == n * (n - 1) // 2


def test_cache_key_is_the_two_tips_whichever_order() -> None:
    assert cache_field("b" * 40, "a" * 40) == cache_field("a" * 40, "b" * 40) == f"{'a' * 40}..{'b' * 40}"
    assert Pair(BE, FE).cache_field == Pair(FE, BE).cache_field


def test_only_uncached_pairs_are_merged_and_same_tips_never() -> None:
    pairs = all_pairs([BASE, BE, FE, QA])
    cache = {Pair(BE, FE).cache_field: MergeFacts((), ())}
    todo = needs_merge(pairs, cache)
    assert Pair(BE, FE) not in todo and len(todo) == 5
    same = BranchTip("devops", "agent/devops/active", BE.tip)
    assert needs_merge([Pair(BE, same)], {}) == []
    assert result_of(Pair(BE, same), None, cached=False).status == CLEAN
    # two pairs on the same two commits: one merge
    twin = BranchTip("ops", "agent/ops/active", FE.tip)
    assert len(needs_merge([Pair(BE, FE), Pair(BE, twin)], {})) == 1
    assert needs_merge(pairs, {p.cache_field: MergeFacts((), ()) for p in pairs}) == []


def test_statuses() -> None:
    assert conflict(BE, FE).status == CONFLICT and conflict(BE, FE).conflicted == ("shared.py",)
    touch = result_of(Pair(BE, QA), MergeFacts((), ("b.txt", "a.txt")), cached=True)
    assert touch.status == TOUCH and touch.touched == ("a.txt", "b.txt") and touch.cached
    both = result_of(Pair(BE, QA), MergeFacts(("x",), ("x", "y")), cached=False)
    assert both.conflicted == ("x",) and both.touched == ("y",)  # touched lists only the non-conflicting ones
    assert clean(BE, QA).status == CLEAN
    assert result_of(Pair(BE, QA), None, cached=False).status == ERROR
    assert touched_files(["a", "b", "c"], ["c", "b", "z"]) == ("b", "c")


def test_merge_facts_json() -> None:
    facts = MergeFacts(("a b.py",), ("a b.py", "ü.txt"))
    assert MergeFacts.from_json(facts.to_json()) == facts
    for bad in (None, "", "nope", "{}", '{"c": 1, "t": []}'):
        assert MergeFacts.from_json(bad) is None


def test_fingerprint_is_roles_and_files_in_any_order() -> None:
    assert fingerprint("backend", "frontend", ["b", "a"]) == fingerprint("frontend", "backend", ["a", "b", "a"])
    assert fingerprint("backend", "frontend", ["a"]) != fingerprint("backend", "frontend", ["a", "b"])
    assert fingerprint("backend", "frontend", ["a"]).startswith("backend|frontend|")


def test_new_conflict_between_live_agents_warns_both_naming_the_other() -> None:
    plan = plan_warnings([conflict(BE, FE), clean(BE, QA)], {"backend", "frontend", "qa"}, set())
    assert len(plan.send) == 1 and plan.forget == ()
    w = plan.send[0]
    assert (w.role_a, w.role_b) == ("backend", "frontend")
    assert "frontend" in w.body_a and "shared.py" in w.body_a and "agent/backend/active" in w.body_a
    assert "backend" in w.body_b and "agent/frontend/active" in w.body_b


def test_no_warning_unless_both_agents_are_live_but_the_base_needs_only_the_agent() -> None:
    assert plan_warnings([conflict(BE, FE)], {"backend"}, set()).send == ()
    base = plan_warnings([conflict(BASE, BE)], {"backend"}, set())
    assert [(w.role_a, w.role_b) for w in base.send] == [("pm", "backend")]
    assert "the base branch main" in base.send[0].body_b


def test_warned_once_forgotten_when_clean_and_replaced_when_files_change() -> None:
    old = fingerprint("backend", "frontend", ["shared.py"])
    live = {"backend", "frontend"}
    assert plan_warnings([conflict(BE, FE)], live, {old}).send == ()
    assert plan_warnings([clean(BE, FE)], live, {old, "backend|qa|x"}).forget == (old,)
    changed = plan_warnings([conflict(BE, FE, ("shared.py", "api.py"))], live, {old})
    assert changed.forget == (old,) and changed.send[0].fingerprint == fingerprint("backend", "frontend",
                                                                                    ["api.py", "shared.py"])
    errored = PairResult(Pair(BE, FE), ERROR, error="gone")
    assert plan_warnings([errored], live, {old}) == plan_warnings([], live, {old})


def test_conflicts_by_role_and_report() -> None:
    results = [conflict(BE, FE), clean(BE, QA), conflict(BASE, QA, ("x",))]
    assert conflicts_by_role(results) == {"backend": ["frontend"], "frontend": ["backend"], "pm": ["qa"],
                                          "qa": ["pm"]}
    text = format_report(RadarReport(results, computed=2, cached=1, store_error="down"))
    lines = text.splitlines()
    assert lines[0].split() == ["A", "B", "STATUS", "FILES"]
    assert lines[1].split() == ["backend", "frontend", "conflict", "shared.py"]
    assert lines[3].split() == ["pm", "(main)", "qa", "conflict", "x"]
    assert "2 pair(s) merged now, 1 from cache" in text and "down" in text
    assert "no branches" in format_report(RadarReport())


def test_a_conflict_with_the_base_branch_says_to_sync_not_to_agree_with_the_main_role() -> None:
    plan = plan_warnings([conflict(BASE, BE)], {"backend"}, set())
    to_pm, to_backend = plan.send[0].body_a, plan.send[0].body_b
    assert "coord agent.sync" in to_backend and "git merge main" in to_backend and "Agree" not in to_backend
    assert "coord agent.sync --role backend" in to_pm and "Agree" not in to_pm
    between_agents = plan_warnings([conflict(BE, FE)], {"backend", "frontend"}, set()).send[0]
    assert "Agree with frontend" in between_agents.body_a and "agent.sync" not in between_agents.body_a
