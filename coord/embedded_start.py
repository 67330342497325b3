"""Starting the repository's own Redis (coord.embedded): a free port, the config file, the
daemon holding the data lock, and waiting until it answers. `server_url` is the store's way in: it
returns the running server's URL from the state file (hot path: files only) and starts the server
only when it must. Split from coord.embedded, which keeps the state, the ownership proofs, stop
and status."""

from __future__ import annotations

import contextlib
import os
import socket
import time
from pathlib import Path

from coord.embedded import (
    CONF_FILE,
    DATA_DIR,
    DATA_LOCK_FILE,
    FIX_UP,
    LOCK_FILE,
    LOCK_TIMEOUT,
    LOG_FILE,
    PID_FILE,
    START_TIMEOUT,
    ServerState,
    _adopt_locked_server,
    _file_id,
    _server_info,
    _take_data_lock,
    _write_state,
    owned_state,
    pid_alive,
    read_state,
    running_state,
    valkey_binary,
)
from coord.errors import CoordError, StoreUnavailableError
from coord.filelock import exclusive
from coord.repo import RepoPaths


def server_url(paths: RepoPaths, start: bool = True, verified: bool = False) -> str:
    """The URL of the repository's server; starts it when needed and allowed. verified: ask the
    server to prove it is ours (after a failed connection) instead of trusting the state file."""
    state = owned_state(paths) if verified else running_state(paths)
    if state is not None:
        return state.url
    if not start:
        if verified:
            adopted = _adopt_locked_server(paths)
            if adopted is not None:
                return adopted.url
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
    """Start the repository's server unless it runs; concurrent callers get the same server, and
    a server already holding the data directory is adopted, never doubled."""
    state_dir = paths.state_dir
    state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    def waited_too_long() -> StoreUnavailableError:
        return StoreUnavailableError(
            f"another process has been starting the embedded Redis for over {LOCK_TIMEOUT:.0f}s",
            f"check {state_dir / LOG_FILE}, then retry",
        )

    with exclusive(state_dir / LOCK_FILE, LOCK_TIMEOUT, waited_too_long):
        state = owned_state(paths)
        if state is not None:
            return state
        data_lock = _take_data_lock(state_dir)
        if data_lock is None:
            adopted = _adopt_locked_server(paths)
            if adopted is not None:
                return adopted
            raise StoreUnavailableError(
                f"another process holds the embedded Redis data directory {state_dir / DATA_DIR} "
                f"(lock {state_dir / DATA_LOCK_FILE}) and does not answer as coord's server",
                f"find it with `fuser {state_dir / DATA_LOCK_FILE}`, stop it, then retry",
            )
        try:
            previous = read_state(paths)
            last_error = ""
            for attempt in range(3):
                port = _free_port(previous.port if previous and attempt == 0 else None)
                try:
                    return _start(paths, port, data_lock)
                except _PortTaken as exc:
                    last_error = str(exc)
        finally:
            os.close(data_lock)
        raise StoreUnavailableError(
            f"the embedded Redis did not start: {last_error}", f"see {state_dir / LOG_FILE}"
        )



class _PortTaken(Exception):
    pass


def _start(paths: RepoPaths, port: int, data_lock: int) -> ServerState:
    """Start valkey-server with the data lock's descriptor: the daemon keeps it open (and so the
    lock held) until it exits, whatever happens to coord or the state file."""
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
        start_new_session=True, pass_fds=(data_lock,),
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
        if pid and not pid_alive(pid, port):
            raise _PortTaken(_log_tail(state_dir))
        time.sleep(0.02)
    else:
        if pid and pid_alive(pid):
            os.kill(pid, 9)
        raise StoreUnavailableError(
            f"the embedded Redis did not answer within {START_TIMEOUT:.0f}s", f"see {state_dir / LOG_FILE}"
        )
    info = _server_info(url) or {}
    state = ServerState(url=url, port=port, pid=pid, data_dir=str(data_dir), started_at=time.time(),
                        run_id=info.get("run_id", ""), data_id=_file_id(data_dir / "appendonlydir"))
    _write_state(paths, state)
    return state


def _answers(url: str) -> bool:
    """The server accepts our password and answers PING; a loading AOF answers -LOADING."""
    from coord.resp import Connection, RespError

    try:
        with Connection(url, timeout=1.0) as conn:
            reply = conn.pipeline([["PING"]])[0]
    except CoordError:
        return False
    return not isinstance(reply, RespError)


def _log_tail(state_dir: Path, lines: int = 3) -> str:
    try:
        text = (state_dir / LOG_FILE).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "no log"
    return " | ".join(text.strip().splitlines()[-lines:])
