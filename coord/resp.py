"""A small blocking RESP2 client over a socket, stdlib only.

Why not redis-py: the per-prompt hook talks to the store on every turn and cannot afford
redis-py's ~140 ms import; this module costs about a millisecond. It does only what coord
needs: one command, or a pipeline in one round trip, over redis://, rediss://, unix://, with
AUTH and SELECT, and one hop of Cluster redirection (all coord keys share one hash tag, so
one node serves all of them). Parsing and redacting URLs is coord.resp_url's.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterable, Sequence

from coord.errors import StoreUnavailableError
from coord.resp_url import Endpoint, parse_url

DEFAULT_TIMEOUT = 2.0
FIX = "start it with `coord redis.up`, or check COORD_REDIS_URL"

Arg = str | bytes | int | float


class RespError(Exception):
    """An error reply from the server (`-ERR ...`). `kind` is its first word (ERR, NOSCRIPT, MOVED...)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
        self.kind = message.split(" ", 1)[0] if message else ""


def encode_command(args: Sequence[Arg]) -> bytes:
    """One command as a RESP array of bulk strings."""
    out = [b"*%d\r\n" % len(args)]
    for arg in args:
        if isinstance(arg, bytes):
            data = arg
        elif isinstance(arg, str):
            data = arg.encode("utf-8")
        elif isinstance(arg, bool):
            raise TypeError("booleans are ambiguous in Redis commands")
        elif isinstance(arg, int):
            data = str(arg).encode("ascii")
        elif isinstance(arg, float):
            data = repr(arg).encode("ascii")
        else:
            raise TypeError(f"cannot send {type(arg).__name__} to Redis")
        out.append(b"$%d\r\n" % len(data))
        out.append(data)
        out.append(b"\r\n")
    return b"".join(out)


class ProtocolError(Exception):
    """The bytes from the server are not RESP: the connection cannot be trusted any more."""


