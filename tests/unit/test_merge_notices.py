"""The merge loop's decisions: what gets acknowledged, who is told what after agent.merge."""

from __future__ import annotations

import pytest

from coord.conflicts import BranchTip, MergeFacts, Pair, PairResult, fingerprint, result_of
from coord.merge_notices import MergeEvent, describe, merge_ready_ids, merged_body, plan_notices
from coord.messages import Message, MessageType

pytestmark = pytest.mark.unit

BASE = BranchTip("pm", "main", "c" * 40, base=True)
EVENT = MergeEvent("backend", "agent/backend/active", "main", "merge", "c" * 40, 3, "pm")


def msg(i: int, sender: str, kind: MessageType, ts: float = 10.0) -> Message:
    return Message(f"{i}-0", sender, "pm", kind.value, "body", ts)


def tip(role: str) -> BranchTip:
    return BranchTip(role, f"agent/{role}/active", role[0] * 40)


def against_base(role: str, files: tuple[str, ...] = ()) -> PairResult:
    return result_of(Pair(BASE, tip(role)), MergeFacts(files, files), cached=False)


def test_only_merge_ready_from_the_merged_role_sent_before_the_merge_is_acknowledged() -> None:
    pending = [
        msg(1, "backend", MessageType.MERGE_READY),
        msg(2, "qa", MessageType.MERGE_READY),
        msg(3, "backend", MessageType.QUESTION),
        msg(4, "backend", MessageType.MERGE_READY, ts=20.0),  # after the merge: about newer commits
        msg(5, "backend", MessageType.MERGE_READY, ts=15.0),
    ]
    assert merge_ready_ids(pending, "backend", until=15.0) == ("1-0", "5-0")
    assert merge_ready_ids(pending, "frontend", until=15.0) == ()


def test_merged_role_is_told_commit_and_base_even_when_not_live() -> None:
    plan = plan_notices(EVENT, [], 1.0, live=set(), base_results=[])
    to_backend = [n for n in plan.notices if n.recipient == "backend"]
    assert len(to_backend) == 1 and to_backend[0].type is MessageType.INFO
    body = to_backend[0].body
    assert "agent/backend/active" in body and "main" in body and "c" * 8 in body and "coord agent.sync" in body
    ff = MergeEvent("backend", "agent/backend/active", "main", "fast-forward", "d" * 40, 2, "pm")
    assert "fast-forward dddddddd" in merged_body(ff) and "agent.sync" not in merged_body(ff)


def test_every_other_live_agent_gets_one_notice_with_the_count_and_its_conflict_state() -> None:
    results = [against_base("qa"), against_base("frontend", ("api.py", "b.py")), against_base("backend")]
    plan = plan_notices(EVENT, [msg(1, "backend", MessageType.MERGE_READY)], 10.0,
                        live={"pm", "backend", "qa", "frontend", "devops"}, base_results=results)
    by = {}
    for n in plan.notices:
        by.setdefault(n.recipient, []).append(n)
    assert all(len(v) == 1 for v in by.values()), by
    assert set(by) == {"backend", "qa", "frontend", "devops", "pm"}
    qa, fe, dev, pm = by["qa"][0], by["frontend"][0], by["devops"][0], by["pm"][0]
    assert qa.type is MessageType.INFO and "moved 3 commits" in qa.body and "cleanly" in qa.body
    assert "agent/qa/active" in qa.body and qa.fingerprint is None
    assert fe.type is MessageType.CONFLICT_WARNING and "api.py, b.py" in fe.body and "coord agent.sync" in fe.body
    assert fe.fingerprint == fingerprint("pm", "frontend", ["api.py", "b.py"])
    assert dev.type is MessageType.INFO and "could not check" in dev.body  # live but no branch
    assert pm.type is MessageType.INFO and "frontend (api.py, b.py)" in pm.body and "Acknowledged 1" in pm.body
    assert plan.ack == ("1-0",) and plan.conflicting == {"frontend": ("api.py", "b.py")}


def test_one_commit_is_singular() -> None:
    one = MergeEvent("backend", "agent/backend/active", "main", "fast-forward", "c" * 40, 1, "pm")
    plan = plan_notices(one, [], 1.0, live={"qa"}, base_results=[against_base("qa")])
    assert "moved 1 commit (" in next(n.body for n in plan.notices if n.recipient == "qa")


def test_agents_that_are_not_live_get_no_base_moved_notice() -> None:
    plan = plan_notices(EVENT, [], 1.0, live={"qa"}, base_results=[against_base("qa"), against_base("frontend")])
    assert sorted(n.recipient for n in plan.notices) == ["backend", "pm", "qa"]


def test_up_to_date_only_acknowledges_and_tells_the_role() -> None:
    event = MergeEvent("backend", "agent/backend/active", "main", "up-to-date", "c" * 40, 0, "pm")
    plan = plan_notices(event, [msg(7, "backend", MessageType.MERGE_READY)], 10.0, live={"qa", "pm"},
                        base_results=[against_base("qa", ("x",))])
    assert plan.ack == ("7-0",)
    assert [(n.recipient, n.type) for n in plan.notices] == [("backend", MessageType.INFO)]
    assert "already in main" in plan.notices[0].body


def test_an_announced_conflict_replaces_the_pairs_older_warned_entry_only() -> None:
    old = fingerprint("pm", "frontend", ["old.py"])
    same = fingerprint("pm", "frontend", ["api.py"])
    other = fingerprint("backend", "frontend", ["x"])
    plan = plan_notices(EVENT, [], 1.0, live={"frontend"}, base_results=[against_base("frontend", ("api.py",))],
                        warned={old, other})
    assert plan.forget == (old,)
    again = plan_notices(EVENT, [], 1.0, live={"frontend"}, base_results=[against_base("frontend", ("api.py",))],
                         warned={same})
    assert again.forget == ()  # the same conflict again: still one notice (the base moved), entry kept
    assert [n.type for n in again.notices if n.recipient == "frontend"] == [MessageType.CONFLICT_WARNING]


def test_an_error_result_is_reported_as_unknown_not_as_clean() -> None:
    errored = PairResult(Pair(BASE, tip("qa")), "error", error="bad object")
    plan = plan_notices(EVENT, [], 1.0, live={"qa"}, base_results=[errored])
    qa = next(n for n in plan.notices if n.recipient == "qa")
    assert qa.type is MessageType.INFO and "bad object" in qa.body and "cleanly" not in qa.body


def test_describe_says_who_was_told_what() -> None:
    plan = plan_notices(EVENT, [msg(1, "backend", MessageType.MERGE_READY)], 10.0, live={"qa", "frontend", "pm"},
                        base_results=[against_base("qa", ("README.md",)), against_base("frontend")])
    line = describe(EVENT, plan, 1)
    assert line == ("notices: told backend it was merged; told frontend, qa that main moved; "
                    "now conflicting: qa (README.md); acknowledged 1 MERGE_READY from backend")
    alone = plan_notices(EVENT, [], 1.0, live=set(), base_results=[])
    assert describe(EVENT, alone, 0) == "notices: told backend it was merged"
