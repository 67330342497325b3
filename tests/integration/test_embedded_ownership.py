"""coord signals and reuses only the server it started (issue 12, class 4).

Each case builds a state file that lies (a recycled pid that is another server-like program, a
corrupted file, a deleted file, a file from an earlier start) or pulls the data directory from under
a running server, and checks: no foreign process is signalled, no second server runs on one data
directory, and the loss of the data directory is reported, never called "data kept".
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from coord import embedded, embedded_start
from coord.config import Config
from coord.repo import RepoPaths, find_repo
from coord.store import open_store
from tests.conftest import make_repo

pytestmark = pytest.mark.integration

COORD = str(Path(sys.executable).with_name("coord"))


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COORD_") and k != "CLAUDE_INSTANCE_ID"}
    return env


def _coord(repo: RepoPaths, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([COORD, *args], cwd=repo.main_root, env=_env(), capture_output=True, text=True,
                          timeout=60)


def _servers_in(data_dir: Path) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cwd = os.readlink(entry / "cwd")
            if cwd.removesuffix(" (deleted)") == str(data_dir) and b"valkey" in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
        except OSError:
            continue
    return found


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[RepoPaths]:
    monkeypatch.delenv("COORD_REDIS_URL", raising=False)
    monkeypatch.delenv("COORD_NAMESPACE", raising=False)
    paths = find_repo(make_repo(tmp_path / "repo"))
    yield paths
    embedded.stop(paths, timeout=5)
    for pid in _servers_in(paths.state_dir / embedded.DATA_DIR):
        os.kill(pid, signal.SIGKILL)


@pytest.fixture
def impostor(tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A process that is not coord's server but has 'redis' and 'valkey' in its command line."""
    script = tmp_path / "redis-valkey-lookalike.py"
    script.write_text("import time\nwhile True: time.sleep(1)\n")
    proc = subprocess.Popen([sys.executable, str(script), "--redis", "--valkey", ":6379"])
    yield proc
    proc.kill()
    proc.wait()


def _write_state(repo: RepoPaths, **fields: object) -> None:
    repo.state_dir.mkdir(parents=True, exist_ok=True)
    (repo.state_dir / embedded.STATE_FILE).write_text(json.dumps(fields))


def test_a_recycled_pid_is_never_signalled_and_does_not_block(
    repo: RepoPaths, impostor: subprocess.Popen[bytes]
) -> None:
    # instance 1: a state file from an earlier run whose pid now belongs to a look-alike
    _write_state(repo, url="redis://:pw@127.0.0.1:6379/0", port=6379, pid=impostor.pid,
                 data_dir=str(repo.state_dir / "data"), started_at=1.0)
    down = _coord(repo, "redis.down")
    assert down.returncode == 0 and "not running" in down.stdout
    assert impostor.poll() is None  # not signalled
    status = _coord(repo, "redis.status")
    assert status.returncode == 0 and "not coord's server" in status.stdout, status.stdout
    # every command works: the state file is not trusted once the connection fails
    sent = _coord(repo, "msg.send", "backend", "INFO", "hello")
    assert sent.returncode == 0, sent.stderr
    up = _coord(repo, "redis.up")
    assert up.returncode == 0 and "running" in up.stdout
    state = embedded.read_state(repo)
    assert state is not None and state.pid != impostor.pid and embedded.verify(state)
    assert impostor.poll() is None


def test_a_recycled_pid_with_our_port_is_caught_by_the_servers_answer(repo: RepoPaths, tmp_path: Path) -> None:
    # instance 2: the look-alike even carries the recorded port in its title; only the server's own
    # INFO (pid and run id) can tell, and it says no
    store = open_store(repo, Config())
    store.publish("pm", "qa", "INFO", "before")
    real = embedded.read_state(repo)
    assert real is not None
    script = tmp_path / "valkey-server-fake.py"
    script.write_text("import time\nwhile True: time.sleep(1)\n")
    fake = subprocess.Popen([sys.executable, str(script), f"127.0.0.1:{real.port}"])
    try:
        lie = {**real.__dict__, "pid": fake.pid}
        _write_state(repo, **lie)
        assert embedded.owned_state(repo) is None  # the server's own answer says this pid is not it
        down = _coord(repo, "redis.down")
        assert down.returncode == 0, down.stderr
        assert fake.poll() is None
        # the real server held the data lock, so redis.down found it through its own config and stopped it
        assert "stopped" in down.stdout and real.pid not in _servers_in(repo.state_dir / "data")
    finally:
        fake.kill()
        fake.wait()


