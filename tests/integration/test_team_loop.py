"""The team loop against a real Valkey: the shared "last seen" cursor, the Stop bound, activity,
the MCP hook tool, and the idle waker typing into a real tmux pane.

Store-level tests inject the clock; redis-py reads what was written independently.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
import redis
from mcp.client import Client

from coord import delivery, texts
from coord.keys import Keys
from coord.mcp_server import build_server
from coord.mcp_service import Service
from coord.store import Store
from tests.integration.conftest import Clock, repo_with_worktrees
from tests.polling import wait_for

pytestmark = pytest.mark.integration

@pytest.fixture
def store(make_store: Callable[..., Store]) -> Store:
    s = make_store()
    s.register("backend", "s1", "/w")
    return s


def record(raw: redis.Redis, store: Store, role: str = "backend") -> dict[str, Any]:
    return dict(json.loads(raw.hget(store.keys.presence, role)))


def tool(store: Store, session: str = "s1") -> delivery.LoopResult:
    return delivery.run_loop(store, "backend", session, "tool", "PostToolUse")


def stop(store: Store, active: bool = False, role: str = "backend", session: str = "s1") -> delivery.LoopResult:
    return delivery.run_loop(store, role, session, "stop", "Stop", stop_active=active)


# -- between tool calls: one cursor with the prompt hook ------------------------------------------


def test_tool_calls_show_new_mail_once_oldest_first_and_nothing_when_nothing_is_new(store: Store) -> None:
    assert tool(store).messages == []
    store.publish("pm", "backend", "TASK_ASSIGNMENT", "first")
    store.publish("qa", "backend", "INFO", "second")
    store.publish("qa", "all", "HEARTBEAT", "lifecycle: never an inbox message")
    shown = tool(store)
    assert shown.state == "show" and [m.body for m in shown.messages] == ["first", "second"]
    assert shown.pending == 2 and shown.more == 0
    assert tool(store).messages == []
    answer = delivery.answer(store, "backend", "s1", "PostToolUse", {})
    assert answer is None  # zero characters when nothing is new


def test_the_prompt_hook_and_the_tool_hook_share_one_cursor(store: Store) -> None:
    store.publish("pm", "backend", "QUESTION", "a")
    assert [m.body for m in store.turn("backend", "s1").messages] == ["a"]
    assert tool(store).messages == []
    store.publish("pm", "backend", "QUESTION", "b")
    assert [m.body for m in tool(store).messages] == ["b"]
    assert store.turn("backend", "s1").messages == []
    store.publish("pm", "backend", "QUESTION", "c")
    assert [m.body for m in stop(store).messages] == ["c"]  # actionable: the Stop hook shows it
    assert store.turn("backend", "s1").messages == [] and tool(store).messages == []


def test_the_tool_hook_caps_what_it_shows_and_counts_the_rest(make_store: Callable[..., Store]) -> None:
    store = make_store()
    store.register("backend", "s1", "/w")
    for i in range(25):
        store.publish("pm", "backend", "INFO", f"note {i}")
    first = delivery.run_loop(store, "backend", "s1", "tool", "PostToolUse", limit=20)
    assert len(first.messages) == 20 and first.more == 5
    text = texts.format_mail("backend", first.messages, first.more, first.pending)
    assert len(text) <= texts.MAIL_CAP and "+5 more not shown" in text
    assert [m.body for m in tool(store).messages] == [f"note {i}" for i in range(20, 25)]


def test_answers_name_their_event_and_a_failed_tool_gets_the_mail_too(store: Store) -> None:
    store.publish("pm", "backend", "BLOCKER", "stop the deploy")
    out = delivery.answer(store, "backend", "s1", "PostToolUseFailure", {})
    assert out is not None
    spec = out["hookSpecificOutput"]
    assert spec["hookEventName"] == "PostToolUseFailure"
    assert "BLOCKER from pm" in spec["additionalContext"] and "stop the deploy" in spec["additionalContext"]


def test_another_sessions_hooks_change_nothing(store: Store, raw: redis.Redis) -> None:
    store.publish("pm", "backend", "QUESTION", "for the holder")
    before = record(raw, store)
    assert tool(store, session="intruder").state == "other"
    assert stop(store, session="intruder").state == "other"
    assert record(raw, store) == before
    assert raw.get(store.keys.seen("backend")) is None


def test_each_hook_is_one_round_trip(store: Store) -> None:
    store.publish("pm", "backend", "QUESTION", "q")
    for call in (lambda: tool(store), lambda: stop(store),
                 lambda: delivery.answer(store, "backend", "s1", "Notification", {"notification_type": "idle_prompt"})):
        before = store.round_trips
        call()
        assert store.round_trips - before == 1


# -- at Stop ---------------------------------------------------------------------------------------


def test_stop_blocks_for_unseen_actionable_mail_and_shows_it(store: Store, raw: redis.Redis) -> None:
    store.publish("pm", "backend", "TASK_ASSIGNMENT", "add /health")
    out = delivery.answer(store, "backend", "s1", "Stop", {"stop_hook_active": False})
    assert out is not None and out["decision"] == "block"
    assert "add /health" in out["reason"] and "continuation 1 of at most 3" in out["reason"]
    assert record(raw, store)["activity"] == "working"  # it goes on
    again = delivery.answer(store, "backend", "s1", "Stop", {"stop_hook_active": True})
    assert again is None  # already seen: the stop goes through
    assert record(raw, store)["activity"] == "idle"


def test_info_and_status_updates_alone_never_block_and_stay_unseen(store: Store, raw: redis.Redis) -> None:
    store.publish("qa", "backend", "INFO", "fyi")
    store.publish("qa", "backend", "STATUS_UPDATE", "tests pass")
    result = stop(store)
    assert result.state == "pass" and result.more == 2
    assert raw.get(store.keys.seen("backend")) is None
    assert [m.body for m in tool(store).messages] == ["fyi", "tests pass"]  # the next hook shows them


def test_merge_ready_is_actionable_for_the_main_role_only(make_store: Callable[..., Store]) -> None:
    store = make_store()
    store.register("pm", "p1", "/repo")
    store.register("backend", "s1", "/w")
    store.publish("qa", "pm", "MERGE_READY", "qa branch ready")
    store.publish("qa", "backend", "MERGE_READY", "fyi: qa branch ready")
    assert stop(store, role="pm", session="p1").state == "block"
    assert stop(store).state == "pass"


def test_continuations_in_a_row_are_bounded_by_keep_going_max(make_store: Callable[..., Store]) -> None:
    store = make_store(keep_going_max=2)
    store.register("backend", "s1", "/w")
    states = []
    for i in range(4):
        store.publish("qa", "backend", "QUESTION", f"q{i}")
        result = stop(store, active=i > 0)
        states.append((result.state, result.continued))
    # the third stop in a row goes through however actionable the mail; the agent has stopped then,
    # so the next stop starts a new run
    assert states == [("block", 1), ("block", 2), ("pass", 2), ("block", 1)]


def test_a_new_prompt_ends_a_run_of_continuations(make_store: Callable[..., Store], raw: redis.Redis) -> None:
    store = make_store(keep_going_max=1)
    store.register("backend", "s1", "/w")
    store.publish("qa", "backend", "QUESTION", "q0")
    assert stop(store).state == "block"
    assert raw.get(store.keys.continued("backend")) == "1"
    store.turn("backend", "s1")
    assert raw.get(store.keys.continued("backend")) is None
    store.publish("qa", "backend", "QUESTION", "q1")
    assert stop(store, active=True).state == "block"


def test_keep_going_max_zero_turns_the_stop_hook_off(make_store: Callable[..., Store]) -> None:
    store = make_store(keep_going_max=0)
    store.register("backend", "s1", "/w")
    store.publish("qa", "backend", "BLOCKER", "b")
    assert stop(store).state == "pass"


# -- activity --------------------------------------------------------------------------------------


def test_activity_follows_the_hooks_with_the_time_it_changed(store: Store, raw: redis.Redis,
                                                             clock: Clock) -> None:
    start = clock.now
    assert (record(raw, store)["activity"], record(raw, store)["activity_since"]) == ("idle", start)
    clock.now += 5
    store.turn("backend", "s1")
    assert (record(raw, store)["activity"], record(raw, store)["activity_since"]) == ("working", start + 5)
    clock.now += 5
    before = record(raw, store)
    tool(store)
    assert record(raw, store) == before  # still working, heartbeat fresh: a tool call writes nothing
    clock.now += store.config.heartbeat_seconds
    tool(store)
    assert record(raw, store)["last_heartbeat"] == clock.now  # an old heartbeat is refreshed
    assert record(raw, store)["activity_since"] == start + 5  # still working: the time does not move
    clock.now = start + 10
    clock.now += 5
    stop(store)
    assert (record(raw, store)["activity"], record(raw, store)["activity_since"]) == ("idle", start + 15)
    clock.now += 5
    delivery.answer(store, "backend", "s1", "Notification", {"notification_type": "permission_prompt"})
    rec = record(raw, store)
    assert (rec["activity"], rec["activity_since"], rec["activity_event"]) == \
        ("needs_input", start + 20, "Notification:permission_prompt")
    delivery.answer(store, "backend", "s1", "Notification", {"notification_type": "idle_prompt"})
    rec = record(raw, store)
    assert (rec["activity"], rec["activity_since"], rec["activity_event"]) == \
        ("needs_input", start + 20, "Notification:idle_prompt")  # the kind is news to the waker
    clock.now += 5
    store.heartbeat("backend", "s1")  # the MCP server's heartbeat keeps what the hooks said
    assert record(raw, store)["activity"] == "needs_input"
    view = next(v for v in store.presence() if v.role == "backend")
    assert view.summary()["activity"] == "needs_input" and view.summary()["activity_since"] == start + 20


# -- the MCP hook tool (the mcp_tool transport) -----------------------------------------------------


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return repo_with_worktrees(tmp_path, ["backend"])


def test_the_hook_tool_answers_like_the_command_hook(repo: Path, coord_env: dict[str, str]) -> None:
    env = {**{k: v for k, v in coord_env.items() if k.startswith("COORD_")},
           "CLAUDE_INSTANCE_ID": "backend", "CLAUDE_CODE_SESSION_ID": "sess-be"}
    svc = Service(env, repo / ".worktrees" / "backend")
    assert svc.waker is None  # not started by coord in tmux

    async def text(client: Client, args: dict[str, str]) -> str:
        result = await client.call_tool("coord_hook", args)
        assert not result.is_error, result
        return "".join(getattr(b, "text", "") for b in result.content)

    async def scenario() -> None:
        async with Client(build_server(svc, autostart=True)) as client:
            assert await text(client, {"event": "PostToolUse"}) == ""
            store = svc.store()
            store.publish("pm", "backend", "TASK_ASSIGNMENT", "ship it")
            shown = json.loads(await text(client, {"event": "PostToolUse", "stop_hook_active": "${stop_hook_active}"}))
            assert "ship it" in shown["hookSpecificOutput"]["additionalContext"]
            store.publish("pm", "backend", "QUESTION", "eta?")
            blocked = json.loads(await text(client, {"event": "Stop", "stop_hook_active": "false"}))
            assert blocked["decision"] == "block" and "eta?" in blocked["reason"]
            assert await text(client, {"event": "Stop", "stop_hook_active": "true"}) == ""
            assert await text(client, {"event": "SessionStart"}) == ""  # not a team-loop event

    anyio.run(scenario)


# -- the idle waker in a real tmux pane -------------------------------------------------------------

TMUX = shutil.which("tmux")
QUIET_SECONDS = 8.0  # wake_after_seconds (2) + two waker polls + slack: long enough for a wrong wake-up to show


def stays(check: Callable[[], bool], what: str, seconds: float = QUIET_SECONDS) -> None:
    """check holds for the whole time (a thing that must NOT happen, given time to happen)."""
    import time

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert check(), what
        time.sleep(0.2)


class Pane:
    """A private tmux server running the loop agent (tests/integration/loop_agent.py) as pm."""

    def __init__(self, repo: Path, env: dict[str, str], log: Path) -> None:
        self.socket = f"coord-loop-{uuid.uuid4().hex[:8]}"
        self.log = log
        argv = [sys.executable, "-m", "tests.integration.loop_agent"]
        pane_env = {**env, "COORD_ROLE": "pm", "CLAUDE_INSTANCE_ID": "pm", "COORD_WAKE": "tmux",
                    "CLAUDE_CODE_SESSION_ID": "sess-pm", "LOOP_AGENT_LOG": str(log),
                    "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
        args = [a for k, v in pane_env.items() for a in ("-e", f"{k}={v}")]
        self.tmux("new-session", "-d", "-s", "loop", "-x", "160", "-y", "40", "-c", str(repo), *args, "--", *argv)

    def tmux(self, *args: str) -> str:
        assert TMUX is not None
        done = subprocess.run([TMUX, "-L", self.socket, *args], capture_output=True, text=True, timeout=30)
        assert done.returncode == 0, done.stderr
        return done.stdout

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", "loop")

    def prompts(self) -> list[dict[str, Any]]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines() if line.strip()]

    def close(self) -> None:
        subprocess.run([TMUX or "tmux", "-L", self.socket, "kill-server"], capture_output=True, timeout=30)


@pytest.fixture
def pane(repo: Path, coord_env: dict[str, str], tmp_path: Path) -> Iterator[Pane]:
    if TMUX is None:
        pytest.fail("tmux is not installed: the waker test needs a real tmux (apt-get install tmux)")
    env = {k: v for k, v in coord_env.items() if k.startswith("COORD_") or k in ("PATH", "HOME", "LANG")}
    env["COORD_WAKE_AFTER_SECONDS"] = "2"
    env["COORD_KEEP_GOING_MAX"] = "0"
    p = Pane(repo, env, tmp_path / "prompts.jsonl")
    try:
        wait_for(lambda: "loop agent pm ready" in p.screen(), "the loop agent and its coord mcp to start", 120)
        yield p
    finally:
        p.close()


def test_an_idle_agent_in_tmux_is_woken_once_for_actionable_mail(pane: Pane, repo: Path,
                                                                 coord_env: dict[str, str], raw: redis.Redis) -> None:
    from coord.config import load_config
    from coord.repo import find_repo
    from coord.store import open_store

    paths = find_repo(repo)
    config = load_config(paths.main_root, {**coord_env, "COORD_KEEP_GOING_MAX": "0"})
    keys = Keys(coord_env["COORD_NAMESPACE"])
    with open_store(paths, config) as store:
        store.publish("qa", "pm", "INFO", "fyi only")  # never wakes anyone
        store.turn("pm", "sess-pm")  # a turn is running: working, INFO shown
        store.publish("backend", "pm", "QUESTION", "merge order? (asked while pm works)")
        # working: no wake-up however long it takes; the question waits for the turn's end
        wait_for(lambda: json.loads(raw.hget(keys.presence, "pm"))["activity"] == "working", "pm working")
        stays(lambda: pane.prompts() == [], "no wake-up while pm works")
        delivery.run_loop(store, "pm", "sess-pm", "stop", "Stop")  # keep_going_max 0: the stop goes through
        assert json.loads(raw.hget(keys.presence, "pm"))["activity"] == "idle"
        woken = wait_for(pane.prompts, "the waker to type a line into pm's pane", 120)
    (first,) = woken
    assert first["prompt"] == "coord: 1 new QUESTION from backend; read your mail and act on it"
    assert first["shown"] == ["merge order? (asked while pm works)"]  # the prompt hook showed the mail
    assert raw.get(keys.woken("pm")) is not None
    # idle again with nothing new: never typed twice for the same mail
    with open_store(paths, config) as store:
        store.publish("qa", "pm", "STATUS_UPDATE", "qa done")  # not actionable
        wait_for(lambda: json.loads(raw.hget(keys.presence, "pm"))["activity"] == "idle", "pm idle again")
        stays(lambda: len(pane.prompts()) == 1, "no second wake-up for the same mail, nor for a STATUS_UPDATE")
        store.publish("frontend", "pm", "TASK_ASSIGNMENT", "review the css")
        second = wait_for(lambda: len(pane.prompts()) >= 2 and pane.prompts(), "a second wake-up for new mail", 120)
    assert len(second) == 2 and "1 new TASK_ASSIGNMENT from frontend" in second[1]["prompt"]
    assert second[1]["shown"] == ["qa done", "review the css"]
    pane.tmux("send-keys", "-t", "loop", "/exit", "Enter")
    wait_for(lambda: json.loads(raw.hget(keys.presence, "pm"))["status"] == "inactive", "pm to end")
    assert len(pane.prompts()) == 2


def test_coord_presence_shows_each_live_sessions_activity(repo: Path, coord_env: dict[str, str]) -> None:
    from coord.config import load_config
    from coord.repo import find_repo
    from coord.store import open_store

    paths = find_repo(repo)
    with open_store(paths, load_config(paths.main_root, coord_env)) as store:
        store.register("backend", "s-be", str(repo / ".worktrees" / "backend"))
        store.turn("backend", "s-be")
        store.register("qa", "s-qa", "/elsewhere")
        store.deregister("qa", "s-qa")

    def coord(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "coord.cli", *args], cwd=repo, env=coord_env,
                              capture_output=True, text=True, timeout=120)

    table = coord("presence")
    assert table.returncode == 0, table.stderr
    lines = {line.split()[0]: line for line in table.stdout.splitlines()[1:]}
    assert table.stdout.splitlines()[0].split()[:4] == ["ROLE", "STATUS", "AGE", "ACTIVITY"]
    assert lines["backend"].split()[3] == "working"
    assert lines["qa"].split()[1:4] == ["inactive", lines["qa"].split()[2], "-"]  # an ended session: no activity
    rows = {r["role"]: r for r in json.loads(coord("presence", "--json").stdout)}
    assert rows["backend"]["activity"] == "working" and rows["backend"]["activity_since"] > 0
    assert rows["pm"]["activity"] is None
