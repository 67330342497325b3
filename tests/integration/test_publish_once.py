"""Exactly-once publish, the loop guard, and mail to roles nobody holds (issue 12, classes 8 and 9).

Lost replies are real: a loopback proxy between coord and a real valkey forwards every request but,
once armed, drops the server's reply to the request carrying a marker and closes the connection, so
the message IS stored while the client sees a failure. The resend must not deliver it twice.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import anyio
import pytest
import redis
from mcp.client import Client

from coord.config import Config
from coord.errors import InvalidInputError, StoreUnavailableError
from coord.keys import Keys
from coord.mcp_server import build_server
from coord.mcp_service import Service
from coord.store import Store
from tests.conftest import make_repo

pytestmark = pytest.mark.integration

ROLES = ("pm", "backend", "frontend", "qa")
COORD = str(Path(sys.executable).with_name("coord"))


class ReplyDropper:
    """A TCP proxy to a Redis server that, when armed with a marker, swallows the replies to the next
    `times` requests containing the marker, closing those client connections (the requests still ran).
    coord's connection resends a batch once on a reused connection that drops, so times=1 is a reply
    lost and resent inside one call, times=2 a failure the caller sees."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.marker: bytes | None = None
        self.times = 0
        self.dropped = 0
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.port = self.listener.getsockname()[1]
        self._closing = False
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def arm(self, marker: str, times: int = 1) -> None:
        self.marker = marker.encode("utf-8")
        self.times = times

    def _accept(self) -> None:
        while not self._closing:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        server = socket.create_connection(("127.0.0.1", self.target_port))
        try:
            while True:
                request = client.recv(65536)
                if not request:
                    return
                drop = self.marker is not None and self.marker in request
                server.sendall(request)
                reply = server.recv(65536)  # requests here are single round trips: one reply chunk
                if drop:
                    self.times -= 1
                    if self.times <= 0:
                        self.marker = None
                    self.dropped += 1
                    return  # the reply is lost; the client sees its connection closed
                client.sendall(reply)
        except OSError:
            return
        finally:
            client.close()
            server.close()

    def close(self) -> None:
        self._closing = True
        self.listener.close()


@pytest.fixture
def proxy(valkey) -> Iterator[ReplyDropper]:  # type: ignore[no-untyped-def]
    dropper = ReplyDropper(valkey.port)
    yield dropper
    dropper.close()


@pytest.fixture
def raw(valkey) -> Iterator[redis.Redis]:  # type: ignore[no-untyped-def]
    client = redis.Redis.from_url(valkey.url, decode_responses=True)
    yield client
    client.close()


@pytest.fixture
def make_store(namespace: str) -> Iterator[Callable[..., Store]]:
    stores: list[Store] = []

    def make(url: str | Callable[[], str], **overrides: object) -> Store:
        store = Store(url, namespace, Config(**{"roles": ROLES, **overrides}))  # type: ignore[arg-type]
        stores.append(store)
        return store

    yield make
    for s in stores:
        s.close()


def _inbox(raw: redis.Redis, namespace: str, role: str) -> list[str]:
    return [fields["body"] for _id, fields in raw.xrange(Keys(namespace).inbox(role))]


def _pending(raw: redis.Redis, namespace: str, role: str) -> int:
    return int(raw.hlen(Keys(namespace).pending(role)))


def test_a_resend_after_a_lost_reply_is_not_delivered_twice(
    proxy: ReplyDropper, make_store: Callable[..., Store], raw: redis.Redis, namespace: str
) -> None:
    store = make_store(proxy.url)
    store.publish("pm", "backend", "INFO", "warm-up")  # the script is loaded: the next reply is the real one
    proxy.arm("lost-reply-1", times=2)
    with pytest.raises(StoreUnavailableError):
        store.publish("pm", "backend", "TASK_ASSIGNMENT", "lost-reply-1", publish_id="job-1")
    assert proxy.dropped == 2
    assert _inbox(raw, namespace, "backend") == ["warm-up", "lost-reply-1"]  # delivered, once
    again = store.publish("pm", "backend", "TASK_ASSIGNMENT", "lost-reply-1", publish_id="job-1")
    assert again.duplicate and again.publish_id == "job-1"
    assert _inbox(raw, namespace, "backend") == ["warm-up", "lost-reply-1"]
    assert _pending(raw, namespace, "backend") == 2
    third = store.publish("pm", "backend", "TASK_ASSIGNMENT", "lost-reply-1", publish_id="job-1")
    assert third.ids == again.ids and third.duplicate  # any number of resends: still one delivery


