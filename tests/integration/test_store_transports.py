"""coord.resp against real servers over every URL form: unix socket, ACL user:password, SELECT db,
and rediss:// through a TLS terminator (the bundled valkey-server is built without TLS)."""

from __future__ import annotations

import contextlib
import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from coord.config import Config
from coord.errors import StoreUnavailableError
from coord.server_process import ValkeyServer
from coord.store import Store

pytestmark = pytest.mark.integration


@pytest.fixture
def secured(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """A server that wants a password, with an ACL user and a unix socket."""
    sock = tmp_path / "v.sock"
    server = ValkeyServer(tmp_path, extra=("--unixsocket", str(sock), "--unixsocketperm", "700",
                                           "--requirepass", "top-secret"))
    try:
        server.start()
        port = server.port
        admin = redis.Redis(port=port, password="top-secret")
        admin.execute_command("ACL", "SETUSER", "agent", "on", ">agent-pw", "~*", "+@all")
        admin.close()
        yield port, sock
    finally:
        server.stop()


def _roundtrip(url: str, namespace: str) -> Store:
    store = Store(url, namespace, Config(roles=("pm", "qa")))
    store.publish("pm", "qa", "INFO", "over " + url.split(":", 1)[0])
    assert store.check("qa").messages[0].sender == "pm"
    return store


def test_unix_socket_with_password_and_db(secured: tuple[int, Path], namespace: str) -> None:
    port, sock = secured
    store = _roundtrip(f"unix://:top-secret@{sock}?db=3", namespace)
    check = redis.Redis(port=port, password="top-secret", db=3, decode_responses=True)
    assert check.exists(store.keys.inbox("qa")) == 1
    check.close()
    store.close()


def test_acl_user_and_db_select(secured: tuple[int, Path], namespace: str) -> None:
    port, _ = secured
    store = _roundtrip(f"redis://agent:agent-pw@127.0.0.1:{port}/5", namespace)
    check = redis.Redis(port=port, password="top-secret", db=5)
    assert check.exists(store.keys.pending("qa")) == 1
    check.close()
    bad = Store(f"redis://agent:nope@127.0.0.1:{port}/0", namespace, Config())
    with pytest.raises(StoreUnavailableError, match="refused the credentials") as info:
        bad.presence()
    assert "nope" not in info.value.line()


def _tls_proxy(cert: Path, key: Path, target: int) -> tuple[int, threading.Event]:
    """Accept TLS on a loopback port and pipe bytes to the plain server (one thread per direction)."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(0.2)
    stop = threading.Event()

    def pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while not stop.is_set():
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.close()

    def serve() -> None:
        while not stop.is_set():
            try:
                raw, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                break
            try:
                tls = context.wrap_socket(raw, server_side=True)
            except OSError:
                raw.close()
                continue
            upstream = socket.create_connection(("127.0.0.1", target))
            threading.Thread(target=pipe, args=(tls, upstream), daemon=True).start()
            threading.Thread(target=pipe, args=(upstream, tls), daemon=True).start()
        listener.close()

    threading.Thread(target=serve, daemon=True).start()
    return listener.getsockname()[1], stop


def test_rediss_through_tls(secured: tuple[int, Path], tmp_path: Path, namespace: str) -> None:
    openssl = shutil.which("openssl")
    assert openssl, "openssl is needed to make the test certificate"
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
         "-days", "1", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
        check=True, capture_output=True,
    )
    port, _ = secured
    tls_port, stop = _tls_proxy(cert, key, port)
    try:
        store = _roundtrip(f"rediss://:top-secret@127.0.0.1:{tls_port}/0?ssl_ca_certs={cert}", namespace)
        store.close()
        # Without trusting the certificate the connection is refused, with a one-line reason.
        untrusted = Store(f"rediss://:top-secret@127.0.0.1:{tls_port}/0", namespace, Config())
        with pytest.raises(StoreUnavailableError, match="certificate") as info:
            untrusted.presence()
        assert "top-secret" not in info.value.line()
        insecure = Store(f"rediss://:top-secret@127.0.0.1:{tls_port}/0?ssl_cert_reqs=none", namespace, Config())
        assert insecure.ping() >= 0
        insecure.close()
    finally:
        stop.set()
