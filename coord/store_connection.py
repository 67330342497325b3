"""The store's plumbing: one lazy connection to Redis, asked again after the server could not be
reached, carrying older namespaces' data over on first use, running scripts and pipelines (with
WAIT when replicas must acknowledge) and reading the server's time. coord.store's Store builds the
presence and message calls on it. Stdlib only at import time."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TypeVar

from coord.config import Config
from coord.errors import NotDurableError, StoreUnavailableError
from coord.keys import Keys, clean_namespace
from coord.lua import Script
from coord.resp import DEFAULT_TIMEOUT, Arg, Connection, RespError
from coord.store_checks import this_host
from coord.store_results import seconds_of

T = TypeVar("T")

CONFIGURED_FIX = "check that the server runs and that COORD_REDIS_URL / redis_url is right"


class StoreConnection:
    """The connection, retries and time under coord.store's Store (see its docstring for `url`
    and `clock`)."""

    def __init__(
        self,
        url: str | Callable[[], str],
        namespace: str,
        config: Config,
        clock: Callable[[], float] | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        carry_from: Sequence[str] = (),
        on_carried: Callable[[str], None] | None = None,
    ) -> None:
        self._url = url
        self.namespace = clean_namespace(namespace)
        self.keys = Keys(self.namespace)
        self.config = config
        self.clock = clock
        self.host = config.host or this_host()
        self.timeout = timeout
        self._conn: Connection | None = None
        self._spent = 0  # round trips of connections already dropped
        self._carry_from = tuple(clean_namespace(n) for n in carry_from if clean_namespace(n) != self.namespace)
        self._on_carried = on_carried

    # -- plumbing -----------------------------------------------------------------------
    @property
    def connection(self) -> Connection:
        if self._conn is None:
            url = self._url() if callable(self._url) else self._url
            self._conn = Connection(url, self.timeout)
        return self._conn

    @property
    def url(self) -> str:
        """The server URL without password."""
        return self.connection.endpoint.display()

    @property
    def round_trips(self) -> int:
        """Round trips to Redis made by this store so far (tests check they stay constant)."""
        return self._spent + (self._conn.round_trips if self._conn is not None else 0)

    def close(self) -> None:
        if self._conn is not None:
            self._spent += self._conn.round_trips
            self._conn.close()
            self._conn = None

    def _failed(self) -> None:
        """After an unreachable server: forget the connection so the URL is looked up again."""
        if callable(self._url):
            self.close()

    def _server_error(self, exc: RespError) -> StoreUnavailableError:
        if exc.kind == "NOPERM" or "no permissions" in exc.message:
            fix = "give this machine's ACL user coord's line (coord.acl; README: A team on several machines)"
        else:
            fix = "check the server (coord redis.status) and that it is Redis >= 7 or Valkey with Lua enabled"
        return StoreUnavailableError(f"Redis at {self.url} answered with an error: {exc.message}", fix)

    def _retrying(self, call: Callable[[Connection], T]) -> T:
        """Run call on the connection. With a URL callable (the embedded server), an unreachable
        server is looked up again, and so restarted when allowed, and the call made once more."""
        try:
            if self._carry_from:
                self._carry(self.connection)
            return call(self.connection)
        except NotDurableError:
            raise  # the server answered: asking again would only write again
        except StoreUnavailableError as exc:
            if not callable(self._url):
                # a configured server: `coord redis.up` cannot help, so the fix names the setting
                raise StoreUnavailableError(exc.message, CONFIGURED_FIX) from None
            self._failed()
        return call(self.connection)

    def _carry(self, conn: Connection) -> None:
        """First use after an upgrade or a first commit: bring older namespaces' data here before
        anything reads this one (coord.carry_over). An error reply (an ACL that does not cover the
        old keys) leaves the old data where it is and is not retried by this process."""
        from coord.carry_over import carry_over

        while self._carry_from:
            old = self._carry_from[0]
            try:
                carry_over(conn, old, self.namespace, self.config.roles)
            except RespError as exc:
                if exc.kind != "NOPERM":
                    self._carry_from = ()
                    return
            self._carry_from = self._carry_from[1:]
            if self._on_carried is not None:
                self._on_carried(old)

    def _run(self, script: Script, conn: Connection, keys: Sequence[str], args: Sequence[Arg]) -> object:
        """The script, then (replicas_to_ack > 0) WAIT in the same round trip (coord.replication)."""
        wanted = self.config.replicas_to_ack
        if not wanted:
            return script.run(conn, keys, args)
        from coord.replication import check_acked, wait_command

        reply, acked = script.run_then(conn, keys, args, wait_command(wanted))
        check_acked(acked, wanted, conn.endpoint.display())
        return reply

    def _script(self, script: Script, keys: Sequence[str], args: Sequence[Arg]) -> object:
        try:
            return self._retrying(lambda conn: self._run(script, conn, keys, args))
        except StoreUnavailableError:
            self._failed()
            raise
        except RespError as exc:
            raise self._server_error(exc) from None

    def _pipeline(self, commands: Sequence[Sequence[Arg]]) -> list[object]:
        try:
            replies: list[object] = self._retrying(lambda conn: conn.pipeline(commands))
        except StoreUnavailableError:
            self._failed()
            raise
        for reply in replies:
            if isinstance(reply, RespError):
                raise self._server_error(reply)
        return replies

    def run_script(self, script: Script, keys: Sequence[str], args: Sequence[Arg]) -> object:
        """Run a Lua script in one round trip, for modules that add their own (claims, radar).
        Unreachable server -> StoreUnavailableError; an error reply -> StoreUnavailableError naming it."""
        return self._script(script, keys, args)

    def pipeline(self, commands: Sequence[Sequence[Arg]]) -> list[object]:
        """Several commands in one round trip; an error reply raises StoreUnavailableError."""
        return self._pipeline(commands)

    # -- replication ----------------------------------------------------------------------
    def wait_commands(self) -> list[list[Arg]]:
        """Append to a pipeline that writes: [WAIT n ms] when replicas_to_ack > 0, else nothing."""
        if not self.config.replicas_to_ack:
            return []
        from coord.replication import wait_command

        return [wait_command(self.config.replicas_to_ack)]

    def check_waited(self, replies: Sequence[object]) -> None:
        """After a pipeline built with wait_commands(): NotDurableError unless enough replicas acked."""
        if self.config.replicas_to_ack:
            from coord.replication import check_acked

            check_acked(replies[-1], self.config.replicas_to_ack, self.url)

    # -- time -----------------------------------------------------------------------------
    def time_commands(self) -> list[list[Arg]]:
        """Append to a pipeline whose reads decide on time: [TIME] unless a clock is injected."""
        return [["TIME"]] if self.clock is None else []

    def now_of(self, replies: Sequence[object]) -> float:
        """The time of a pipeline built with time_commands() (its last reply), in Unix seconds."""
        if self.clock is not None:
            return float(self.clock())
        return seconds_of(replies[-1])

    def now_arg(self) -> str:
        """The `now` argument of a script: '' lets the script read the server's TIME itself."""
        return "" if self.clock is None else repr(float(self.clock()))

    def server_time(self) -> float:
        """The server's clock, Unix seconds (doctor compares it with this machine's)."""
        return seconds_of(self._pipeline([["TIME"]])[0])

    def ping(self) -> float:
        """Round-trip time in seconds (doctor, redis.status)."""
        start = time.perf_counter()
        self._pipeline([["PING"]])
        return time.perf_counter() - start
