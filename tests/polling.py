"""Waiting in tests: poll a condition until a deadline, never sleep a fixed time.

A fixed sleep is either too short on a loaded machine (a flaky failure) or too long everywhere
(a slow suite); a deadline only bounds how long a test waits for something that never happens,
and the failure says what that was. Functional tests assert outcomes, not durations: speed goals
live in `nox -s bench` as ratios to a baseline measured in the same run.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")

DEADLINE = 60.0  # seconds: generous on a loaded 2-core machine; only a failing test waits this long
INTERVAL = 0.02


def wait_for(check: Callable[[], T], what: str, timeout: float = DEADLINE, interval: float = INTERVAL) -> T:
    """Call check until it returns something truthy and return that; AssertionError naming what
    never happened once timeout seconds have passed."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"waited {timeout:g} s for {what}; last check returned {value!r}")
        time.sleep(interval)


async def wait_for_async(check: Callable[[], Awaitable[T]], what: str, timeout: float = DEADLINE,
                         interval: float = INTERVAL) -> T:
    """wait_for inside an event loop (anyio), for checks that are coroutines."""
    import anyio

    deadline = time.monotonic() + timeout
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"waited {timeout:g} s for {what}; last check returned {value!r}")
        await anyio.sleep(interval)
