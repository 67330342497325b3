"""The repository's embedded valkey-server: start on need, reuse, worktrees share it, repositories
do not, concurrent starters get one server, and a published message survives kill -9."""

from __future__ import annotations

import multiprocessing
import os
import signal
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from coord import embedded, embedded_start
from coord.config import Config
from coord.errors import StoreUnavailableError
from coord.repo import RepoPaths, find_repo
from coord.store import open_store
from tests.conftest import git, make_repo
from tests.polling import wait_for

pytestmark = pytest.mark.integration


def _kill(paths: RepoPaths) -> None:
    state = embedded.read_state(paths)
    embedded.stop(paths, timeout=5)
    if state and embedded.pid_alive(state.pid):
        os.kill(state.pid, signal.SIGKILL)


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[RepoPaths]:
    monkeypatch.delenv("COORD_REDIS_URL", raising=False)
    monkeypatch.delenv("COORD_NAMESPACE", raising=False)
    paths = find_repo(make_repo(tmp_path / "repo"))
    yield paths
    _kill(paths)


def test_not_running_is_reported_without_starting(repo: RepoPaths) -> None:
    with pytest.raises(StoreUnavailableError, match="not running") as info:
        open_store(repo, Config(), start_server=False).presence()
    assert "coord redis.up" in info.value.line()
    assert embedded.read_state(repo) is None


def test_started_on_first_need_then_reused(repo: RepoPaths) -> None:
    store = open_store(repo, Config())
    store.publish("pm", "backend", "INFO", "hello")
    state = embedded.read_state(repo)
    assert state is not None and embedded.pid_alive(state.pid)
    state_file = repo.state_dir / embedded.STATE_FILE
    assert stat.S_IMODE(state_file.stat().st_mode) == 0o600
    assert stat.S_IMODE((repo.state_dir / embedded.CONF_FILE).stat().st_mode) == 0o600
    assert ":" in state.url.split("@")[0].split("//")[1]  # a password is in the URL
    again = open_store(repo, Config(), start_server=False)
    assert again.check("backend").total == 1
    assert embedded.read_state(repo) == state  # same server, no restart
    # The server wants the password: an unauthenticated client is refused.
    from coord.resp import Connection, RespError

    with Connection(f"redis://127.0.0.1:{state.port}/0") as plain:
        refused = plain.pipeline([["GET", "x"]])[0]
    assert isinstance(refused, RespError) and refused.kind == "NOAUTH"
    info = embedded.status(repo)
    assert info.running and info.pid == state.pid and info.version and info.keys and info.keys >= 2
    assert "***" in (info.url or "") and state.url.split("@")[0].split(":")[-1] not in (info.url or "")


def test_worktrees_share_the_server_repositories_do_not(repo: RepoPaths, tmp_path: Path) -> None:
    main = repo.main_root
    git(main, "worktree", "add", "-q", "-b", "agent/backend/active", str(main / ".worktrees" / "backend"))
    in_worktree = find_repo(main / ".worktrees" / "backend")
    assert in_worktree.state_dir == repo.state_dir
    open_store(repo, Config()).publish("pm", "backend", "INFO", "from main")
    from_wt = open_store(in_worktree, Config(), start_server=False)
    assert [m.body for m in from_wt.check("backend").messages] == ["from main"]

    other = find_repo(make_repo(tmp_path / "other"))
    try:
        same_ns = Config(namespace="shared-name")  # even a shared namespace cannot cross repositories
        open_store(repo, same_ns).publish("pm", "qa", "INFO", "repo one")
        assert open_store(other, same_ns).check("qa").total == 0
        one, two = embedded.read_state(repo), embedded.read_state(other)
        assert one and two and one.port != two.port and one.pid != two.pid and one.url != two.url
    finally:
        _kill(other)


def test_published_message_survives_kill_9(repo: RepoPaths) -> None:
    store = open_store(repo, Config())
    ids = [store.publish("pm", "backend", "QUESTION", f"q{i}").ids["backend"] for i in range(20)]
    store.ack("backend", ids[:5])
    state = embedded.read_state(repo)
    assert state is not None
    os.kill(state.pid, signal.SIGKILL)
    wait_for(lambda: not embedded.pid_alive(state.pid), "the killed server to exit")
    # The same store object recovers: the dead server is restarted on the next need.
    after = store.check("backend", limit=100)
    assert [m.id for m in after.messages] == ids[5:]
    new_state = embedded.read_state(repo)
    assert new_state is not None and new_state.pid != state.pid


def test_stop_keeps_data_and_a_dead_pidfile_is_restarted(repo: RepoPaths) -> None:
    open_store(repo, Config()).publish("pm", "qa", "INFO", "kept")
    done = embedded.stop(repo)
    assert done.stopped and done.data_kept
    assert embedded.running_state(repo) is None
    assert not embedded.stop(repo).stopped
    with pytest.raises(StoreUnavailableError):
        open_store(repo, Config(), start_server=False)
    assert [m.body for m in open_store(repo, Config()).check("qa").messages] == ["kept"]


def _start(common: str, queue) -> None:  # type: ignore[no-untyped-def]
    try:
        state = embedded_start.ensure_running(find_repo(common))
        queue.put((state.pid, state.url))
    except Exception as exc:
        queue.put((None, repr(exc)))


def test_concurrent_starters_get_one_server(repo: RepoPaths) -> None:
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_start, args=(str(repo.main_root), queue)) for _ in range(6)]
    for p in procs:
        p.start()
    results = [queue.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(timeout=30)
    assert all(pid for pid, _ in results), results
    assert len(set(results)) == 1
    assert _servers_in(repo.state_dir / embedded.DATA_DIR) == [results[0][0]]


def _servers_in(data_dir: Path) -> list[int]:
    """Pids of valkey processes working in data_dir (a daemon chdirs to its `dir`)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if os.readlink(entry / "cwd") == str(data_dir) and b"valkey" in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
        except OSError:
            continue
    return found
