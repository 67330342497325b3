"""Constant round trips whatever the number of agents or messages, and 10 processes at once."""

from __future__ import annotations

import multiprocessing

import pytest
import redis

from coord.config import Config
from coord.store import Store

pytestmark = pytest.mark.integration


def _calls(store: Store, roles: tuple[str, ...]) -> dict[str, int]:
    """Round trips of each store call, measured by the store's connection and by the server."""
    me = roles[1]
    counts: dict[str, int] = {}

    def measure(name: str, fn) -> None:  # type: ignore[no-untyped-def]
        before = store.round_trips
        fn()
        counts[name] = store.round_trips - before

    measure("register", lambda: store.register(me, "s", "/w"))
    measure("heartbeat", lambda: store.heartbeat(me, "s"))
    measure("presence", store.presence)
    measure("broadcast", lambda: store.publish(roles[0], "all", "INFO", "hello all"))
    measure("publish_one", lambda: store.publish(roles[0], me, "QUESTION", "q"))
    measure("event", lambda: store.publish(me, "all", "SESSION_START", "up"))
    measure("check", lambda: store.check(me, limit=1000))
    measure("notifications", lambda: store.notifications(me))
    measure("turn", lambda: store.turn(me, "s"))
    ids = [m.id for m in store.check(me, limit=1000).messages]
    measure("ack", lambda: store.ack(me, ids))
    measure("deregister", lambda: store.deregister(me, "s"))
    return counts


def _warm(store: Store) -> None:
    """Load every script once (the first EVALSHA of a script on a server costs one extra trip)."""
    from coord.scripts import ALL

    for script in ALL:
        store.connection.pipeline([["SCRIPT", "LOAD", script.source]])


@pytest.mark.parametrize("agents", [1, 200])
def test_round_trips_do_not_grow_with_agents(valkey, namespace: str, agents: int) -> None:  # type: ignore[no-untyped-def]
    roles = ("pm", *(f"agent-{i}" for i in range(agents)))
    store = Store(valkey.url, namespace, Config(roles=roles, main_role="pm"))
    _warm(store)
    for i, role in enumerate(roles[2:]):
        store.register(role, f"s{i}", "/w")  # every other agent present: presence has `agents` records
    for i in range(50):
        store.publish("pm", roles[1], "INFO", f"backlog {i}")  # and a backlog of messages
    server = redis.Redis.from_url(valkey.url, decode_responses=True)
    server.config_resetstat()
    counts = _calls(store, roles)
    stats = server.info("commandstats")
    server.close()
    assert all(n == 1 for n in counts.values()), counts
    # The server saw scripts and single commands only: no per-agent loop of round trips, no KEYS/SCAN.
    assert "cmdstat_keys" not in stats and "cmdstat_scan" not in stats
    # The server agrees with the client's count: one EVALSHA per scripted call (scripts were loaded,
    # so no EVAL), the rest single commands (presence: HGETALL+MGET in one pipeline; event: XADD).
    scripted = {"register", "heartbeat", "broadcast", "publish_one", "check", "notifications", "turn", "ack",
                "deregister"}
    assert stats["cmdstat_evalsha"]["calls"] == len(scripted) + 1  # + the check() that collected the ids
    assert "cmdstat_eval" not in stats
    assert stats["cmdstat_mget"]["calls"] == 1
    store.close()


def _worker(url: str, namespace: str, index: int, rounds: int, queue) -> None:  # type: ignore[no-untyped-def]
    roles = tuple(f"w{i}" for i in range(10))
    store = Store(url, namespace, Config(roles=roles, main_role="w0"))
    me = roles[index]
    try:
        store.register(me, f"sess-{index}", f"/w/{index}")
        for n in range(rounds):
            store.heartbeat(me, f"sess-{index}")
            store.publish(me, roles[(index + 1) % 10], "INFO", f"{me}:{n}")
            store.publish(me, "all", "STATUS_UPDATE", f"{me} round {n}")
        got = store.check(me, limit=1000)
        queue.put((index, None, got.total))
    except Exception as exc:  # report, the parent asserts
        queue.put((index, repr(exc), 0))
    finally:
        store.close()


def test_ten_processes_heartbeating_and_messaging(valkey, namespace: str) -> None:  # type: ignore[no-untyped-def]
    rounds = 20
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(valkey.url, namespace, i, rounds, queue)) for i in range(10)]
    for p in procs:
        p.start()
    results = [queue.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=30)
    assert all(error is None for _, error, _ in results), results
    roles = tuple(f"w{i}" for i in range(10))
    store = Store(valkey.url, namespace, Config(roles=roles, main_role="w0"))
    for index, role in enumerate(roles):
        msgs = store.check(role, limit=1000).messages
        # one direct message per round from the previous role, plus 9 broadcasters' updates per round
        assert len(msgs) == rounds + 9 * rounds
        sender = roles[(index - 1) % 10]
        direct = [m.body for m in msgs if m.type == "INFO"]
        assert direct == [f"{sender}:{n}" for n in range(rounds)]  # per-sender order kept
        for other in roles:
            if other == role:
                continue
            updates = [m.body for m in msgs if m.sender == other and m.type == "STATUS_UPDATE"]
            assert updates == [f"{other} round {n}" for n in range(rounds)]
    views = store.presence()
    assert all(v.status.value == "active" for v in views)
    store.close()
