"""`coord-hook`, with redis-py in place of coord's hand-written RESP client (coord/resp.py).

Row 1c runs this beside the real hook: the same hook code, the same store calls and round trips
(each of coord's pipelines becomes one redis-py pipeline), only the client differs. What it costs
more than row 1 (its import above all) is what the hand-written client saves on every prompt.
Usage: python benchmarks/hook_redispy.py EVENT (stdin as for coord-hook).
"""

from __future__ import annotations

from collections.abc import Sequence

import redis  # part of what is measured: the hook would import it on every prompt
from redis.exceptions import NoScriptError, ResponseError

import coord.store_connection
from coord.resp import DEFAULT_TIMEOUT, RespError
from coord.resp_url import parse_url


class RedisPyConnection:
    """coord.resp.Connection's interface (pipeline, execute, close, endpoint, round_trips) over redis-py."""

    def __init__(self, url: str, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.url = url
        self.endpoint = parse_url(url)
        self.timeout = timeout
        self.round_trips = 0
        self._client = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout,
                                            decode_responses=True, encoding_errors="surrogateescape")
        # coord parses raw replies itself (HGETALL as a flat list, ...): no redis-py reshaping.
        self._client.response_callbacks.clear()

    def pipeline(self, commands: Sequence[Sequence[object]]) -> list[object]:
        from coord.errors import StoreUnavailableError

        pipe = self._client.pipeline(transaction=False)
        for command in commands:
            pipe.execute_command(*command)
        try:
            replies = pipe.execute(raise_on_error=False)
        except redis.ConnectionError as exc:
            raise StoreUnavailableError(f"cannot reach Redis at {self.endpoint.display()}: {exc}") from None
        self.round_trips += 1
        return [_error(r) if isinstance(r, ResponseError) else r for r in replies]

    def execute(self, *args: object) -> object:
        reply = self.pipeline([args])[0]
        if isinstance(reply, RespError):
            raise reply
        return reply

    def close(self) -> None:
        self._client.close()


def _error(exc: ResponseError) -> RespError:
    """redis-py strips the error kind that coord's scripts look for (NOSCRIPT: load and retry)."""
    kind = "NOSCRIPT" if isinstance(exc, NoScriptError) else ""
    text = str(exc)
    return RespError(f"{kind} {text}" if kind and not text.startswith(kind) else text)


coord.store_connection.Connection = RedisPyConnection  # type: ignore[misc, assignment]

if __name__ == "__main__":
    from coord.hooks import main

    main()
