"""Failover at the scale of issue 17: kill -9 of the primary during 1,000 publishes with
replicas_to_ack=1; after the replica takes over, every acknowledged message is readable."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.failover import failover_run, primary_and_replica, readable

pytestmark = pytest.mark.stress


def test_thousand_publishes_through_a_primary_kill(tmp_path: Path) -> None:
    with primary_and_replica(tmp_path) as (primary, replica):
        out = failover_run(primary, replica, "failover-stress", 1000, tmp_path / "spare")
        missing, twice = readable(replica, "failover-stress", out)
    print(f"\n1,000 publishes, replicas_to_ack=1, kill -9 of the primary after {out.promoted_after}: "
          f"{len(out.acked)} acknowledged, {len(missing)} lost, {twice} duplicate(s), {out.not_durable} refused by "
          f"WAIT, {out.unreachable} refused while no primary answered, {out.seconds:.1f}s")
    assert len(out.acked) == 1000 and missing == [] and twice == 0