class Reader:
    """Parses RESP2 replies from a byte buffer fed by the socket. Bulk strings become str
    (UTF-8, undecodable bytes kept with surrogateescape); error replies become RespError
    objects (returned, not raised, so a pipeline keeps its positions)."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._pos = 0

    def feed(self, data: bytes) -> None:
        if self._pos:
            del self._buf[: self._pos]
            self._pos = 0
        self._buf += data

    def _line(self) -> bytes | None:
        end = self._buf.find(b"\r\n", self._pos)
        if end < 0:
            return None
        line = bytes(self._buf[self._pos : end])
        self._pos = end + 2
        return line

    def get(self) -> tuple[bool, object]:
        """(True, reply) when a whole reply is buffered, else (False, None) and nothing consumed."""
        start = self._pos
        try:
            reply = self._parse()
        except _Incomplete:
            self._pos = start
            return False, None
        return True, reply

    def _parse(self) -> object:
        line = self._line()
        if line is None:
            raise _Incomplete
        if not line:
            raise ProtocolError("empty reply line")
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode("utf-8", "surrogateescape")
        if kind == b"-":
            return RespError(rest.decode("utf-8", "replace"))
        if kind == b":":
            return int(rest)
        if kind == b"$":
            size = int(rest)
            if size < 0:
                return None
            if len(self._buf) - self._pos < size + 2:
                raise _Incomplete
            data = bytes(self._buf[self._pos : self._pos + size])
            self._pos += size + 2
            return data.decode("utf-8", "surrogateescape")
        if kind == b"*":
            count = int(rest)
            if count < 0:
                return None
            return self._array(count)
        raise ProtocolError(f"unexpected reply type {kind!r}")


    def _array(self, count: int) -> list[object]:
        """Arrays of bulk strings (HGETALL, MGET, XRANGE fields) are most of what coord reads: they
        are parsed inline; anything else element by element through _parse."""
        buf = self._buf
        out: list[object] = []
        for _ in range(count):
            pos = self._pos
            if buf[pos : pos + 1] != b"$":
                out.append(self._parse())
                continue
            end = buf.find(b"\r\n", pos)
            if end < 0:
                raise _Incomplete
            size = int(buf[pos + 1 : end])
            if size < 0:
                out.append(None)
                self._pos = end + 2
                continue
            start = end + 2
            if len(buf) - start < size + 2:
                raise _Incomplete
            out.append(buf[start : start + size].decode("utf-8", "surrogateescape"))
            self._pos = start + size + 2
        return out


class _Incomplete(Exception):
    pass


class Connection:
    """One lazily opened connection. A failed socket is dropped and reopened on the next call,
    so a long-lived process (the MCP server) recovers by itself when Redis comes back."""

    def __init__(self, url: str, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.url = url
        self.endpoint = parse_url(url)
        self.timeout = timeout
        self._sock: socket.socket | None = None
        self._reader = Reader()
        self._node: Endpoint | None = None  # where Cluster redirection sent us, if anywhere
        self.round_trips = 0  # every write-then-read exchange with a server, for tests and benchmarks

    # -- socket -------------------------------------------------------------------------
    def _unavailable(self, why: str) -> StoreUnavailableError:
        return StoreUnavailableError(f"cannot reach Redis at {self.endpoint.display()}: {why}", FIX)

    def _open(self, endpoint: Endpoint) -> socket.socket:
        try:
            if endpoint.scheme == "unix":
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                sock.settimeout(self.timeout)
                sock.connect(endpoint.path)
            else:
                # An ASCII host as bytes: getaddrinfo would otherwise import the idna codec (about
                # 1.5 ms of every hook's start-up) just to encode "127.0.0.1".
                host: str | bytes = endpoint.host.encode("ascii") if endpoint.host.isascii() else endpoint.host
                # typeshed types the host as str only; getaddrinfo (which gets it) takes bytes too
                sock = socket.create_connection((host, endpoint.port), timeout=self.timeout)  # type: ignore[arg-type]
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                if endpoint.tls:
                    import ssl

                    context = ssl.create_default_context(cafile=endpoint.ca_certs)
                    if not endpoint.verify:
                        context.check_hostname = False
                        context.verify_mode = ssl.CERT_NONE
                    if endpoint.certfile:
                        context.load_cert_chain(endpoint.certfile, endpoint.keyfile)
                    sock = context.wrap_socket(sock, server_hostname=endpoint.host)
        except (OSError, ValueError) as exc:
            raise self._unavailable(_reason(exc)) from None
        self._sock = sock
        self._reader = Reader()
        hello: list[list[Arg]] = []
        if endpoint.password is not None:
            if endpoint.username:
                hello.append(["AUTH", endpoint.username, endpoint.password])
            else:
                hello.append(["AUTH", endpoint.password])
        if endpoint.db:
            hello.append(["SELECT", endpoint.db])
        if hello:
            try:
                answers = self._exchange(hello)
            except _Dropped as dropped:  # the server died between accept and AUTH (e.g. kill -9, restart)
                raise self._unavailable(_reason(dropped.cause)) from None
            for reply in answers:
                if isinstance(reply, RespError):
                    self.close()
                    if reply.kind in ("WRONGPASS", "NOAUTH") or "password" in reply.message.lower():
                        raise StoreUnavailableError(
                            f"Redis at {self.endpoint.display()} refused the credentials: {reply.message}",
                            "check the user and password in COORD_REDIS_URL",
                        )
                    raise self._unavailable(reply.message)
        return sock

    def close(self) -> None:
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.close()
        self._sock = None

    def _exchange(self, commands: Sequence[Sequence[Arg]]) -> list[object]:
        """Write every command, read one reply each. Socket trouble drops the connection."""
        sock = self._sock
        assert sock is not None
        payload = b"".join(encode_command(c) for c in commands)
        self.round_trips += 1
        try:
            sock.sendall(payload)
            replies: list[object] = []
            while len(replies) < len(commands):
                done, reply = self._reader.get()
                if done:
                    replies.append(reply)
                    continue
                chunk = sock.recv(65536)
                if not chunk:
                    raise ConnectionResetError("connection closed by the server")
                self._reader.feed(chunk)
            return replies
        except (OSError, ProtocolError, ValueError) as exc:
            self.close()
            raise _Dropped(exc) from None

    # -- public -------------------------------------------------------------------------
    def pipeline(self, commands: Sequence[Sequence[Arg]]) -> list[object]:
        """Send every command in one round trip; error replies come back as RespError objects
        in their places. Follows one MOVED/ASK redirection (then the whole batch is replayed
        on the node that owns the slot: coord's keys all live in one slot)."""
        commands = [list(c) for c in commands]
        if not commands:
            return []
        replies = self._send(commands)
        redirect = next(
            (r for r in replies if isinstance(r, RespError) and r.kind in ("MOVED", "ASK")), None
        )
        if redirect is None:
            return replies
        target = _parse_redirect(redirect.message)
        if target is None:
            return replies
        node = self.endpoint.with_address(*target)
        self.close()
        if redirect.kind == "MOVED":
            self._node = node  # the slot lives there now: stay
            return self._send(commands)
        # ASK: one-off, the slot is migrating; ASKING must precede each command on the target.
        saved = self._node
        self._node = node
        try:
            batch: list[Sequence[Arg]] = []
            for c in commands:
                batch += [["ASKING"], c]
            answers = self._send(batch)
        finally:
            self.close()
            self._node = saved
        return answers[1::2]

    def execute(self, *args: Arg) -> object:
        """One command; an error reply is raised as RespError."""
        reply = self.pipeline([args])[0]
        if isinstance(reply, RespError):
            raise reply
        return reply

    def _send(self, commands: Sequence[Sequence[Arg]]) -> list[object]:
        """Exchange on the open connection, opening it if needed. A reused connection that the
        server closed meanwhile (restart, idle timeout) is reopened and the batch sent once more;
        a fresh connection failing is reported as StoreUnavailableError."""
        for attempt in (1, 2):
            reused = self._sock is not None
            if not reused:
                self._open(self._node or self.endpoint)
            try:
                return self._exchange(commands)
            except _Dropped as dropped:
                exc = dropped.cause
                if reused and attempt == 1 and not isinstance(exc, TimeoutError | socket.timeout):
                    continue
                raise self._unavailable(_reason(exc)) from None
        raise AssertionError("unreachable")

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Dropped(Exception):
    def __init__(self, cause: BaseException) -> None:
        super().__init__(str(cause))
        self.cause = cause


def _reason(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError | socket.timeout):
        return "timed out"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, FileNotFoundError):
        return "no such socket"
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return text.lower() if isinstance(text, str) else str(text)


