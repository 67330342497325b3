"""coord.texts: every word coord puts in an agent's context (ages, caps, summaries, refusals)."""

from __future__ import annotations

import pytest

from coord import texts
from coord.catalog.claude import TOOL_NAMES
from coord.errors import IdentityError
from coord.messages import Message

NOW = 1700000100.0


def msg(i: int, body: str = "hello", sender: str = "backend", recipient: str = "pm", kind: str = "QUESTION",
        age: float = 42.0) -> Message:
    return Message(id=f"1700000000000-{i}", sender=sender, recipient=recipient, type=kind, body=body,
                   timestamp=NOW - age)


@pytest.mark.parametrize(("seconds", "shown"), [
    (0, "0 s"), (-5, "0 s"), (42.9, "42 s"), (119, "119 s"), (120, "2 min"), (1774.02, "29 min"),
    (7199, "119 min"), (7200, "2 h"), (172799, "47 h"), (172800, "2 d"),
])
def test_spans_are_small_numbers_in_plain_units(seconds: float, shown: str) -> None:
    assert texts.span(seconds) == shown


def test_ages_and_time_left_read_as_words() -> None:
    assert texts.ago(42.3) == "42 s ago"
    assert texts.left(1774.0247728824615) == "29 min left"
    assert texts.left(0) == "expired" and texts.left(-3) == "expired"
    assert texts.short("0123456789abcdef0123456789abcdef01234567") == "01234567"
    assert texts.short(None) == ""


def test_the_texts_name_tools_the_server_has() -> None:
    assert texts.CHECK_TOOL in TOOL_NAMES and texts.ACK_TOOL in TOOL_NAMES


def test_no_new_mail_says_nothing() -> None:
    assert texts.format_mail("pm", [], 0, 3, NOW) == ""


def test_one_short_message_fits_in_300_characters() -> None:
    text = texts.format_mail("backend", [msg(1, "which port does the API use?", "pm", "backend")], 0, 1, NOW)
    assert text == ("coord mail for backend, 1 new:\n"
                    "[1700000000000-1] QUESTION from pm, 42 s ago: which port does the API use?\n"
                    "coord_ack_messages once handled.")
    assert len(text) <= 300


def test_mail_names_older_pending_ones_and_broadcasts() -> None:
    text = texts.format_mail("pm", [msg(1, "line one\nline two"), msg(2, "hi all", "qa", "all", "INFO", 300)], 0, 5,
                             NOW)
    assert text.startswith("coord mail for pm, 2 new (3 older still pending):")
    assert "[1700000000000-1] QUESTION from backend, 42 s ago: line one\nline two" in text
    assert "INFO from qa to all, 5 min ago: hi all" in text
    assert "not shown" not in text and "null" not in text and "UTC" not in text


def test_beyond_the_cap_the_rest_is_one_summary_line() -> None:
    many = [msg(i, "x" * 700, "qa" if i % 2 else "devops") for i in range(10)]
    text = texts.format_mail("pm", many, more=7, pending=17, now=NOW)
    assert len(text) <= texts.MAIL_CAP
    shown = text.count("] QUESTION from")
    assert 1 <= shown < 10
    summary = text.splitlines()[-2]
    assert summary.startswith(f"+{10 - shown + 7} not shown (") and summary.endswith(f"{texts.CHECK_TOOL}.")
    assert "QUESTION from qa" in summary and "QUESTION from devops" in summary and "7 more" in summary
    assert text.startswith("coord mail for pm, 17 new:")


def test_one_huge_body_is_cut_with_a_note() -> None:
    text = texts.format_mail("pm", [msg(1, "y" * 70000)], 0, 1, NOW)
    assert len(text) <= texts.MAIL_CAP
    assert f"more chars, {texts.CHECK_TOOL}]" in text


def test_only_counted_mail_is_summarised() -> None:
    text = texts.format_mail("pm", [], more=4, pending=4, now=NOW)
    assert text.splitlines()[1] == f"+4 more not shown: {texts.CHECK_TOOL}."


def test_session_start_says_who_and_mail_only_when_there_is_some() -> None:
    quiet = texts.start_context("backend", "startup", "agent/backend/active", 0, {})
    assert quiet == ("coord: you are backend (startup) on agent/backend/active; presence registered, each prompt "
                     "is a heartbeat.")
    busy = texts.start_context("backend", "startup", None, 3, {"TASK_ASSIGNMENT": 2, "QUESTION": 1})
    assert "coord: 3 message(s) pending (1 QUESTION, 2 TASK_ASSIGNMENT): coord_check_messages lists them." in busy


def test_a_resume_leaves_the_pending_count_to_the_prompt_hook() -> None:
    resumed = texts.start_context("backend", "resume", None, 3, {"QUESTION": 3}, resumed=True)
    assert "pending" not in resumed


def test_only_a_stale_takeover_is_news_and_rules_follow() -> None:
    assert "took" not in texts.start_context("qa", "startup", None, 0, {})
    taken = texts.start_context("qa", "startup", None, 0, {}, stale_takeover=400.0, rules="## Rules\nbe nice")
    assert "took qa over from a session silent for 6 min (it had gone stale)" in taken
    assert taken.endswith("\n## Rules\nbe nice")


def test_the_one_role_held_wording_names_holder_age_and_fix() -> None:
    what, fix = texts.held("qa", "0123456789-session", 12.0, 180, host="box2")
    line = IdentityError(what, fix).line()
    assert line.startswith("coord: role qa is held by another live session 01234567 on box2, last heartbeat 12 s ago")
    assert "wait until it is stale (180 s without a heartbeat)" in line and "coord session.start ROLE" in line
    assert "0123456789-session" not in line


def test_refusals_and_outages_are_one_line() -> None:
    blocked = texts.blocked(IdentityError("bad", "do this").line())
    assert blocked.startswith("coord: bad (do this)") and "coord doctor" in blocked and "\n" not in blocked
    assert "your work goes on" in texts.unreachable("coord: Redis down")