@pytest.mark.parametrize("damage", ["garbage", "empty", "deleted", "wrong-password", "bad-url", "old-run-id"])
def test_a_damaged_state_file_never_leads_to_a_second_server(repo: RepoPaths, damage: str) -> None:
    store = open_store(repo, Config())
    store.publish("pm", "qa", "INFO", "kept across the damage")
    first = embedded.read_state(repo)
    assert first is not None
    state_file = repo.state_dir / embedded.STATE_FILE
    if damage == "garbage":
        state_file.write_text("{not json")
    elif damage == "empty":
        state_file.write_text("")
    elif damage == "deleted":
        state_file.unlink()
    elif damage == "wrong-password":
        _write_state(repo, **{**first.__dict__, "url": first.url.replace("redis://:", "redis://:wrong")})
    elif damage == "bad-url":
        _write_state(repo, **{**first.__dict__, "url": "redis:x//nonsense"})
    else:
        _write_state(repo, **{**first.__dict__, "run_id": "0" * 40})
    # a new command, then a starter in-process: both must find the same server
    sent = _coord(repo, "msg.send", "qa", "INFO", "after")
    assert sent.returncode == 0, sent.stderr
    again = embedded_start.ensure_running(repo)
    assert again.pid == first.pid
    assert _servers_in(repo.state_dir / "data") == [first.pid]
    bodies = [m.body for m in open_store(repo, Config(), start_server=False).check("qa").messages]
    assert bodies == ["kept across the damage", "after"]


def test_a_deleted_data_directory_is_reported_and_never_called_kept(repo: RepoPaths) -> None:
    open_store(repo, Config()).publish("pm", "qa", "INFO", "x")
    status = _coord(repo, "redis.status", "--json")
    assert json.loads(status.stdout)["data_missing"] is False
    shutil.rmtree(repo.state_dir / "data")
    status = _coord(repo, "redis.status")
    assert status.returncode == 0 and "data directory was deleted" in status.stdout, status.stdout
    assert json.loads(_coord(repo, "redis.status", "--json").stdout)["data_missing"] is True
    up = _coord(repo, "redis.up")
    assert "data directory was deleted" in up.stdout
    down = _coord(repo, "redis.down")
    assert down.returncode == 0 and "data kept" not in down.stdout and "lost" in down.stdout, down.stdout


def test_a_replaced_data_directory_is_reported(repo: RepoPaths) -> None:
    # instance 2: the folder is deleted and recreated (same path, new inode): still not the server's
    open_store(repo, Config()).publish("pm", "qa", "INFO", "x")
    aof = repo.state_dir / "data" / "appendonlydir"
    shutil.rmtree(aof)
    aof.mkdir()
    assert json.loads(_coord(repo, "redis.status", "--json").stdout)["data_missing"] is True
    assert "data kept" not in _coord(repo, "redis.down").stdout


def test_stop_keeps_data_says_so(repo: RepoPaths) -> None:
    open_store(repo, Config()).publish("pm", "qa", "INFO", "x")
    down = _coord(repo, "redis.down")
    assert down.returncode == 0 and "data kept" in down.stdout
    assert _servers_in(repo.state_dir / "data") == []


def test_configured_redis_unreachable_exits_5_without_suggesting_redis_up(repo: RepoPaths) -> None:
    from tests.conftest import free_port

    env = {**_env(), "COORD_REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"}
    for args in (("redis.status",), ("redis.status", "--json")):
        result = subprocess.run([COORD, *args], cwd=repo.main_root, env=env, capture_output=True, text=True,
                                timeout=60)
        assert result.returncode == 5, (args, result.stdout, result.stderr)
        assert "redis.up" not in result.stdout + result.stderr
        assert "Traceback" not in result.stderr
    embedded_status = _coord(repo, "redis.status")
    assert embedded_status.returncode == 0  # the embedded server starts on need: not running is not a failure