def test_a_broadcast_resend_reaches_each_role_once(
    proxy: ReplyDropper, make_store: Callable[..., Store], raw: redis.Redis, namespace: str
) -> None:
    store = make_store(proxy.url)
    store.publish("pm", "qa", "INFO", "warm-up")
    proxy.arm("to everyone", times=2)
    with pytest.raises(StoreUnavailableError):
        store.publish("pm", "all", "INFO", "to everyone", publish_id="bc-7")
    result = store.publish("pm", "all", "INFO", "to everyone", publish_id="bc-7")
    assert result.duplicate and set(result.ids) == {"backend", "frontend", "qa"}
    for role in ("backend", "frontend", "qa"):
        assert _inbox(raw, namespace, role).count("to everyone") == 1


@pytest.mark.parametrize("callable_url", [False, True])
def test_a_resend_inside_one_call_reuses_the_id(
    proxy: ReplyDropper, make_store: Callable[..., Store], raw: redis.Redis, namespace: str, callable_url: bool
) -> None:
    # The connection resends a batch whose connection dropped (and a URL callable, as for the embedded
    # server, makes the store retry too): the caller sees one success, the recipient one message.
    store = make_store((lambda: proxy.url) if callable_url else proxy.url)
    store.publish("pm", "frontend", "INFO", "warm-up")
    proxy.arm("retried inside", times=2 if callable_url else 1)
    result = store.publish("pm", "frontend", "INFO", "retried inside")
    assert proxy.dropped == (2 if callable_url else 1) and result.duplicate
    assert _inbox(raw, namespace, "frontend") == ["warm-up", "retried inside"]


def test_the_mcp_server_resends_an_identical_failed_publish_with_its_id(
    proxy: ReplyDropper, raw: redis.Redis, namespace: str, tmp_path: Path
) -> None:
    repo = make_repo(tmp_path / "repo")
    env = {"COORD_REDIS_URL": proxy.url, "COORD_NAMESPACE": namespace, "CLAUDE_INSTANCE_ID": "pm",
           "CLAUDE_CODE_SESSION_ID": "sess-pm"}
    svc = Service(env, repo)
    assert svc.problem is None, svc.problem
    try:
        svc.publish("qa", "QUESTION", "warm-up")
        proxy.arm("are the tests green?", times=2)
        with pytest.raises(StoreUnavailableError):
            svc.publish("qa", "QUESTION", "are the tests green?")
        again = svc.publish("qa", "QUESTION", "are the tests green?")
        assert "already delivered" in again["note"]
        assert _inbox(raw, namespace, "qa") == ["warm-up", "are the tests green?"]
        # after a success the id is forgotten: a deliberate second identical send is a new message
        assert "already delivered" not in svc.publish("qa", "QUESTION", "are the tests green?").get("note", "")
        assert _inbox(raw, namespace, "qa").count("are the tests green?") == 2
    finally:
        svc.close()


def test_bad_publish_ids_are_refused(valkey, make_store: Callable[..., Store]) -> None:  # type: ignore[no-untyped-def]
    store = make_store(valkey.url)
    for bad in ("", "x" * 65, "with space", "a{b}", "é", 7):
        with pytest.raises(InvalidInputError):
            store.publish("pm", "qa", "INFO", "x", publish_id=bad)  # type: ignore[arg-type]


# -- loop guard ----------------------------------------------------------------------------------------
def test_identical_messages_beyond_the_limit_are_refused(
    valkey, make_store: Callable[..., Store], raw: redis.Redis, namespace: str  # type: ignore[no-untyped-def]
) -> None:
    store = make_store(valkey.url)
    for _ in range(3):
        store.publish("backend", "qa", "TASK_ASSIGNMENT", "run the suite")
    with pytest.raises(InvalidInputError) as info:
        store.publish("backend", "qa", "TASK_ASSIGNMENT", "run the suite")
    line = info.value.line()
    assert "loop" in line and "3 times" in line and "\n" not in line and info.value.exit_code == 2
    for _ in range(50):  # a looping agent keeps trying: nothing more gets through
        with pytest.raises(InvalidInputError):
            store.publish("backend", "qa", "TASK_ASSIGNMENT", "run the suite")
    assert _inbox(raw, namespace, "qa") == ["run the suite"] * 3
    # anything that differs is another message: body, type, recipient, sender
    store.publish("backend", "qa", "TASK_ASSIGNMENT", "run the suite again")
    store.publish("backend", "qa", "QUESTION", "run the suite")
    store.publish("backend", "frontend", "TASK_ASSIGNMENT", "run the suite")
    store.publish("frontend", "qa", "TASK_ASSIGNMENT", "run the suite")
    for _ in range(3):
        store.publish("backend", "all", "INFO", "deploying")
    with pytest.raises(InvalidInputError):
        store.publish("backend", "all", "INFO", "deploying")
    assert _inbox(raw, namespace, "pm").count("deploying") == 3


