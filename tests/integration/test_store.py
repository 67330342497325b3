"""The store against a real Valkey: presence (T05-T07 style), messages (T08/T20/T22 style),
notifications and the per-turn call. Time is injected; redis-py checks what was written."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
import redis

from coord.config import Config
from coord.errors import IdentityError, InvalidInputError, NotFoundError, StoreUnavailableError
from coord.keys import Keys
from coord.messages import MessageType
from coord.presence import Status
from coord.store import Store
from tests.integration.conftest import ROLES, Clock

pytestmark = pytest.mark.integration

@pytest.fixture
def store(make_store: Callable[..., Store]) -> Store:
    return make_store()


def by_role(store: Store) -> dict[str, object]:
    return {v.role: v for v in store.presence()}


# -- presence ----------------------------------------------------------------------------
def test_register_writes_the_record_and_alive_key(store: Store, raw: redis.Redis, clock: Clock) -> None:
    result = store.register("backend", "s1", "/repo/.worktrees/backend")
    assert result.outcome == "new"
    keys = Keys(store.namespace)
    record = json.loads(raw.hget(keys.presence, "backend"))
    assert record == {
        "role": "backend", "session_id": "s1", "worktree_path": "/repo/.worktrees/backend",
        "registered_at": clock.now, "last_heartbeat": clock.now, "status": "active", "host": store.host,
        # a new session waits at its prompt until its first hook says otherwise (coord.delivery)
        "activity": "idle", "activity_since": clock.now, "activity_event": "SessionStart",
    }
    assert raw.get(keys.alive("backend")) == "s1"
    assert 290 < raw.ttl(keys.alive("backend")) <= 300


def test_reregistering_the_same_session_keeps_registered_at(store: Store, clock: Clock) -> None:
    store.register("backend", "s1", "/w")
    first = clock.now
    clock.now += 50
    assert store.register("backend", "s1", "/w").outcome == "same"
    view = by_role(store)["backend"]
    assert (view.registered_at, view.last_heartbeat) == (first, clock.now)


def test_live_holder_refuses_a_second_session(store: Store) -> None:
    store.register("backend", "s1", "/w")
    with pytest.raises(IdentityError) as info:
        store.register("backend", "s2", "/w")
    assert "s1" in info.value.line() and info.value.exit_code == 6
    assert by_role(store)["backend"].session_id == "s1"


def test_stale_boundary_299_999_is_live_300_is_stale(store: Store, clock: Clock) -> None:
    store.register("backend", "s1", "/w")
    start = clock.now
    clock.now = start + 299.999
    view = by_role(store)["backend"]
    assert (view.status, view.stale) == (Status.ACTIVE, False)
    with pytest.raises(IdentityError):
        store.register("backend", "s2", "/w")  # Lua agrees: still live
    clock.now = start + 300
    view = by_role(store)["backend"]
    assert (view.status, view.stale, view.seconds_since_heartbeat) == (Status.STALE, True, 300)
    taken = store.register("backend", "s2", "/w2")  # Lua agrees: stale at exactly 300 s
    assert (taken.outcome, taken.previous_session, taken.previous_age) == ("takeover", "s1", 300.0)


def test_heartbeat_reactivates_a_stale_session(store: Store, clock: Clock) -> None:
    store.register("backend", "s1", "/w")
    clock.now += 400
    assert by_role(store)["backend"].status is Status.STALE
    assert store.heartbeat("backend", "s1").reactivated is True
    assert by_role(store)["backend"].status is Status.ACTIVE
    assert store.heartbeat("backend", "s1").reactivated is False


def test_heartbeat_of_unregistered_role_is_not_found(store: Store) -> None:
    with pytest.raises(NotFoundError, match="not registered") as info:
        store.heartbeat("qa", "s1")
    assert info.value.exit_code == 3 and "register" in info.value.line()


def test_heartbeat_by_another_session_is_refused(store: Store, clock: Clock) -> None:
    store.register("backend", "s1", "/w")
    with pytest.raises(IdentityError, match="live"):
        store.heartbeat("backend", "s2")
    clock.now += 1000
    with pytest.raises(IdentityError, match="no longer live") as info:
        store.heartbeat("backend", "s2")
    assert "register again" in info.value.line()
    assert by_role(store)["backend"].session_id == "s1"


def test_deregister_keeps_history_and_frees_the_role(store: Store, raw: redis.Redis, clock: Clock) -> None:
    store.register("backend", "s1", "/w")
    registered = clock.now
    clock.now += 10
    store.heartbeat("backend", "s1")
    with pytest.raises(IdentityError):
        store.deregister("backend", "s2")  # only the holder (or a human) may
    assert store.deregister("backend", "s1") is True
    view = by_role(store)["backend"]
    assert (view.status, view.registered_at, view.last_heartbeat) == (Status.INACTIVE, registered, clock.now)
    assert raw.get(Keys(store.namespace).alive("backend")) is None
    assert store.register("backend", "s2", "/w").outcome == "restart"  # inactive may be taken at once: no takeover
    assert store.deregister("backend") is True  # forced by a human
    assert store.deregister("qa") is False  # never registered: nothing to do


def test_presence_lists_every_role_and_unconfigured_leftovers(make_store: Callable[..., Store]) -> None:
    wide = make_store(roles=(*ROLES, "devops"))
    wide.register("devops", "s9", "/d")
    narrow = make_store()
    views = narrow.presence()
    assert [v.role for v in views] == [*ROLES, "devops"]
    assert [v.status for v in views[:-1]] == [Status.ABSENT] * 4
    assert views[-1].configured is False and views[-1].session_id == "s9"


def test_expired_alive_key_means_not_live(store: Store, raw: redis.Redis) -> None:
    store.register("backend", "s1", "/w")
    raw.delete(Keys(store.namespace).alive("backend"))  # what the TTL does after presence_ttl_seconds
    assert by_role(store)["backend"].status is Status.STALE
    assert store.register("backend", "s2", "/w").outcome == "takeover"


# -- messages ----------------------------------------------------------------------------
def test_publish_to_one_role_is_pending_until_acked(store: Store, raw: redis.Redis) -> None:
    sent = store.publish("pm", "backend", MessageType.QUESTION, "which port?")
    msg_id = sent.ids["backend"]
    assert raw.hget(Keys(store.namespace).pending("backend"), msg_id) == "QUESTION"
    first = store.check("backend")
    assert first.total == 1
    m = first.messages[0]
    assert (m.id, m.sender, m.recipient, m.type, m.body) == (msg_id, "pm", "backend", "QUESTION", "which port?")
    # A reader that crashed before acknowledging gets it again.
    assert [x.id for x in store.check("backend").messages] == [msg_id]
    assert store.check("frontend").total == 0
    acked = store.ack("backend", [msg_id, "1-1", "not-an-id"])
    assert acked.acknowledged == [msg_id] and acked.unknown == ["1-1", "not-an-id"]
    assert store.check("backend").total == 0
    assert store.ack("backend", [msg_id]).unknown == [msg_id]  # twice is harmless


def test_a_role_cannot_ack_another_roles_message(store: Store) -> None:
    msg_id = store.publish("pm", "backend", "INFO", "x").ids["backend"]
    assert store.ack("frontend", [msg_id]).acknowledged == []
    assert store.check("backend").total == 1


def test_broadcast_reaches_everyone_but_the_sender(store: Store) -> None:
    sent = store.publish("backend", "all", MessageType.STATUS_UPDATE, "api merged")
    assert sorted(sent.ids) == ["frontend", "pm", "qa"]
    for role in ("pm", "frontend", "qa"):
        (m,) = store.check(role).messages
        assert (m.sender, m.recipient, m.body) == ("backend", "all", "api merged")
    assert store.check("backend").total == 0


def test_lifecycle_types_go_to_the_event_log(store: Store) -> None:
    sent = store.publish("backend", "all", MessageType.SESSION_START, "hello")
    assert sent.event and list(sent.ids) == ["events"]
    store.publish("backend", "all", "session_end", "bye")
    assert [e.type for e in store.events()] == ["SESSION_END", "SESSION_START"]
    assert all(store.check(r).total == 0 for r in ROLES)


def test_order_from_one_sender_is_kept(store: Store) -> None:
    for i in range(30):
        store.publish("pm", "backend", "INFO", f"n{i}")
    assert [m.body for m in store.check("backend", limit=100).messages] == [f"n{i}" for i in range(30)]
    limited = store.check("backend", limit=5)
    assert limited.total == 30 and [m.body for m in limited.messages] == [f"n{i}" for i in range(5)]


def test_body_limit_64_kib(store: Store) -> None:
    store.publish("pm", "backend", "INFO", "x" * 65536)
    with pytest.raises(InvalidInputError, match="65537 bytes, the limit is 65536") as info:
        store.publish("pm", "backend", "INFO", "x" * 65537)
    assert info.value.exit_code == 2
    with pytest.raises(InvalidInputError, match="65538 bytes"):
        store.publish("pm", "backend", "INFO", "é" * 32769)
    assert store.check("backend").messages[0].body == "x" * 65536
    assert store.check("backend").total == 1


@pytest.mark.parametrize(
    ("sender", "recipient", "type_", "body"),
    [("nobody", "backend", "INFO", "x"), ("pm", "nobody", "INFO", "x"), ("pm", "backend", "NOPE", "x"),
     ("pm", "backend", "INFO", ""), ("pm", "../x", "INFO", "x")],
)
def test_bad_publish_input_is_refused_and_nothing_written(
    store: Store, sender: str, recipient: str, type_: str, body: str
) -> None:
    with pytest.raises(InvalidInputError):
        store.publish(sender, recipient, type_, body)
    assert all(store.check(r).total == 0 for r in ROLES)


def test_unicode_and_binaryish_bodies_round_trip(store: Store) -> None:
    body = "naïve 🚀\r\n$3\r\n*1\r\n\x00 tab\t"
    store.publish("pm", "backend", "INFO", body)
    assert store.check("backend").messages[0].body == body


def test_notifications_count_types_and_newest(make_store: Callable[..., Store]) -> None:
    store = make_store(recent_notifications=2)
    assert store.notifications("qa").count == 0
    store.publish("pm", "qa", "QUESTION", "q1")
    store.publish("backend", "qa", "REVIEW_REQUEST", "r1")
    store.publish("frontend", "qa", "QUESTION", "q2")
    note = store.notifications("qa")
    assert note.count == 3 and note.by_type == {"QUESTION": 2, "REVIEW_REQUEST": 1}
    assert [m.body for m in note.recent] == ["q2", "r1"]
    store.ack("qa", [note.recent[0].id])
    assert store.notifications("qa").by_type == {"QUESTION": 1, "REVIEW_REQUEST": 1}


# -- the per-turn call --------------------------------------------------------------------
def test_turn_shows_each_pending_message_once_and_heartbeats(store: Store, clock: Clock) -> None:
    store.register("backend", "s1", "/w")
    store.publish("pm", "backend", "TASK_ASSIGNMENT", "build the API")
    clock.now += 100
    first = store.turn("backend", "s1")
    assert first.state == "active" and [m.body for m in first.messages] == ["build the API"]
    assert (first.pending, first.more) == (1, 0)
    assert by_role(store)["backend"].last_heartbeat == clock.now
    second = store.turn("backend", "s1")
    assert second.messages == [] and second.pending == 1  # shown once, still pending until acked
    store.publish("qa", "backend", "BLOCKER", "tests red")
    third = store.turn("backend", "s1")
    assert [m.body for m in third.messages] == ["tests red"] and third.pending == 2


def test_turn_pages_through_many_messages(store: Store) -> None:
    for i in range(25):
        store.publish("pm", "backend", "INFO", f"m{i}")
    first = store.turn("backend", "s1", "/w", limit=20)
    assert first.state == "claimed" and len(first.messages) == 20 and first.more == 5
    second = store.turn("backend", "s1", "/w", limit=20)
    assert [m.body for m in second.messages] == [f"m{i}" for i in range(20, 25)] and second.more == 0


def test_turn_reports_a_live_holder_without_changing_anything(store: Store, clock: Clock) -> None:
    store.register("backend", "s1", "/w")
    store.publish("pm", "backend", "INFO", "for s1")
    result = store.turn("backend", "intruder", "/elsewhere")
    assert result.held and result.holder_session == "s1" and result.messages == []
    assert by_role(store)["backend"].session_id == "s1"
    assert [m.body for m in store.turn("backend", "s1").messages] == ["for s1"]  # not consumed by the intruder
    clock.now += 300
    taken = store.turn("backend", "s2", "/w2")
    assert taken.state == "claimed" and taken.holder_session == "s1"
    assert by_role(store)["backend"].worktree_path == "/w2"


def test_unreachable_server_is_one_line_with_the_fix(clock: Clock) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    store = Store(f"redis://:hunter2@127.0.0.1:{port}/0", "x", Config(), clock=clock, timeout=0.5)
    with pytest.raises(StoreUnavailableError) as info:
        store.presence()
    line = info.value.line()
    assert "hunter2" not in line and f"127.0.0.1:{port}" in line
    assert "COORD_REDIS_URL" in line and "redis.up" not in line
    assert info.value.exit_code == 5


def test_wrong_password_is_reported(valkey, clock: Clock) -> None:  # type: ignore[no-untyped-def]
    url = valkey.url.replace("redis://", "redis://:wrong@")
    store = Store(url, "x", Config(), clock=clock)
    # The fixture server has no password: AUTH fails with an error naming the credentials.
    with pytest.raises(StoreUnavailableError, match=r"credentials|password") as info:
        store.presence()
    assert "wrong" not in info.value.message.split("refused")[0]


def test_pending_order_is_numeric_not_lexical(store: Store, raw: redis.Redis) -> None:
    # Ids within one millisecond: 7-10 sorts after 7-9 (as strings it would not).
    keys = Keys(store.namespace)
    for seq in (1, 2, 9, 10, 11):
        raw.xadd(keys.inbox("qa"), {"sender": "pm", "recipient": "qa", "type": "INFO", "body": f"s{seq}", "ts": "1"},
                 id=f"7-{seq}")
    for seq in (10, 2, 9, 11, 1):  # the pending hash has no order of its own
        raw.hset(keys.pending("qa"), f"7-{seq}", "INFO")
    raw.xadd(keys.inbox("qa"), {"sender": "pm", "recipient": "qa", "type": "INFO", "body": "later", "ts": "1"},
             id="10-0")
    raw.hset(keys.pending("qa"), "10-0", "INFO")
    assert [m.body for m in store.check("qa").messages] == ["s1", "s2", "s9", "s10", "s11", "later"]
    assert [m.body for m in store.notifications("qa").recent] == ["later", "s11", "s10", "s9", "s2"]
    first = store.turn("qa", "s", "/q", limit=3)
    assert [m.body for m in first.messages] == ["s1", "s2", "s9"] and first.more == 3
    assert [m.body for m in store.turn("qa", "s", "/q").messages] == ["s10", "s11", "later"]
