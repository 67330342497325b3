"""Concurrency, fast budgets (issue 7): ~10 real `coord mcp` sessions exchanging messages for ~5 s,
two sessions racing for one role, and many processes racing at the store. The 50-session / 60 s run
and the 20 parallel setups are in tests/stress."""

from __future__ import annotations

import json
import threading
import uuid
from pathlib import Path
from typing import Any

import anyio
import pytest
import redis
from mcp.client import Client

from coord.config import Config
from coord.errors import IdentityError
from coord.keys import Keys
from coord.store import Store
from tests.stress.exchange import run_exchange, verdict
from tests.stress.support import agents_repo, mcp_params, setup_worktrees, tool

pytestmark = pytest.mark.integration

FAST_ENV = {"COORD_HEARTBEAT_SECONDS": "1", "COORD_STALE_SECONDS": "15", "COORD_PRESENCE_TTL_SECONDS": "15"}


def test_ten_sessions_exchange_messages_none_lost(tmp_path: Path, valkey: Any, namespace: str) -> None:
    roles = ["pm", *(f"a{i}" for i in range(9))]
    repo = agents_repo(tmp_path / "repo", roles)
    setup_worktrees(repo, roles)
    env = {"COORD_REDIS_URL": valkey.url, "COORD_NAMESPACE": namespace, **FAST_ENV}
    figures = anyio.run(run_exchange, repo, roles, env, 5.0)
    assert verdict(figures) == []
    assert figures.published >= 20 and figures.received == figures.deliveries
    print(f"10 sessions: {figures.published} published, {figures.deliveries} deliveries, "
          f"{figures.tool_calls} tool calls, start {figures.start_seconds:.1f}s")


async def race_once(repo: Path, env: dict[str, str]) -> list[tuple[bool, Any]]:
    """Two `coord mcp` for the same role started at the same moment (each registers as it starts);
    both then say, through coord_get_presence, whether they hold the role."""
    results: list[tuple[bool, Any]] = []
    both_up = anyio.Event()
    both_done = anyio.Event()
    up = 0

    async def one(sid: str) -> None:
        nonlocal up
        async with Client(mcp_params(repo, "backend", sid, env)) as client:
            up += 1
            if up == 2:
                both_up.set()
            await both_up.wait()
            results.append(await tool(client, "coord_get_presence"))
            if len(results) == 2:
                both_done.set()
            # stay connected until both have asked: a closed session deregisters, which would
            # let the slower racer take the role over instead of racing for it
            await both_done.wait()

    async with anyio.create_task_group() as group:
        group.start_soon(one, "racer-a")
        group.start_soon(one, "racer-b")
    return results


@pytest.mark.parametrize("round_", range(2))
def test_two_sessions_racing_for_one_role(tmp_path: Path, valkey: Any, round_: int) -> None:
    repo = agents_repo(tmp_path / "repo", ["pm", "backend"])
    setup_worktrees(repo, ["pm", "backend"])
    env = {"COORD_REDIS_URL": valkey.url, "COORD_NAMESPACE": f"race-{uuid.uuid4().hex[:8]}"}
    results = anyio.run(race_once, repo, env)
    assert all(ok for ok, _ in results), results
    losers = [r["note"] for _, r in results if "note" in r]
    assert len(losers) == 1 and len(results) == 2, results
    holder = json.loads(redis.Redis.from_url(valkey.url, decode_responses=True).hget(
        Keys(env["COORD_NAMESPACE"]).presence, "backend"))["session_id"]
    assert holder in ("racer-a", "racer-b")
    assert f"held by another live session {holder[:8]}" in losers[0]


def test_many_threads_racing_at_the_store_exactly_one_wins(valkey: Any, namespace: str) -> None:
    config = Config(roles=("pm", "backend"))
    rounds, racers = 30, 12
    for n in range(rounds):
        wins: list[str] = []
        refusals: list[str] = []
        start = threading.Barrier(racers)

        def racer(i: int, n: int = n, wins: list[str] = wins, refusals: list[str] = refusals,
                  start: threading.Barrier = start) -> None:
            store = Store(valkey.url, f"{namespace}-{n}", config)
            start.wait()
            try:
                store.register("backend", f"s{i}", "/x")
                wins.append(f"s{i}")
            except IdentityError as exc:
                refusals.append(exc.line())
            finally:
                store.close()

        threads = [threading.Thread(target=racer, args=(i,)) for i in range(racers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
        assert len(wins) == 1 and len(refusals) == racers - 1, (wins, refusals)
        assert all(wins[0] in line for line in refusals)
