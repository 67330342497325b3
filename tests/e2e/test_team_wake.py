"""The idle waker with the REAL interactive Claude Code CLI, started by `coord team.up` in tmux.

backend sits at its prompt and nobody touches its terminal; pm's TASK_ASSIGNMENT arrives; after
wake_after_seconds its own `coord mcp` server types one line into its pane, the CLI submits it,
and the request its model then gets carries the line and (from the prompt hook) the mail itself.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import ValkeyProcess
from tests.e2e.model import Text
from tests.e2e.team import Team

pytestmark = pytest.mark.e2e

WAKE_AFTER = "3"


def test_an_idle_agent_is_woken_for_its_mail_with_nobody_at_its_terminal(
        tmp_path: Path, claude_bin: str, valkey: ValkeyProcess, namespace: str) -> None:
    scripts = {"backend": [Text("on it: adding /health")]}
    with Team(tmp_path, claude_bin, valkey, namespace, scripts, roles=("pm", "backend")) as team:
        original = team.env

        def env(**extra: str) -> dict[str, str]:  # every window gets the short wake-up delay
            return original(COORD_WAKE_AFTER_SECONDS=WAKE_AFTER, **extra)

        team.env = env  # type: ignore[method-assign]
        team.up("backend")
        team.wait_ready("backend")
        assert team.requests("backend") == []  # nobody has typed anything
        from coord.config import load_config
        from coord.repo import find_repo
        from coord.store import open_store

        paths = find_repo(team.repo)
        config = load_config(paths.main_root, {"COORD_REDIS_URL": team.url, "COORD_NAMESPACE": team.namespace})
        with open_store(paths, config) as store:
            store.publish("pm", "backend", "TASK_ASSIGNMENT", "add a /health endpoint (token c0ffee)")
        _, request = team.wait_request(
            "backend", lambda r: "coord: 1 new TASK_ASSIGNMENT from pm" in team.last_user_text("backend", r),
            "the wake-up line")
        seen = team.text_of("backend", request)
        assert "add a /health endpoint (token c0ffee)" in seen  # the prompt hook showed the mail itself
        team.wait(lambda: json.loads(team.r.hget(team.keys.presence, "backend") or "{}").get("activity") == "idle",
                  "backend's turn to end", 120, "backend")
        assert team.r.get(team.keys.woken("backend")) is not None
        # never twice for the same mail: the line was typed once (the model got exactly one such prompt)
        woken = [r for r in team.requests("backend")
                 if "coord: 1 new TASK_ASSIGNMENT from pm" in team.last_user_text("backend", r)]
        assert len(woken) == 1
