"""A coord "site" for the rows that measure coord itself: a generated repository with roles
configured, its coordination server, role worktrees, and an in-process store.

The server is the repository's embedded one (what users get) when coord.embedded can start
it, else a valkey-server with the embedded server's durability reached through COORD_REDIS_URL.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.infra import Workspace, clean_env, git, make_repo, module_present, run, script


def role_names(count: int, prefix: str = "agent") -> list[str]:
    """count distinct valid role names (coord.identity.ROLE_PATTERN), in a stable order."""
    width = max(2, len(str(count)))
    return [f"{prefix}-{i:0{width}d}" for i in range(1, count + 1)]


def toml_roles(roles: list[str]) -> str:
    return "roles = [" + ", ".join(f'"{r}"' for r in roles) + "]\n"


@dataclass
class Site:
    ws: Workspace
    repo: Path
    roles: list[str]
    main_role: str = "pm"
    env: dict[str, str] = field(default_factory=dict)  # COORD_* for every coord process we start
    server: str = ""  # "embedded" or "valkey"
    redis_pid: int | None = None
    redis_url: str = ""  # with credentials: for independent clients (redis-py baselines, INFO)
    _store: Any = None

    # -- configuration ----------------------------------------------------------------
    def environ(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        return clean_env({**self.env, **(extra or {})})

    def paths(self, where: Path | None = None) -> Any:
        from coord.repo import find_repo

        return find_repo(where or self.repo)

    def config(self, environ: dict[str, str] | None = None) -> Any:
        from coord.config import load_config

        return load_config(self.repo, environ=self.environ(environ))

    def store(self, environ: dict[str, str] | None = None, fresh: bool = False) -> Any:
        """The store API in this process, on the site's server (not started here: it already is)."""
        if self._store is not None and not fresh and environ is None:
            return self._store
        from coord.store import open_store

        opened = open_store(self.paths(), self.config(environ), start_server=True)
        if environ is None and not fresh:
            self._store = opened
        return opened

    # -- worktrees --------------------------------------------------------------------
    def worktree(self, role: str) -> Path:
        """The role's worktree, made the way users make it (coord.worktree.setup) when it exists."""
        if role == self.main_role:
            return self.repo
        if module_present("coord.worktree"):
            from coord.worktree import setup

            return Path(setup(self.paths(), self.config(), role).path)
        path = self.repo / ".worktrees" / role
        if not path.exists():
            git(self.repo, "worktree", "add", "-q", "-b", f"agent/{role}/active", str(path), "main")
        return path


def make_site(ws: Workspace, roles: list[str], files: int = 0, name: str = "repo") -> Site:
    """A repository whose coord.toml configures roles (main role pm first), with its server up."""
    repo = make_repo(ws.root / name, files=files)
    all_roles = ["pm", *[r for r in roles if r != "pm"]]
    (repo / "coord.toml").write_text(toml_roles(all_roles))
    (repo / ".gitignore").write_text("/.worktrees/\n")
    git(repo, "add", "coord.toml", ".gitignore")
    git(repo, "commit", "-q", "-m", "coord config")
    site = Site(ws=ws, repo=repo, roles=all_roles, env={"COORD_NAMESPACE": f"bench-{uuid.uuid4().hex[:8]}"})
    if _embedded_usable():
        site.server = "embedded"
        # Start it the way users do (`coord redis.up`), so nothing of it lives in this process.
        run([script("coord"), "redis.up"], cwd=repo, env=site.environ(), timeout=60)
        from coord.embedded import read_state

        state = read_state(site.paths())
        if state is None:
            raise RuntimeError("`coord redis.up` left no state file")
        site.redis_pid, site.redis_url = state.pid, state.url
        ws.on_close(lambda: _stop_embedded(site))
    else:
        server = ws.valkey(f"{name}-valkey", durable=True)
        site.server = "valkey"
        site.redis_pid = server.pid
        site.redis_url = server.url
        site.env["COORD_REDIS_URL"] = server.url
    return site


def _embedded_usable() -> bool:
    if os.environ.get("COORD_BENCH_SERVER") == "valkey":
        return False
    if not (module_present("coord.embedded") and module_present("coord.tasks.redis")):
        return False
    from coord import embedded
    from coord.tasks import redis as redis_tasks

    return hasattr(embedded, "read_state") and "up" in redis_tasks.collection.tasks


def _stop_embedded(site: Site) -> None:
    """`coord redis.down`, then make sure: nothing the benchmark started may outlive it."""
    with contextlib.suppress(Exception):
        run([script("coord"), "redis.down"], cwd=site.repo, env=site.environ(), timeout=30, check=False)
    pid = site.redis_pid
    if pid is None:
        return
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
