"""The team loop's pure decisions: actionable types, hook inputs, texts, and when the waker wakes."""

from __future__ import annotations

import pytest

from coord import delivery, waker
from coord.config import load_config
from coord.errors import ConfigError
from coord.messages import Message

pytestmark = pytest.mark.unit


def msg(n: int, kind: str = "QUESTION", sender: str = "pm") -> Message:
    return Message(id=f"{n}-0", sender=sender, recipient="backend", type=kind, body=f"body {n}", timestamp=1.0e9)


def test_actionable_types_and_merge_ready_for_the_main_role_only() -> None:
    agent = delivery.actionable_types("backend", "pm")
    assert agent == {"TASK_ASSIGNMENT", "QUESTION", "ANSWER", "BLOCKER", "REVIEW_REQUEST", "CONFLICT_WARNING"}
    assert delivery.actionable_types("pm", "pm") == agent | {"MERGE_READY"}
    assert not {"INFO", "STATUS_UPDATE", "HEARTBEAT"} & delivery.actionable_types("pm", "pm")


@pytest.mark.parametrize(("value", "expected"), [(True, True), (False, False), ("true", True), ("false", False),
                                                  ("", False), (None, False), ("True", True), ("1", True)])
def test_stop_hook_active_from_either_transport(value: object, expected: bool) -> None:
    assert delivery.is_true(value) is expected


def test_every_team_loop_event_has_a_mode_and_other_events_none() -> None:
    assert delivery.MODES == {"PostToolUse": "tool", "PostToolUseFailure": "tool", "Stop": "stop",
                              "Notification": "notify"}
    assert delivery.answer(None, "backend", "s", "SessionStart", {}) is None  # type: ignore[arg-type]


def test_stop_reason_names_the_bound_and_the_mail() -> None:
    text = delivery.stop_reason("backend", [msg(1, "BLOCKER", "qa")], 0, 3, 2, 3)
    assert "continuation 2 of at most 3 in a row" in text
    assert "from qa, BLOCKER" in text and "body 1" in text and "not seen yet" in text
    assert len(delivery.stop_reason("backend", [msg(1)] * 50, 0, 50, 1, 3)) <= delivery.CONTEXT_CAP + 200


def test_context_output_is_nothing_for_no_text() -> None:
    assert delivery.context_output("PostToolUse", "") is None
    assert delivery.context_output("PostToolUse", "x") == {
        "hookSpecificOutput": {"hookEventName": "PostToolUse", "additionalContext": "x"}}


def test_new_settings_defaults_and_checks() -> None:
    config = load_config(None, {})
    assert (config.keep_going_max, config.wake_after_seconds, config.hook_transport) == (3, 20, "mcp_tool")
    assert load_config(None, {"COORD_KEEP_GOING_MAX": "0"}).keep_going_max == 0  # 0 turns it off
    with pytest.raises(ConfigError):
        load_config(None, {"COORD_WAKE_AFTER_SECONDS": "0"})
    with pytest.raises(ConfigError):
        load_config(None, {"COORD_KEEP_GOING_MAX": "-1"})
    with pytest.raises(ConfigError, match="hook_transport"):
        load_config(None, {"COORD_HOOK_TRANSPORT": "http"})


# -- the waker ------------------------------------------------------------------------------------


def test_only_sessions_coord_started_in_tmux_get_a_waker() -> None:
    env = {"COORD_WAKE": "tmux", "TMUX": "/tmp/tmux-0/default,123,0", "TMUX_PANE": "%3"}
    assert waker.target_from(env) == waker.WakeTarget("%3", "/tmp/tmux-0/default")
    assert waker.target_from({**env, "COORD_WAKE": ""}) is None  # tmux, but not started by coord
    assert waker.target_from({k: v for k, v in env.items() if k != "TMUX_PANE"}) is None
    assert waker.target_from({"COORD_WAKE": "tmux"}) is None  # coord's variable outside tmux


def state(**over: object) -> waker.WakeState:
    base: dict[str, object] = dict(session_id="s1", status="active", activity="idle", activity_since=100.0,
                                   activity_event="Stop", seen="", woken="",
                                   pending={"5-0": "QUESTION", "6-0": "INFO", "7-0": "TASK_ASSIGNMENT"}, now=130.0)
    base.update(over)
    return waker.WakeState(**base)  # type: ignore[arg-type]


ACT = delivery.actionable_types("backend", "pm")


def test_wakes_an_idle_agent_for_actionable_mail_oldest_first() -> None:
    assert waker.wake_ids(state(), "s1", ACT, 20) == ["5-0", "7-0"]


@pytest.mark.parametrize(("over", "why"), [
    ({"activity": "working"}, "never while working"),
    ({"activity": "needs_input", "activity_event": "Notification:permission_prompt"}, "a permission dialog"),
    ({"now": 119.9}, "idle for less than wake_after_seconds"),
    ({"session_id": "other"}, "another session holds the role"),
    ({"status": "inactive"}, "the session ended"),
    ({"seen": "7-0"}, "already seen"),
    ({"woken": "7-0"}, "already woken for it"),
    ({"pending": {"6-0": "INFO", "8-0": "STATUS_UPDATE"}}, "nothing actionable"),
])
def test_does_not_wake(over: dict[str, object], why: str) -> None:
    assert waker.wake_ids(state(**over), "s1", ACT, 20) == [], why


def test_the_idle_prompt_notification_counts_as_waiting_and_the_boundary_wakes() -> None:
    idle_prompt = state(activity="needs_input", activity_event="Notification:idle_prompt")
    assert waker.wake_ids(idle_prompt, "s1", ACT, 20) == ["5-0", "7-0"]
    assert waker.wake_ids(state(now=120.0), "s1", ACT, 20) == ["5-0", "7-0"]
    assert waker.wake_ids(state(woken="5-0"), "s1", ACT, 20) == ["7-0"]  # newer mail wakes again
    assert waker.wake_ids(state(seen="10-0", pending={"9-5": "QUESTION", "10-1": "BLOCKER"}), "s1", ACT, 20) == \
        ["10-1"]


def test_the_wake_line_is_short_and_says_what_and_from_whom() -> None:
    assert waker.wake_line(1, [msg(1, "TASK_ASSIGNMENT")]) == \
        "coord: 1 new TASK_ASSIGNMENT from pm; read your mail and act on it"
    two = waker.wake_line(3, [msg(1, "QUESTION", "qa"), msg(2, "BLOCKER", "pm"), msg(3, "QUESTION", "qa")])
    assert two == "coord: 3 new messages (2 QUESTION, 1 BLOCKER) from qa, pm; read your mail and act on it"
    many = waker.wake_line(30, [msg(i) for i in range(20)])
    assert many.startswith("coord: 30 new messages (20 QUESTION)") and len(many) < 120


def test_typing_sends_the_text_literally_then_enter() -> None:
    calls: list[list[str]] = []
    w = waker.Waker(waker.WakeTarget("%7", "/tmp/sock"), "backend", "s1", ACT, 20, run=calls.append,
                    sleep=lambda _s: None)
    w.type_line("coord: 1 new QUESTION from pm; read your mail and act on it")
    assert [c[1:] for c in calls] == [
        ["-S", "/tmp/sock", "send-keys", "-t", "%7", "-l", "--",
         "coord: 1 new QUESTION from pm; read your mail and act on it"],
        ["-S", "/tmp/sock", "send-keys", "-t", "%7", "Enter"],
    ]
