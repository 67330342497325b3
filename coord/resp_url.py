"""Redis URLs as coord's RESP client (coord.resp) takes them: redis://, rediss:// (with redis-py's
ssl_* query settings) and unix://, parsed into an Endpoint; and any URL printed without its password.
Split from coord.resp, which connects to an Endpoint; stdlib only, like it.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from coord.errors import InvalidInputError

DEFAULT_PORT = 6379


@dataclass(frozen=True)
class Endpoint:
    """Where and how to connect, parsed from a URL."""

    scheme: str  # redis, rediss or unix
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    path: str = ""  # unix socket path
    db: int = 0
    username: str | None = None
    password: str | None = None
    ca_certs: str | None = None  # rediss: CA bundle to trust (?ssl_ca_certs=/path, as in redis-py)
    verify: bool = True  # rediss: ?ssl_cert_reqs=none turns certificate checks off
    certfile: str | None = None  # rediss: this machine's client certificate (?ssl_certfile=, as in redis-py)
    keyfile: str | None = None  # rediss: its private key (?ssl_keyfile=; default: in certfile)

    @property
    def tls(self) -> bool:
        return self.scheme == "rediss"

    def display(self) -> str:
        """The URL without its password, for messages and logs."""
        user = f"{self.username}@" if self.username else ""
        if self.scheme == "unix":
            return f"unix://{user}{self.path}" + (f"?db={self.db}" if self.db else "")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{user}{host}:{self.port}/{self.db}"

    def with_address(self, host: str, port: int) -> Endpoint:
        """The same credentials at another node (Cluster redirection)."""
        scheme = self.scheme if self.scheme != "unix" else "redis"
        return Endpoint(scheme, host, port, "", 0, self.username, self.password, self.ca_certs, self.verify,
                        self.certfile, self.keyfile)


def parse_url(url: str) -> Endpoint:
    """redis://[user:pass@]host[:port][/db], rediss://..., unix://[user:pass@]/path[?db=N]."""
    try:
        parts = urlsplit(url.strip())
        scheme = parts.scheme.lower()
        username = unquote(parts.username) if parts.username else None
        password = unquote(parts.password) if parts.password is not None else None
        query = dict(p.split("=", 1) for p in parts.query.split("&") if "=" in p)
        if scheme == "unix":
            if not parts.path:
                raise ValueError("no socket path")
            db = int(query.get("db", "0"))
            return Endpoint("unix", path=unquote(parts.path), db=db, username=username, password=password)
        if scheme not in ("redis", "rediss"):
            raise ValueError(f"unsupported scheme {scheme!r}")
        host = parts.hostname or "127.0.0.1"
        port = parts.port or DEFAULT_PORT
        path = parts.path.strip("/")
        db = int(path) if path else int(query.get("db", "0"))
        ca_certs = unquote(query["ssl_ca_certs"]) if query.get("ssl_ca_certs") else None
        certfile, keyfile = (_path(query.get(k)) for k in ("ssl_certfile", "ssl_keyfile"))
        ca_certs = _path(ca_certs)
        reqs = query.get("ssl_cert_reqs", "required").lower()
        if reqs not in ("required", "none"):
            raise ValueError("ssl_cert_reqs must be required or none")
    except ValueError as exc:
        shown = _redact(url)
        raise InvalidInputError(
            f"cannot use Redis URL {shown}: {exc}",
            "use redis://[user:password@]host:port/db, rediss://... or unix:///path/to.sock",
        ) from None
    return Endpoint(scheme, host, port, "", db, username, password, ca_certs, reqs == "required", certfile, keyfile)


def _path(value: str | None) -> str | None:
    """A file named in a URL query: %-decoded, ~ expanded (one coord.toml URL fits every machine)."""
    if not value:
        return None
    import os.path

    return os.path.expanduser(unquote(value))


def _redact(url: str) -> str:
    """A URL with any password replaced, safe to print."""
    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
        return parts._replace(netloc=netloc).geturl()
    except ValueError:
        return "<unparsable URL>"


def redact(url: str) -> str:
    """Public form of _redact: the URL without its password."""
    return _redact(url)
