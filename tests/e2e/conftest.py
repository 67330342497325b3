"""The real Claude Code CLI in real worktrees, against a scripted model on loopback and a real Valkey.

Nothing of Claude Code is mocked: the CLI loads the committed .claude/settings.json, runs the
committed hook scripts, starts `coord mcp` from the committed .mcp.json over stdio, and calls
its tools when the scripted model asks it to. Only the model is scripted (tests/e2e/model.py).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis

from coord.keys import Keys
from tests.conftest import ValkeyProcess, git, make_repo
from tests.e2e.model import ScriptedModel

FALLBACK_BIN = "/tmp/cc/node_modules/.bin/claude"
CLAUDE_TIMEOUT = 180  # seconds for one `claude -p` run (CLI start ~1-3 s, `coord mcp` start ~1 s)


def find_claude() -> str | None:
    """COORD_CLAUDE_BIN (set by .ci/run), else `claude` on PATH, else the copy checked on this machine."""
    configured = os.environ.get("COORD_CLAUDE_BIN")
    if configured:
        return configured if os.access(configured, os.X_OK) else None
    return shutil.which("claude") or (FALLBACK_BIN if os.access(FALLBACK_BIN, os.X_OK) else None)


MISSING = ("the Claude Code CLI was not found: the end-to-end tests need it (set COORD_CLAUDE_BIN to its path, "
           "or run `bash .ci/run`, which installs it)")


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    """No CLI, no end-to-end run: stop before the first test with one line, and a failing exit
    code, instead of skipping everything and exiting 0 (a green run that tested nothing)."""
    here = Path(__file__).parent
    if any(here in Path(str(item.path)).parents for item in items) and find_claude() is None:
        raise pytest.UsageError(MISSING)


def cli_version(binary: str) -> str:
    """`claude --version` prints "2.1.332 (Claude Code)"."""
    done = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    return done.stdout.split()[0] if done.returncode == 0 and done.stdout.split() else ""


@pytest.fixture(scope="session")
def claude_bin() -> str:
    """The CLI under test. COORD_CLAUDE_VERSION (set by `nox -s e2e` per version) must match what
    the binary reports, so a session named for one version cannot silently run another."""
    found = find_claude()
    if found is None:  # not reached when collection stopped above; kept for a direct fixture use
        pytest.fail(MISSING)
    expected = os.environ.get("COORD_CLAUDE_VERSION")
    if expected:
        actual = cli_version(found)
        assert actual == expected, f"{found} is Claude Code {actual or '(no --version)'}, expected {expected}"
    return found


@dataclass
class Run:
    """One finished `claude -p` run."""

    code: int
    result: dict[str, Any]
    stderr: str

    @property
    def session_id(self) -> str:
        return str(self.result.get("session_id", ""))

    @property
    def text(self) -> str:
        return str(self.result.get("result", ""))


class Workspace:
    """A repository with coord's files committed, a throwaway HOME, and the test's Valkey namespace."""

    def __init__(self, root: Path, claude: str, valkey: ValkeyProcess, namespace: str) -> None:
        self.claude_bin = claude
        self.home = root / "home"
        self.home.mkdir()
        self.repo = make_repo(root / "repo")
        self.url = valkey.url
        self.namespace = namespace
        self.keys = Keys(namespace)
        self.r = redis.Redis.from_url(valkey.url, decode_responses=True)
        done = self.coord(self.repo, "init")
        assert done.returncode == 0, done.stderr
        git(self.repo, "add", "-A")
        git(self.repo, "commit", "-q", "-m", "coord init")
        self.trusted: list[str] = []
        self.trust(self.repo)

    # -- environment ----------------------------------------------------------------------
    def base_env(self) -> dict[str, str]:
        """The parent's environment minus anything that would point claude or coord elsewhere."""
        drop = ("ANTHROPIC_", "CLAUDE", "COORD_")
        env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
        env.update({
            "HOME": str(self.home),
            "COORD_REDIS_URL": self.url,
            "COORD_NAMESPACE": self.namespace,
            "CLAUDE_CODE_MAX_RETRIES": "0",
            "DISABLE_AUTOUPDATER": "1",
            "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
            "ANTHROPIC_API_KEY": "sk-ant-scripted-test",
            # -p waits for MCP servers only MCP_CONNECT_TIMEOUT_MS (5 s by default), then goes on without
            # their tools; `coord mcp` starts in ~1-2 s, more on a loaded CI machine. Wait for it, so a
            # slow start cannot drop the coord tools from the first request.
            "MCP_CONNECTION_NONBLOCKING": "false",
            "MCP_CONNECT_TIMEOUT_MS": "60000",
        })
        return env

    def trust(self, folder: Path) -> None:
        """What accepting the trust dialog once records: without it, -p ignores the project's
        permissions and leaves .mcp.json servers pending approval."""
        self.trusted.append(str(folder.resolve()))
        data = {"projects": {p: {"hasTrustDialogAccepted": True} for p in self.trusted}}
        (self.home / ".claude.json").write_text(json.dumps(data))

    def coord(self, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
        env = {**self.base_env(), "HOME": os.environ.get("HOME", str(self.home))}
        return subprocess.run([sys.executable, "-m", "coord.cli", *args], cwd=cwd, env=env, capture_output=True,
                              text=True, timeout=120)

    def worktree(self, role: str) -> Path:
        """`coord session.start ROLE`, the way a user starts an agent."""
        done = self.coord(self.repo, "session.start", role)
        assert done.returncode == 0, done.stdout + done.stderr
        path = self.repo / ".worktrees" / role
        assert f"cd .worktrees/{role} && CLAUDE_INSTANCE_ID={role} claude" in done.stdout
        self.trust(path)
        return path

    # -- running the CLI ------------------------------------------------------------------
    def claude(self, cwd: Path, prompt: str, model: ScriptedModel, instance: str | None,
               *args: str, env: dict[str, str] | None = None) -> Run:
        """One `claude -p` run; env: variables to change (PATH without coord, say)."""
        env = {**self.base_env(), "ANTHROPIC_BASE_URL": model.url, **(env or {})}
        if instance is not None:
            env["CLAUDE_INSTANCE_ID"] = instance
        proc = subprocess.run([self.claude_bin, "-p", prompt, "--output-format", "json", *args], cwd=cwd, env=env,
                              capture_output=True, text=True, timeout=CLAUDE_TIMEOUT, stdin=subprocess.DEVNULL)
        try:
            result = json.loads(proc.stdout)
        except json.JSONDecodeError:
            raise AssertionError(f"claude printed no JSON (exit {proc.returncode}): {proc.stdout[-2000:]}\n"
                                 f"{proc.stderr[-2000:]}") from None
        return Run(proc.returncode, result, proc.stderr)

    def mcp_list(self, cwd: Path, instance: str) -> subprocess.CompletedProcess[str]:
        env = {**self.base_env(), "CLAUDE_INSTANCE_ID": instance}
        return subprocess.run([self.claude_bin, "mcp", "list"], cwd=cwd, env=env, capture_output=True, text=True,
                              timeout=CLAUDE_TIMEOUT, stdin=subprocess.DEVNULL)

    # -- reading Redis independently --------------------------------------------------------
    def presence(self, role: str) -> dict[str, Any] | None:
        raw = self.r.hget(self.keys.presence, role)
        return json.loads(raw) if raw else None

    def events(self) -> list[dict[str, str]]:
        return [fields for _id, fields in self.r.xrange(self.keys.events)]

    def inbox(self, role: str) -> list[dict[str, str]]:
        return [{"id": i, **fields} for i, fields in self.r.xrange(self.keys.inbox(role))]

    def store(self) -> Any:
        from coord.config import load_config
        from coord.repo import find_repo
        from coord.store import open_store

        paths = find_repo(self.repo)
        return open_store(paths, load_config(paths.main_root, {"COORD_REDIS_URL": self.url,
                                                                "COORD_NAMESPACE": self.namespace}))


@pytest.fixture
def workspace(tmp_path: Path, claude_bin: str, valkey: ValkeyProcess, namespace: str) -> Iterator[Workspace]:
    ws = Workspace(tmp_path, claude_bin, valkey, namespace)
    yield ws
    ws.r.close()
