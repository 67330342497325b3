"""Fixtures shared by the store-level integration tests (test_store, test_team_loop): a Store on the
session's real Valkey with an injected clock, and a redis-py client that checks what was written."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis

from coord.config import Config
from coord.store import Store
from tests.conftest import ValkeyProcess

ROLES = ("pm", "backend", "frontend", "qa")


class Clock:
    """The store's clock, set by the test (the scripts take it instead of the server's TIME)."""

    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def make_store(valkey: ValkeyProcess, namespace: str, clock: Clock) -> Iterator[Callable[..., Store]]:
    stores: list[Store] = []

    def make(**overrides: Any) -> Store:
        store = Store(valkey.url, namespace, Config(**{"roles": ROLES, **overrides}), clock=clock)
        stores.append(store)
        return store

    yield make
    for s in stores:
        s.close()


@pytest.fixture
def raw(valkey: ValkeyProcess) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(valkey.url, decode_responses=True)
    yield client
    client.close()
