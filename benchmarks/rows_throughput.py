"""Row 5: 10,000 messages to 50 roles, then read and acknowledged by each role.

coord's store API against the same work done with raw redis-py on the same server, in the same
run. "Pipelined" is taken per operation, as an agent works: one publish is one round trip
(MULTI/EXEC of XADD to the inbox stream + HSET of the pending hash), one read is one round trip,
one acknowledgement is one round trip. A single batch of all 10,000 publishes is reported
beside it for context: the store API has no batch publish, because agents send one message at a time.
"""

from __future__ import annotations

import itertools
import time
import uuid
from typing import Any

from benchmarks.context import Context
from benchmarks.core import Row, at_least, median
from benchmarks.fixture import make_site, role_names
from benchmarks.infra import Valkey, module_present, workspace
from benchmarks.store_api import ack_all, publish

ROLES = 50
SENDER = "pm"


def _body(i: int) -> str:
    return f"message {i}: please look at src/d{i % 100:03d}/f{i:05d}.py, the tests there fail since the last merge"


class RawBaseline:
    """The same messages with redis-py: inbox STREAM + pending HASH per role, like coord's keys."""

    def __init__(self, url: str, roles: list[str]) -> None:
        import redis

        self.client = redis.Redis.from_url(url, protocol=2)
        self.roles = roles
        self.prefix = f"raw:{{{uuid.uuid4().hex[:8]}}}"
        self._ms = 0
        self._seq = itertools.count()

    def _next_id(self) -> str:
        # Ids chosen by the client so that XADD and HSET fit in one round trip.
        now = int(time.time() * 1000)
        if now > self._ms:
            self._ms = now
            self._seq = itertools.count()
        return f"{self._ms}-{next(self._seq)}"

    def publish(self, recipient: str, type_name: str, body: str) -> str:
        msg_id = self._next_id()
        pipe = self.client.pipeline(transaction=True)
        pipe.xadd(f"{self.prefix}:inbox:{recipient}",
                  {"sender": SENDER, "type": type_name, "body": body, "ts": repr(time.time())}, id=msg_id)
        pipe.hset(f"{self.prefix}:pending:{recipient}", msg_id, type_name)
        pipe.execute()
        return msg_id

    def publish_batch(self, messages: list[tuple[str, str, str]]) -> None:
        pipe = self.client.pipeline(transaction=False)
        for recipient, type_name, body in messages:
            msg_id = self._next_id()
            pipe.xadd(f"{self.prefix}:inbox:{recipient}",
                      {"sender": SENDER, "type": type_name, "body": body, "ts": repr(time.time())}, id=msg_id)
            pipe.hset(f"{self.prefix}:pending:{recipient}", msg_id, type_name)
        pipe.execute()

    def read_and_ack(self, role: str) -> int:
        pipe = self.client.pipeline(transaction=False)
        pipe.hkeys(f"{self.prefix}:pending:{role}")
        pipe.xrange(f"{self.prefix}:inbox:{role}", "-", "+")
        pending, entries = pipe.execute()
        wanted = set(pending)
        messages = [(i, fields) for i, fields in entries if i in wanted]
        if messages:
            self.client.hdel(f"{self.prefix}:pending:{role}", *[i for i, _ in messages])
        return len(messages)

    def reset(self) -> None:
        keys = [f"{self.prefix}:{kind}:{r}" for r in self.roles for kind in ("inbox", "pending")]
        self.client.delete(*keys)
        self.prefix = f"raw:{{{uuid.uuid4().hex[:8]}}}"


def _plan(count: int, roles: list[str]) -> list[tuple[str, str, str]]:
    return [(roles[i % len(roles)], "INFO", _body(i)) for i in range(count)]


CHUNK = 250  # messages per timed slice; slices of the two sides alternate


def _timed(fn: Any) -> tuple[float, Any]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def _round(raw: RawBaseline, store: Any, plan: list[tuple[str, str, str]], roles: list[str],
           flip: bool) -> tuple[float, float | None]:
    """One round of the whole work on both sides, cut into slices that alternate between them,
    so a burst of other load on the machine lands on both alike. Returns (raw s, store s)."""
    raw_s = 0.0
    store_s = 0.0
    for n, start in enumerate(range(0, len(plan), CHUNK)):
        part = plan[start : start + CHUNK]
        sides = ["raw", "store"] if (n % 2 == 0) != flip else ["store", "raw"]
        for side in sides:
            if side == "raw":
                raw_s += _timed(lambda part=part: [raw.publish(*m) for m in part])[0]
            elif store is not None:
                store_s += _timed(lambda part=part: [publish(store, SENDER, *m) for m in part])[0]
    raw_read = store_read = 0
    for n, role in enumerate(roles):
        sides = ["raw", "store"] if (n % 2 == 0) != flip else ["store", "raw"]
        for side in sides:
            if side == "raw":
                spent, got = _timed(lambda role=role: raw.read_and_ack(role))
                raw_s, raw_read = raw_s + spent, raw_read + got
            elif store is not None:
                spent, got = _timed(lambda role=role: ack_all(store, role))
                store_s, store_read = store_s + spent, store_read + got
    if raw_read != len(plan):
        raise RuntimeError(f"raw baseline read {raw_read} of {len(plan)} messages")
    if store is not None and store_read != len(plan):
        raise RuntimeError(f"store read {store_read} of {len(plan)} messages")
    raw.reset()
    return raw_s, (store_s if store is not None else None)


def _run_batch(raw: RawBaseline, plan: list[tuple[str, str, str]]) -> float:
    start = time.perf_counter()
    raw.publish_batch(plan)
    read = sum(raw.read_and_ack(r) for r in raw.roles)
    elapsed = time.perf_counter() - start
    if read != len(plan):
        raise RuntimeError(f"batched baseline read {read} of {len(plan)} messages")
    raw.reset()
    return elapsed


def throughput(ctx: Context) -> list[Row]:
    count = ctx.n(10_000, 2_000)
    rounds = ctx.n(2, 1)
    roles = role_names(ROLES, prefix="r")
    plan = _plan(count, roles)
    row = Row("5", f"{count:,} msgs to {ROLES} roles, read + acked (store API)", unit="msg/s",
              baseline_label="raw redis-py, 1 round trip per op", target=at_least(0.5))
    missing = None if module_present("coord.store") else "coord.store not there"
    with workspace("throughput") as ws:
        if missing:
            server: Valkey = ws.valkey("valkey", durable=True)
            url = server.url
            store = None
        else:
            site = make_site(ws, roles)
            store = site.store()
            url = site.redis_url
        raw = RawBaseline(url, roles)
        raw_times: list[float] = []
        store_times: list[float] = []
        for i in range(rounds):
            ctx.log(f"throughput: round {i + 1}/{rounds}")
            raw_s, store_s = _round(raw, store, plan, roles, flip=i % 2 == 1)
            raw_times.append(raw_s)
            if store_s is not None:
                store_times.append(store_s)
        batch = _run_batch(raw, plan)
        row.baseline = count / median(raw_times)
        row.details["raw_batched_msgs_per_s"] = count / batch
        row.details["rounds"] = rounds
        row.details["raw_seconds"] = [round(t, 2) for t in raw_times]
        row.details["store_seconds"] = [round(t, 2) for t in store_times]
        if store is None:
            row.missing = missing
        else:
            row.figure = count / median(store_times)
            row.details["server"] = site.server
    return [row]
