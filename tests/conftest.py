"""Fixtures shared by every test layer: real git repositories and a real Valkey server."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from coord.server_process import ValkeyServer, free_port

__all__ = ["HUMAN_EMAIL", "ValkeyProcess", "free_port", "git", "make_repo"]

HUMAN_EMAIL = "human@example.com"

# Hypothesis settings, defined once. Properties here drive real git, servers and processes, so no
# per-example deadline (a loaded machine is slow, not wrong) and no health check on slow data
# generation. "default": hypothesis's own budget (costly properties state a smaller one).
# "stress": the adversarial suite's budget (tests/stress decorates with it directly);
# COORD_HYPOTHESIS_PROFILE=stress (or pytest --hypothesis-profile=stress) runs every other
# property with it too. A test that states max_examples keeps the rest of the loaded profile.
HYPOTHESIS_PROFILE_ENV = "COORD_HYPOTHESIS_PROFILE"
settings.register_profile("default", max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
settings.register_profile("stress", settings.get_profile("default"), max_examples=600)
settings.load_profile(os.environ.get(HYPOTHESIS_PROFILE_ENV, "default"))


def git(repo: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run git in repo with argument lists (tests never go through a shell)."""
    return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=check)


def make_repo(path: Path, branch: str = "main") -> Path:
    """A repository with one commit and a human identity in its own config (not env vars:
    GIT_AUTHOR_* would override the per-worktree identity coord sets)."""
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "-b", branch)
    git(path, "config", "user.name", "Test Human")
    git(path, "config", "user.email", HUMAN_EMAIL)
    git(path, "config", "commit.gpgsign", "false")
    (path / "README.md").write_text("hello\n")
    git(path, "add", "README.md")
    git(path, "commit", "-q", "-m", "initial")
    return path


def make_project(path: Path, branch: str = "main") -> Path:
    """make_repo with a root commit no other test shares: make_repo's are byte-identical within a
    second, and identical roots are one project by design (coord.namespace)."""
    repo = make_repo(path, branch)
    git(repo, "commit", "-q", "--amend", "-m", f"initial {uuid.uuid4().hex}")
    return repo


@pytest.fixture
def git_repo(tmp_path: Path) -> Path:
    """A fresh repository at tmp_path/repo on branch main with one commit."""
    return make_repo(tmp_path / "repo")


ValkeyProcess = ValkeyServer  # the name the tests know it by


@pytest.fixture(scope="session")
def valkey(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ValkeyProcess]:
    """One real server per test process; tests isolate themselves with a unique namespace."""
    server = ValkeyServer(tmp_path_factory.mktemp("valkey")).start()
    yield server
    server.stop()


@pytest.fixture
def namespace() -> str:
    """A namespace no other test uses, so tests can share one server."""
    return f"t-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def coord_env(monkeypatch: pytest.MonkeyPatch, valkey: ValkeyProcess, namespace: str) -> dict[str, str]:
    """Point coord (in this process and in subprocesses) at the test server and namespace."""
    monkeypatch.setenv("COORD_REDIS_URL", valkey.url)
    monkeypatch.setenv("COORD_NAMESPACE", namespace)
    monkeypatch.delenv("CLAUDE_INSTANCE_ID", raising=False)
    monkeypatch.delenv("CLAUDE_CODE_SESSION_ID", raising=False)
    monkeypatch.delenv("COORD_ROLE", raising=False)
    return {**os.environ}


def _servers_under(root: Path) -> list[int]:
    """Pids of valkey/redis servers whose working directory lies under root (or was deleted
    with it): embedded servers that tests started through coord and did not stop."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes()
            cwd = os.readlink(proc / "cwd")
        except OSError:
            continue
        if b"valkey-server" not in cmdline and b"redis-server" not in cmdline:
            continue
        if cwd.startswith(str(root)):
            found.append(int(proc.name))
    return found


@pytest.fixture(scope="session", autouse=True)
def _stop_leaked_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Embedded servers are detached by design (they outlive the command that started them), so
    a test run ends by stopping every one it started under its temp folder."""
    yield
    root = tmp_path_factory.getbasetemp().resolve()
    for pid in _servers_under(root):
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
