"""Helpers of the adversarial suite (tests/stress and tests/integration/test_hardening_*.py).

Everything drives the real thing: `coord` and `coord-hook` as processes, `coord mcp` behind a real
MCP stdio client, real git, real Valkey. The helpers here only set scenes up and look at what
happened (a snapshot of the files and refs, the processes under this one).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.conftest import git, make_project

COORD = [sys.executable, "-m", "coord.cli"]
HOOK = [sys.executable, "-m", "coord.hooks"]
MCP = [sys.executable, "-m", "coord.cli", "mcp"]
AGENT_REF_PREFIXES = ("refs/heads/agent/", "refs/coord/")


def clean_env(**overrides: str) -> dict[str, str]:
    """The caller's environment without coord, git-location or agent settings, plus overrides."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COORD_", "GIT_", "CLAUDE"))}
    env.update(overrides)
    return env


def run_coord(cwd: Path, *args: str, env: Mapping[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """`coord ARGS` in cwd with no terminal on stdin, as an agent or CI runs it."""
    return subprocess.run([*COORD, *args], cwd=cwd, env=dict(env), stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=timeout)


def one_line_refusal(proc: subprocess.CompletedProcess[str]) -> str:
    """A refused command prints exactly one non-empty line on stderr and no traceback."""
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, proc.stderr
    return lines[0]


# -- files and refs ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Snapshot:
    """Every file of the main checkout outside .git and the worktree folder, and every ref."""

    files: dict[str, str]
    refs: dict[str, str]
    outside: frozenset[str]  # entries next to the repository (a payload could write there)


def _digest(path: Path) -> str:
    if path.is_symlink():
        return "link:" + os.readlink(path)
    return hashlib.sha256(path.read_bytes()).hexdigest()


def snapshot(repo: Path, worktree_dir: str = ".worktrees") -> Snapshot:
    files: dict[str, str] = {}
    for folder, dirs, names in os.walk(repo):
        rel_folder = os.path.relpath(folder, repo)
        if rel_folder == ".":
            dirs[:] = [d for d in dirs if d not in (".git", worktree_dir)]
        for name in names:
            full = Path(folder) / name
            files[os.path.relpath(full, repo)] = _digest(full)
        for name in dirs:
            full = Path(folder) / name
            if full.is_symlink():
                files[os.path.relpath(full, repo)] = _digest(full)
    out = git(repo, "for-each-ref", "--format=%(refname) %(objectname)").stdout
    refs = {name: sha for name, sha in (line.split(" ", 1) for line in out.splitlines() if line)}
    outside = frozenset(os.listdir(repo.parent))
    return Snapshot(files, refs, outside)


def confined(before: Snapshot, after: Snapshot) -> list[str]:
    """What changed that must not: files outside the worktree folder, refs outside agent/* and
    refs/coord/*, new entries next to the repository. Empty when the run stayed in bounds."""
    problems = []
    for name in sorted(set(before.files) | set(after.files)):
        if before.files.get(name) != after.files.get(name):
            problems.append(f"file {name!r} changed")
    for name in sorted(set(before.refs) | set(after.refs)):
        if before.refs.get(name) != after.refs.get(name) and not name.startswith(AGENT_REF_PREFIXES):
            problems.append(f"ref {name!r} changed")
    for name in sorted(after.outside - before.outside):
        problems.append(f"{name!r} appeared next to the repository")
    return problems


def worktree_roots(repo: Path) -> list[str]:
    out = git(repo, "worktree", "list", "--porcelain").stdout
    return [line.split(" ", 1)[1] for line in out.splitlines() if line.startswith("worktree ")]


def agents_repo(path: Path, roles: Iterable[str], main_role: str = "pm") -> Path:
    """A repository whose coord.toml names the roles (committed, so every worktree reads it), with a
    root commit of its own (a project of its own: coord.namespace)."""
    repo = make_project(path)
    names = ", ".join(json.dumps(r) for r in roles)
    (repo / "coord.toml").write_text(f'roles = [{names}]\nmain_role = "{main_role}"\n')
    (repo / ".gitignore").write_text("/.worktrees/\n")
    git(repo, "add", "coord.toml", ".gitignore")
    git(repo, "commit", "-q", "-m", "coord roles")
    return repo


def setup_worktrees(repo: Path, roles: Iterable[str]) -> None:
    """agent.setup for each role, in this process (the library the CLI calls)."""
    from coord import worktree
    from coord.config import load_config
    from coord.repo import find_repo

    paths = find_repo(repo)
    config = load_config(paths.main_root, {})
    for role in roles:
        if role != config.main_role:
            worktree.setup(paths, config, role)


def checkout_of(repo: Path, role: str, main_role: str = "pm") -> Path:
    return repo if role == main_role else repo / ".worktrees" / role


# -- processes -----------------------------------------------------------------------------------
def children_with_env(name: str, value: str, parent: int | None = None) -> list[int]:
    """Pids of the processes under `parent` (default: this one) whose environment has name=value.
    How a test finds the `coord mcp` behind an MCP client in order to kill -9 it."""
    parent = os.getpid() if parent is None else parent
    wanted = f"{name}={value}".encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            if ppid != parent:
                continue
            if wanted in Path(f"/proc/{entry}/environ").read_bytes().split(b"\0"):
                found.append(int(entry))
        except (OSError, ValueError, IndexError):
            continue
    return found


def kill9(pid: int, timeout: float = 10.0) -> None:
    """SIGKILL and wait until the pid is gone (reaped by its parent or by us)."""
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
            if done:
                return
        except ChildProcessError:
            pass
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            return
        if state == "Z":
            return
        time.sleep(0.02)
    raise AssertionError(f"pid {pid} still alive {timeout}s after SIGKILL")


def mcp_params(repo: Path, role: str, session: str, env: Mapping[str, str]) -> Any:
    """A real `coord mcp` over stdio, started the way Claude Code starts it from .mcp.json."""
    from mcp.client.stdio import StdioServerParameters

    full = {**clean_env(), **env, "CLAUDE_INSTANCE_ID": role, "CLAUDE_CODE_SESSION_ID": session,
            "CLAUDE_PROJECT_DIR": str(checkout_of(repo, role))}
    return StdioServerParameters(command=MCP[0], args=MCP[1:], env=full, cwd=checkout_of(repo, role))


async def tool(client: Any, name: str, args: dict[str, Any] | None = None) -> tuple[bool, Any]:
    """(ok, structured result) or (False, the error text)."""
    result = await client.call_tool(name, args or {})
    if result.is_error:
        return False, result.content[0].text
    return True, result.structured_content


def embedded_pid(repo: Path) -> int | None:
    from coord import embedded
    from coord.repo import find_repo

    state = embedded.running_state(find_repo(repo))
    return state.pid if state else None


def stop_embedded(repo: Path) -> None:
    """Teardown: stop the repository's embedded server however it is (SHUTDOWN, then SIGKILL)."""
    from coord import embedded
    from coord.repo import find_repo

    paths = find_repo(repo)
    state = embedded.read_state(paths)
    with contextlib.suppress(Exception):  # teardown goes on to the kill below whatever happens
        embedded.stop(paths, timeout=5)
    if state and state.pid and embedded.pid_alive(state.pid):
        kill9(state.pid)


@contextlib.contextmanager
def stdio_sessions(
    repo: Path, specs: Iterable[tuple[str, str]], env: Mapping[str, str]
) -> Iterator[tuple[Any, list[Any]]]:
    """Real `coord mcp` processes behind real MCP clients, one per (role, session id), usable from
    sync code through a blocking portal: `portal.call(tool, client, name, args)`."""
    from anyio.from_thread import start_blocking_portal
    from mcp.client import Client

    with start_blocking_portal() as portal, contextlib.ExitStack() as stack:
        clients = [stack.enter_context(portal.wrap_async_context_manager(Client(mcp_params(repo, role, sid, env))))
                   for role, sid in specs]
        yield portal, clients


def call(portal: Any, client: Any, name: str, args: dict[str, Any] | None = None) -> tuple[bool, Any]:
    return portal.call(tool, client, name, args or {})


def raw_redis(url: str) -> Any:
    import redis

    return redis.Redis.from_url(url, decode_responses=True)
