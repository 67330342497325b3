"""coord.tool_results: what the MCP tools return, small and readable, no nulls, no internal ids."""

from __future__ import annotations

import json

from coord import tool_results as results
from coord.claims import Claim
from coord.conflicts import BranchTip, Pair, PairResult
from coord.messages import Message
from coord.presence import Status
from coord.store_results import PresenceView

NOW = 1700000100.0
TIP_A = "a" * 40
TIP_B = "b" * 40


def view(role: str, status: Status, age: float | None, session: str | None = None, host: str | None = None
         ) -> PresenceView:
    return PresenceView(role, status, status is Status.STALE, age, session, "/w", None, None, True, host)


def no_nulls(value: object) -> bool:
    return "null" not in json.dumps(value)


def test_presence_is_status_and_age_without_session_ids() -> None:
    found = results.presence("backend", [view("pm", Status.ACTIVE, 42.3, "s-secret-1"),
                                         view("qa", Status.ABSENT, None),
                                         view("devops", Status.STALE, 1774.02, "s-secret-2", "box2"),
                                         view("frontend", Status.INACTIVE, 7300.0, "s-secret-3", "box1")], "box1")
    assert found == {"you": "backend", "roles": [
        {"role": "pm", "status": "active", "last_seen": "42 s ago"},
        {"role": "qa", "status": "absent"},
        {"role": "devops", "status": "stale", "last_seen": "29 min ago", "host": "box2"},
        {"role": "frontend", "status": "inactive", "last_seen": "2 h ago"},  # on this machine: no host
    ]}
    assert "s-secret" not in json.dumps(found) and no_nulls(found)


def test_mail_rows_carry_relative_ages_and_mark_broadcasts() -> None:
    one = Message("1-0", "pm", "backend", "QUESTION", "port?", NOW - 65)
    everyone = Message("2-0", "qa", "all", "INFO", "green", NOW - 5)
    inbox = results.inbox([one, everyone], 2, NOW)
    assert inbox == {"pending": 2, "messages": [
        {"id": "1-0", "type": "QUESTION", "sender": "pm", "sent": "65 s ago", "body": "port?"},
        {"id": "2-0", "type": "INFO", "sender": "qa", "sent": "5 s ago", "body": "green", "to_all": True},
    ]}
    summary = results.summary(2, {"QUESTION": 1, "INFO": 1}, [everyone], NOW)
    assert summary["pending"] == 2 and summary["newest"][0]["sent"] == "5 s ago"


def test_sent_says_where_it_went_and_notes_only_what_matters() -> None:
    assert results.sent("QUESTION", "pm", {"pm": "9-0"}, (), False) == {"type": "QUESTION", "to": "pm",
                                                                          "ids": {"pm": "9-0"}}
    noted = results.sent("INFO", "all", {"qa": "1-0", "pm": "1-1"}, ("qa",), True)
    assert "already delivered" in noted["note"] and "qa has no live session" in noted["note"]


def test_ack_counts_and_lists_only_the_unknown() -> None:
    assert results.acked(["1-0", "2-0"], []) == {"acknowledged": 2}
    assert results.acked([], ["9-9"]) == {"acknowledged": 0, "not_pending": ["9-9"]}


def test_conflicts_are_seen_from_your_side_with_short_commits() -> None:
    me, other = BranchTip("backend", "agent/backend/active", TIP_A), BranchTip("qa", "agent/qa/active", TIP_B)
    base = BranchTip("pm", "main", TIP_B, base=True)
    found = results.conflicts("backend", [PairResult(Pair(other, me), "conflict", ("api.py",)),
                                          PairResult(Pair(base, me), "clean")], None)
    assert found == {"you": "backend", "pairs": [
        {"other": "qa", "status": "conflict", "files": ["api.py"], "commits": "yours aaaaaaaa, theirs bbbbbbbb"},
        {"other": "base (main)", "status": "clean", "commits": "yours aaaaaaaa, theirs bbbbbbbb"},
    ]}
    assert TIP_A not in json.dumps(found)
    assert results.conflicts("backend", [], "Redis down")["note"] == "not cached: Redis down"


def test_claims_show_time_left_in_words() -> None:
    claim = Claim("src/api/**", "qa", "refactor", NOW - 600, NOW + 1774.02)
    found = results.claims([claim], {"qa"}, NOW)
    assert found == {"claims": [{"pattern": "src/api/**", "role": "qa", "reason": "refactor", "status": "live",
                                 "left": "29 min left"}]}
    assert results.claimed([Claim("a", "qa", "r", NOW, NOW + 1800)], []) == {"claimed": ["a"], "left": "30 min left"}
    assert results.released(["a"], ["b"]) == {"released": ["a"], "not_held": ["b"]}
    assert results.released([], []) == {"released": []}


def test_schema_titles_are_stripped_but_a_property_named_title_is_kept() -> None:
    schema = {"title": "xArguments", "type": "object", "properties": {
        "title": {"title": "Title", "type": "string"}, "n": {"title": "N", "anyOf": [{"title": "x"}]}}}
    results.strip_titles(schema)
    assert schema == {"type": "object", "properties": {"title": {"type": "string"}, "n": {"anyOf": [{}]}}}


def test_presence_shows_what_a_live_session_is_doing_and_nothing_for_others() -> None:
    working = view("pm", Status.ACTIVE, 3.0, "s-1")._replace(activity="working", activity_since=1.0)
    gone = view("qa", Status.INACTIVE, 900.0, "s-2")._replace(activity="idle", activity_since=1.0)
    rows = results.presence("backend", [working, gone])["roles"]
    assert rows[0].get("activity") == "working"
    assert "activity" not in rows[1]  # an ended session's last activity is history, not news
