"""The least privilege a machine's ACL user needs on a shared Redis: coord's keys of one project and
exactly the commands coord sends (directly, in pipelines, and from its Lua scripts).

Why a list here and not `+@all`: a shared server holds every project's coordination state, so one
machine's credentials should reach only its project's keys (`coord:{NAMESPACE}:*`, one hash tag,
so one Cluster slot) and no administrative command (CONFIG, FLUSHALL, SHUTDOWN, KEYS, DEBUG...).
tests/unit/test_acl.py derives the commands from the code and fails when this list drifts;
tests/integration/test_multi_machines.py runs the whole two-machine scenario as users with exactly
this ACL. Commands of the embedded server's own management (INFO, DBSIZE, SHUTDOWN in
coord.embedded) are not here: they only ever go to the repository's own server.
"""

from __future__ import annotations

from coord.keys import Keys

# Every command coord sends to a shared server, sorted. EVAL/EVALSHA run the scripts (Redis 7+ checks
# each command a script calls against the same ACL); WAIT: replicas_to_ack; ASKING: Cluster
# redirection; SELECT: a /db in the URL; PING, TIME: doctor, redis.status, server time.
COMMANDS: tuple[str, ...] = (
    "ASKING", "DEL", "EVAL", "EVALSHA", "EXISTS", "EXPIRE", "GET", "HDEL", "HGET", "HGETALL", "HKEYS",
    "HLEN", "HMGET", "HSET", "HSETNX", "INCR", "MGET", "PING", "PTTL", "SADD", "SELECT", "SET", "SISMEMBER",
    "SMEMBERS", "SREM", "TIME", "WAIT", "XADD", "XRANGE", "XREVRANGE",
)


def key_pattern(namespace: str | None = None) -> str:
    """The ACL key pattern: every coord key (`coord:*`), or one project's (`coord:{NAMESPACE}:*`;
    the narrower one leaves older namespaces out of reach, so their data is not carried over)."""
    return "coord:*" if namespace is None else f"{Keys(namespace).prefix}:*"


def setuser_args(user: str, password: str, namespace: str | None = None) -> list[str]:
    """`ACL SETUSER` arguments for one machine's user: on, its password, only coord's keys (or one
    project's), no pub/sub channels, no command but coord's."""
    return ["ACL", "SETUSER", user, "reset", "on", f">{password}", f"~{key_pattern(namespace)}",
            "resetchannels", "-@all", *(f"+{c.lower()}" for c in COMMANDS)]


def setuser_line(user: str, namespace: str | None = None, password: str = "PASSWORD") -> str:
    """The same as one line to paste into redis-cli or an ACL file (`user ...` without `ACL SETUSER`
    is the aclfile form)."""
    return " ".join(setuser_args(user, password, namespace))
