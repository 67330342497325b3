# ruff: noqa: F811 - the fixtures are imported from the fast suite and used by name
"""Hostile input with large hypothesis budgets (the same properties as the fast suite)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.integration.test_hardening_hostile import (  # noqa: F401 - fixtures
    cli_bases,
    cli_roles_refused,
    hook_env,
    mcp_repo,
    mcp_round_trip,
    scene,
    store,
    two_clients,
)
from tests.stress import hostile

pytestmark = pytest.mark.stress

BIG = settings.get_profile("stress")  # tests/conftest.py: large budgets whatever profile is loaded


def test_every_nasty_role_as_every_task(scene: hostile.Scene) -> None:
    tasks = ("agent.setup", "agent.merge", "agent.teardown", "agent.restore", "session.start")
    tried = cli_roles_refused(scene, hostile.nasty(scene.marker), tasks)
    print(f"\n{tried} coord processes with hostile roles refused")


def test_every_nasty_base(scene: hostile.Scene) -> None:
    cli_bases(scene, hostile.nasty(scene.marker))


@BIG
@given(data=st.data())
def test_generated_role_names(scene: hostile.Scene, data: st.DataObject) -> None:
    hostile.check_role(scene, data.draw(hostile.strings(scene.marker)))


@BIG
@given(data=st.data())
def test_generated_base_refs(scene: hostile.Scene, data: st.DataObject) -> None:
    hostile.check_base(scene, data.draw(hostile.strings(scene.marker)))


@settings(BIG, max_examples=3000)
@given(body=hostile.bodies(), kind=hostile.types())
def test_generated_bodies_and_types_through_the_store(store: Any, body: Any, kind: Any) -> None:
    hostile.check_store_message(store, body, kind, {})


@settings(BIG, max_examples=400)
@given(body=st.text(st.characters(codec="utf-8"), max_size=2000))
def test_generated_bodies_through_real_mcp_stdio(two_clients: Any, body: str) -> None:
    portal, b, p = two_clients
    mcp_round_trip(portal, b, p, body, "INFO")


@settings(BIG, max_examples=2000)
@given(event=st.sampled_from(["session-start", "user-prompt-submit", "session-end", "nope", ""]),
       data=hostile.payloads())
def test_generated_hook_stdin(hook_env: dict[str, str], event: str, data: bytes) -> None:
    hostile.check_hook(event, data, hook_env, {})




