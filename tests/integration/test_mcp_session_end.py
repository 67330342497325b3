"""The MCP server never brings an ended session back: its start-up registration and automatic
heartbeats may come after the SessionEnd hook, and reviving would hold the role for stale_seconds."""

from __future__ import annotations

import os

import pytest

from coord.config import load_config
from coord.errors import SessionEndedError
from coord.mcp_service import RegistrationState, Service
from coord.presence import Status
from coord.repo import find_repo
from coord.store import open_store
from tests.conftest import make_repo


@pytest.fixture
def main_checkout(tmp_path, coord_env):
    return make_repo(tmp_path / "repo")


def _store(repo):
    paths = find_repo(repo)
    return open_store(paths, load_config(paths.main_root))


def _status(store, role: str) -> Status:
    return next(v.status for v in store.presence() if v.role == role)


def test_automatic_heartbeat_leaves_an_ended_session_ended(main_checkout) -> None:
    env = {"CLAUDE_CODE_SESSION_ID": "s-1", "CLAUDE_INSTANCE_ID": "pm"}
    service = Service(environ={**os.environ, **env}, cwd=main_checkout)
    service.tick()
    assert service.state is RegistrationState.REGISTERED
    with _store(main_checkout) as store:
        assert _status(store, "pm") is Status.ACTIVE
        store.deregister("pm", "s-1")  # what the SessionEnd hook does
        service.tick()
        assert service.state is RegistrationState.ENDED
        assert _status(store, "pm") is Status.INACTIVE
        service.tick()
        assert _status(store, "pm") is Status.INACTIVE
        # the session resumes: its hook registers explicitly, and the server follows it again
        store.register("pm", "s-1", str(main_checkout))
        service.tick()
        assert service.state is RegistrationState.REGISTERED
        assert _status(store, "pm") is Status.ACTIVE
    service.close()


def test_late_start_up_registration_does_not_revive(main_checkout) -> None:
    with _store(main_checkout) as store:
        store.register("pm", "s-2", str(main_checkout))
        store.deregister("pm", "s-2")
        with pytest.raises(SessionEndedError):
            store.register("pm", "s-2", str(main_checkout), revive=False)
        with pytest.raises(SessionEndedError):
            store.heartbeat("pm", "s-2", revive=False)
        assert _status(store, "pm") is Status.INACTIVE
        store.heartbeat("pm", "s-2")  # an explicit heartbeat (a tool call) still may
        assert _status(store, "pm") is Status.ACTIVE