def test_the_window_reopens_and_the_numbers_are_settings(
    valkey, make_store: Callable[..., Store]  # type: ignore[no-untyped-def]
) -> None:
    store = make_store(valkey.url, repeat_limit=1, repeat_window_seconds=1)
    store.publish("pm", "qa", "INFO", "ping")
    with pytest.raises(InvalidInputError, match="1 times in 1s"):
        store.publish("pm", "qa", "INFO", "ping")
    deadline = time.monotonic() + 10
    while True:  # poll: the key expires one second after the first message
        try:
            store.publish("pm", "qa", "INFO", "ping")
            break
        except InvalidInputError:
            assert time.monotonic() < deadline, "the loop window never reopened"
            time.sleep(0.05)


def test_loop_refusal_is_exit_2_on_the_cli_and_a_tool_error_over_mcp(
    coord_env: dict[str, str], tmp_path: Path
) -> None:
    repo = make_repo(tmp_path / "repo")
    env = {k: v for k, v in coord_env.items() if k != "CLAUDE_INSTANCE_ID"}
    codes = [subprocess.run([COORD, "msg.send", "qa", "INFO", "same"], cwd=repo, env=env, capture_output=True,
                            text=True, timeout=60) for _ in range(4)]
    assert [c.returncode for c in codes] == [0, 0, 0, 2], [c.stderr for c in codes]
    assert codes[3].stderr.count("\n") == 1 and "loop" in codes[3].stderr and "Traceback" not in codes[3].stderr

    svc = Service({**{k: v for k, v in env.items() if k.startswith("COORD_")}, "CLAUDE_INSTANCE_ID": "pm",
                   "CLAUDE_CODE_SESSION_ID": "sess-loop"}, repo)

    async def scenario() -> list[object]:
        async with Client(build_server(svc, autostart=False)) as client:
            out = []
            for _ in range(4):
                result = await client.call_tool("coord_publish_message",
                                                {"to": "backend", "type": "INFO", "body": "tool loop"})
                out.append(result.content[0].text if result.is_error else "ok")  # type: ignore[union-attr]
            return out

    try:
        results = anyio.run(scenario)
    finally:
        svc.close()
    assert results[:3] == ["ok", "ok", "ok"]
    assert isinstance(results[3], str) and "loop" in results[3] and "\n" not in results[3]


# -- mail to roles nobody holds --------------------------------------------------------------------
def test_mail_to_an_absent_or_inactive_role_is_kept_and_says_so(
    valkey, make_store: Callable[..., Store], raw: redis.Redis, namespace: str  # type: ignore[no-untyped-def]
) -> None:
    store = make_store(valkey.url)
    absent = store.publish("pm", "qa", "INFO", "for later")
    assert absent.waiting == ("qa",) and "waits" in absent.to_dict()["note"]  # type: ignore[operator]
    store.register("qa", "sess-qa", "/w/qa")
    live = store.publish("pm", "qa", "INFO", "now")
    assert live.waiting == () and "note" not in live.to_dict()
    store.deregister("qa", "sess-qa")
    inactive = store.publish("pm", "qa", "INFO", "after the end")
    assert inactive.waiting == ("qa",)
    store.register("backend", "sess-be", "/w/be")
    broadcast = store.publish("pm", "all", "INFO", "to all")
    assert set(broadcast.waiting) == {"frontend", "qa"}
    assert _inbox(raw, namespace, "qa") == ["for later", "now", "after the end", "to all"]


def test_the_cli_says_the_mail_waits(coord_env: dict[str, str], tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    env = {k: v for k, v in coord_env.items() if k != "CLAUDE_INSTANCE_ID"}
    sent = subprocess.run([COORD, "msg.send", "frontend", "INFO", "hi"], cwd=repo, env=env, capture_output=True,
                          text=True, timeout=60)
    assert sent.returncode == 0 and "frontend has no live session" in sent.stdout and "waits" in sent.stdout
