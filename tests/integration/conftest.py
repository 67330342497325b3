"""Fixtures shared by the integration tests: a Store on the session's real Valkey with an injected
clock, a redis-py client that checks what was written, and a repository with role worktrees the
way coord makes them (the MCP server tests start sessions in them)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from coord.config import Config
from coord.store import Store
from tests.conftest import ValkeyProcess, git, make_repo

ROLES = ("pm", "backend", "frontend", "qa")


def repo_with_worktrees(root: Path, roles: Iterable[str]) -> Path:
    """A repository at root/repo with a worktree per role on agent/<role>/active, each with the
    role's git identity in its own worktree config."""
    main = make_repo(root / "repo")
    git(main, "config", "extensions.worktreeConfig", "true")
    for role in roles:
        tree = main / ".worktrees" / role
        git(main, "worktree", "add", "-q", "-b", f"agent/{role}/active", str(tree))
        git(tree, "config", "--worktree", "user.email", f"{role}@coord.invalid")
    return main


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
