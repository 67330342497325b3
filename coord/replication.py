"""Writes that survive a failover: with `replicas_to_ack` = N > 0, every write the store makes is
followed, in the same round trip, by `WAIT N timeout`, and a write that fewer than N replicas
acknowledged in time is reported as a failure (NotDurableError, exit 5), never as done.

Why WAIT and not a Redis setting (min-replicas-to-write): the server setting refuses writes when
replicas are missing but still acknowledges a write before any replica has it; WAIT blocks this
client until N replicas hold everything it wrote so far, so an acknowledged message is on a replica
when the primary dies. Redis replication stays asynchronous: a write that failed here may still be
on the primary (a publish is then resent with its publish id, which delivers nothing twice).
"""

from __future__ import annotations

from coord.errors import NotDurableError
from coord.resp import Arg, RespError

WAIT_MS = 1000  # how long one write waits for its replicas; below the client's socket timeout (2 s)


def wait_command(replicas: int) -> list[Arg]:
    """The WAIT that follows a write in its pipeline."""
    return ["WAIT", replicas, WAIT_MS]


def check_acked(reply: object, wanted: int, where: str) -> None:
    """WAIT's reply is the number of replicas that acknowledged; fewer than wanted (or an error
    reply: WAIT refused, e.g. on a replica) means the write is not durable."""
    if isinstance(reply, RespError):
        raise NotDurableError(
            f"Redis at {where} could not confirm the write on {wanted} replica(s): {reply.message}; "
            "it is not reported as done",
            "point COORD_REDIS_URL at the primary, or lower replicas_to_ack",
        )
    got = int(reply) if isinstance(reply, int | str) else 0
    if got < wanted:
        raise NotDurableError(
            f"Redis at {where} copied the write to {got} of {wanted} replica(s) within {WAIT_MS} ms "
            "(replicas_to_ack): it is not reported as done",
            "check the replicas (INFO replication) and retry, or lower replicas_to_ack",
        )
