"""The store against a 3-node Redis Cluster on loopback: every key of a repository shares one hash
tag, so one node serves them all and the client follows one MOVED redirection to it."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from redis.crc import key_slot

from coord.config import Config
from coord.keys import Keys
from coord.server_process import ValkeyServer
from coord.store import Store
from tests.polling import wait_for

pytestmark = pytest.mark.integration

RANGES = ((0, 5460), (5461, 10922), (10923, 16383))


def _port_pair() -> int:
    """A port whose cluster bus port (+10000) is free too."""
    for _ in range(100):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port + 10000 > 65535:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port + 10000))
            except OSError:
                continue
        return port
    raise RuntimeError("no free port pair")


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[list[int]]:
    nodes: list[ValkeyServer] = []
    ports: list[int] = []
    try:
        for i in range(3):
            work = tmp_path / f"node{i}"
            node = ValkeyServer(work, port=_port_pair(), extra=(
                "--cluster-enabled", "yes", "--cluster-config-file", str(work / "nodes.conf")))
            nodes.append(node)
            node.start()
            ports.append(node.port)
        clients = [redis.Redis(port=p, decode_responses=True) for p in ports]
        for client, (lo, hi) in zip(clients, RANGES, strict=True):
            client.execute_command("CLUSTER", "ADDSLOTSRANGE", lo, hi)
        for port in ports[1:]:
            clients[0].execute_command("CLUSTER", "MEET", "127.0.0.1", port)

        def formed() -> bool:
            states = [str(c.execute_command("CLUSTER", "INFO")) for c in clients]
            return all("cluster_state:ok" in s and "cluster_known_nodes:3" in s for s in states)

        wait_for(formed, "the three nodes to form a cluster")
        for c in clients:
            c.close()
        yield ports
    finally:
        for node in nodes:
            node.stop()


def _owner(slot: int) -> int:
    return next(i for i, (lo, hi) in enumerate(RANGES) if lo <= slot <= hi)


def test_store_works_on_a_three_node_cluster(cluster: list[int]) -> None:
    namespace = "cluster-repo"
    keys = Keys(namespace)
    slots = {key_slot(k.encode()) for k in (keys.presence, keys.alive("backend"), keys.inbox("qa"),
                                              keys.pending("qa"), keys.seen("qa"), keys.events)}
    assert len(slots) == 1  # the hash tag puts every key in one slot
    owner = _owner(slots.pop())
    wrong = cluster[(owner + 1) % 3]  # start at a node that does NOT serve the slot: MOVED
    store = Store(f"redis://127.0.0.1:{wrong}/0", namespace, Config(roles=("pm", "backend", "qa")))
    store.register("backend", "s1", "/w")
    assert store.connection._node is not None and store.connection._node.port == cluster[owner]
    store.heartbeat("backend", "s1")
    sent = store.publish("pm", "all", "QUESTION", "across the cluster?")
    store.publish("pm", "all", "SESSION_START", "event")
    got = store.check("qa")
    assert [m.body for m in got.messages] == ["across the cluster?"]
    assert store.turn("qa", "s2", "/q").messages[0].id == sent.ids["qa"]
    assert store.notifications("qa").count == 1
    assert store.ack("qa", [sent.ids["qa"]]).acknowledged == [sent.ids["qa"]]
    assert [v.status.value for v in store.presence()] == ["absent", "active", "active"]
    assert store.events()[0].type == "SESSION_START"
    assert store.deregister("backend", "s1") is True
    # Once redirected, calls go straight to the owner: one round trip each.
    before = store.round_trips
    store.presence()
    store.check("qa")
    assert store.round_trips - before == 2
    # Independent check with a cluster-aware client: the data is on the owner node.
    owner_client = redis.Redis(port=cluster[owner], decode_responses=True)
    assert owner_client.hget(keys.presence, "backend") is not None
    owner_client.close()
    store.close()
