"""Hosts: presence records the machine; a role is held by one live session team-wide; two
clones on one shared Valkey work as one team (the TLS + ACL variant is in test_shared_server)."""

from __future__ import annotations

from pathlib import Path

import pytest

from coord.config import Config
from coord.store import Store
from tests.conftest import ValkeyProcess
from tests.integration.machines import run_scenario

pytestmark = pytest.mark.integration


def test_two_clones_as_two_machines_on_one_valkey(tmp_path: Path, valkey: ValkeyProcess) -> None:
    run_scenario(tmp_path, {"COORD_REDIS_URL": valkey.url}, {"COORD_REDIS_URL": valkey.url})


def test_presence_names_the_host_and_a_held_role_names_it_too(valkey: ValkeyProcess, namespace: str) -> None:
    roles = ("pm", "backend")
    a = Store(valkey.url, namespace, Config(roles=roles, host="box-a"))
    b = Store(valkey.url, namespace, Config(roles=roles, host="box-b"))
    a.register("backend", "s-a", "/a/.worktrees/backend")
    view = next(v for v in b.presence() if v.role == "backend")
    assert (view.host, view.to_dict()["host"], view.summary()["host"]) == ("box-a", "box-a", "box-a")
    assert b.live_elsewhere("backend").host == "box-a" and a.live_elsewhere("backend") is None  # type: ignore[union-attr]
    with pytest.raises(Exception) as held:
        b.register("backend", "s-b", "/b/.worktrees/backend")
    assert "on box-a" in str(held.value) and getattr(held.value, "exit_code", None) == 6
    a.deregister("backend", "s-a")
    assert b.live_elsewhere("backend") is None  # not live: may be taken
    assert b.register("backend", "s-b", "/b/.worktrees/backend").outcome == "restart"  # it had ended cleanly
    assert next(v for v in a.presence() if v.role == "backend").host == "box-b"
    a.close()
    b.close()