def _parse_redirect(message: str) -> tuple[str, int] | None:
    """`MOVED 3999 127.0.0.1:6381` -> ('127.0.0.1', 6381)."""
    parts = message.split()
    if len(parts) < 3:
        return None
    host, sep, port = parts[2].rpartition(":")
    if not sep or not port.isdigit():
        return None
    return host.strip("[]") or "127.0.0.1", int(port)


def connect(url: str, timeout: float = DEFAULT_TIMEOUT) -> Connection:
    """A connection to url, opened now so that an unreachable server is reported here."""
    conn = Connection(url, timeout)
    conn._open(conn.endpoint)
    return conn


def pairs(flat: Iterable[object]) -> dict[str, object]:
    """[k1, v1, k2, v2] (HGETALL, stream fields) -> {k1: v1, k2: v2}."""
    items = list(flat)
    return {str(items[i]): items[i + 1] for i in range(0, len(items) - 1, 2)}


def items(reply: object) -> list[object]:
    """An array reply as a list; None (a nil array) as []. Anything else is a protocol error: the
    caller asked for an array, so a scalar means the server and coord disagree."""
    if reply is None:
        return []
    if isinstance(reply, list):
        return reply
    raise ProtocolError(f"expected an array reply, got {type(reply).__name__}")


def number(value: object) -> float:
    """A reply value (a bulk string, an integer) as a float; TypeError for an array or nil, which
    no numeric field can hold, ValueError for text that is not a number."""
    if isinstance(value, str | bytes | int | float):
        return float(value)
    raise TypeError(f"expected a number, got {type(value).__name__}")
