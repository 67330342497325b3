"""replicas_to_ack: writes WAIT for replicas; a write they did not confirm fails with one line; an
acknowledged message survives kill -9 of the primary (the fast subset of tests/stress's 1,000)."""

from __future__ import annotations

from pathlib import Path

import pytest

from coord.config import Config
from coord.errors import NotDurableError
from coord.server_process import ValkeyServer
from coord.store import Store
from tests.conftest import ValkeyProcess
from tests.integration.failover import failover_run, primary_and_replica, readable

pytestmark = pytest.mark.integration


def test_without_the_replicas_asked_for_a_write_fails_with_one_line(valkey: ValkeyProcess, namespace: str) -> None:
    store = Store(valkey.url, namespace, Config(roles=("pm", "qa"), replicas_to_ack=1))
    with pytest.raises(NotDurableError) as info:
        store.publish("pm", "qa", "INFO", "only on the primary", publish_id="once-1")
    line = info.value.line()
    assert "0 of 1 replica" in line and "not reported as done" in line and "once-1" in line and "\n" not in line
    assert info.value.exit_code == 5
    with pytest.raises(NotDurableError):
        store.register("qa", "s1", "/w")
    with pytest.raises(NotDurableError):
        store.publish("pm", "all", "SESSION_START", "lifecycle events wait too")
    store.close()
    plain = Store(valkey.url, namespace, Config(roles=("pm", "qa")))
    # the resend of the same publish id after the replicas are back delivers nothing twice
    again = plain.publish("pm", "qa", "INFO", "only on the primary", publish_id="once-1")
    assert again.duplicate and plain.check("qa").total == 1
    plain.close()


def test_with_a_replica_writes_are_confirmed_in_one_round_trip(tmp_path: Path, namespace: str) -> None:
    with primary_and_replica(tmp_path) as (primary, _replica):
        store = Store(primary.url, namespace, Config(roles=("pm", "qa"), replicas_to_ack=1))
        store.register("qa", "s1", "/w")
        store.publish("pm", "qa", "INFO", "warm-up: the server learns the scripts")
        store.heartbeat("qa", "s1")
        before = store.round_trips
        store.publish("pm", "qa", "INFO", "durable")
        store.heartbeat("qa", "s1")
        assert store.round_trips - before == 2  # WAIT rides in the write's pipeline
        assert [m.body for m in store.check("qa").messages][-1] == "durable"
        store.close()


def test_acknowledged_messages_survive_kill_9_of_the_primary(tmp_path: Path, namespace: str) -> None:
    with primary_and_replica(tmp_path) as (primary, replica):
        out = failover_run(primary, replica, namespace, 200, tmp_path / "spare")
        missing, twice = readable(replica, namespace, out)
    assert len(out.acked) == 200 and out.promoted_after < 200
    assert missing == [] and twice == 0, (missing[:5], twice)


def test_a_replica_is_no_primary_for_writes(tmp_path: Path, namespace: str) -> None:
    with primary_and_replica(tmp_path) as (_primary, replica):
        store = Store(replica.url, namespace, Config(roles=("pm", "qa"), replicas_to_ack=1))
        with pytest.raises(Exception) as info:
            store.publish("pm", "qa", "INFO", "to a replica")
        assert "READONLY" in str(info.value) or "replica" in str(info.value)
        store.close()
        assert isinstance(replica, ValkeyServer)


def test_the_command_line_says_it_in_one_line_with_exit_5(tmp_path: Path, valkey: ValkeyProcess) -> None:
    from tests.stress.support import agents_repo, clean_env, one_line_refusal, run_coord

    repo = agents_repo(tmp_path / "project", ("pm", "qa"))
    env = clean_env(COORD_REDIS_URL=valkey.url, COORD_REPLICAS_TO_ACK="1")
    sent = run_coord(repo, "msg.send", "qa", "INFO", "needs a replica", env=env)
    assert sent.returncode == 5, sent.stderr
    line = one_line_refusal(sent)
    assert "0 of 1 replica(s)" in line and "publish id" in line and "not reported as done" in line
    bad = run_coord(repo, "msg.send", "qa", "INFO", "x", env={**env, "COORD_REPLICAS_TO_ACK": "-1"})
    assert bad.returncode == 8 and "replicas_to_ack" in one_line_refusal(bad)
