"""Concurrency at the scale of issue 7: 20 parallel agent.setup, 10 of the same role, 50 real
`coord mcp` sessions for 60 s, repeated races for one role. Run with `nox -s stress`."""

from __future__ import annotations

import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import anyio
import pytest

from coord.identity import role_email
from tests.conftest import git
from tests.integration.test_hardening_concurrency import race_once
from tests.stress.exchange import run_exchange, verdict
from tests.stress.support import COORD, agents_repo, clean_env, raw_redis, setup_worktrees, worktree_roots

pytestmark = pytest.mark.stress


def start_all(repo: Path, args: list[list[str]], env: dict[str, str]) -> list[subprocess.CompletedProcess[str]]:
    procs = [subprocess.Popen([*COORD, *a], cwd=repo, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for a in args]
    done = []
    for a, proc in zip(args, procs, strict=True):
        out, err = proc.communicate(timeout=300)
        done.append(subprocess.CompletedProcess(a, proc.returncode, out, err))
    return done


def no_half_made_state(repo: Path, roles: list[str]) -> None:
    """git agrees with the folders: every worktree registered has its folder, branch and identity;
    nothing is locked or prunable; no stray folder under .worktrees; fsck is clean."""
    porcelain = git(repo, "worktree", "list", "--porcelain").stdout
    assert "prunable" not in porcelain and "locked" not in porcelain
    listed = sorted(Path(p).name for p in worktree_roots(repo)[1:])
    assert listed == sorted(roles)
    assert sorted(p.name for p in (repo / ".worktrees").iterdir()) == sorted(roles)
    for role in roles:
        wt = repo / ".worktrees" / role
        assert git(wt, "symbolic-ref", "--short", "HEAD").stdout.strip() == f"agent/{role}/active"
        assert git(wt, "config", "user.email").stdout.strip() == role_email(role)
        assert git(wt, "status", "--porcelain", "--untracked-files=no").stdout == ""
    assert git(repo, "config", "user.email").stdout.strip() == "human@example.com"
    assert git(repo, "fsck", "--no-progress").returncode == 0
    # git's own lock files (index.lock, config.lock...) left behind mean a half-done git step; coord's
    # flock file under .git/coord is permanent by design (the lock is the flock, not the file).
    assert [p for p in (repo / ".git").glob("**/*.lock") if "coord" not in p.parts] == []


def test_twenty_distinct_setups_at_once(tmp_path: Path) -> None:
    roles = [f"agent{i:02d}" for i in range(20)]
    repo = agents_repo(tmp_path / "repo", ["pm", *roles])
    started = time.monotonic()
    results = start_all(repo, [["agent.setup", r] for r in roles], clean_env())
    took = time.monotonic() - started
    for r in results:
        assert r.returncode == 0 and "Traceback" not in r.stderr, (r.args, r.stderr)
    no_half_made_state(repo, roles)
    print(f"\n20 parallel agent.setup: {took:.1f}s")


def test_ten_setups_of_the_same_role_at_once(tmp_path: Path) -> None:
    repo = agents_repo(tmp_path / "repo", ["pm", "backend"])
    for attempt in range(3):
        results = start_all(repo, [["agent.setup", "backend"]] * 10, clean_env())
        assert all(r.returncode == 0 and "Traceback" not in r.stderr for r in results), [r.stderr for r in results]
        created = [r for r in results if "created worktree" in r.stdout]
        assert len(created) == (1 if attempt == 0 else 0)
        no_half_made_state(repo, ["backend"])


def test_fifty_sessions_for_sixty_seconds(tmp_path: Path, valkey: Any) -> None:
    roles = ["pm", *(f"r{i:02d}" for i in range(49))]
    repo = agents_repo(tmp_path / "repo", roles)
    setup_worktrees(repo, roles)
    namespace = f"fifty-{uuid.uuid4().hex[:8]}"
    env = {"COORD_REDIS_URL": valkey.url, "COORD_NAMESPACE": namespace, "COORD_HEARTBEAT_SECONDS": "2",
           "COORD_STALE_SECONDS": "30", "COORD_PRESENCE_TTL_SECONDS": "30"}
    started = time.monotonic()
    figures = anyio.run(run_exchange, repo, roles, env, 60.0)
    took = time.monotonic() - started
    assert verdict(figures) == []
    assert figures.published > 500 and figures.received == figures.deliveries
    # An independent look at Redis: nothing pending for anybody, every inbox holds what was sent to it.
    from coord.keys import Keys

    raw = raw_redis(valkey.url)
    keys = Keys(namespace)
    for role in roles:
        assert raw.hlen(keys.pending(role)) == 0
        assert raw.xlen(keys.inbox(role)) == len(figures.sent[role])
    raw.close()
    print(f"\n50 sessions x 60 s: {figures.published} published, {figures.deliveries} deliveries, "
          f"{figures.tool_calls} tool calls, 0 errors, start-up {figures.start_seconds:.1f}s, total {took:.1f}s")


def test_ten_races_for_one_role(tmp_path: Path, valkey: Any) -> None:
    repo = agents_repo(tmp_path / "repo", ["pm", "backend"])
    setup_worktrees(repo, ["pm", "backend"])
    for _ in range(10):
        env = {"COORD_REDIS_URL": valkey.url, "COORD_NAMESPACE": f"race-{uuid.uuid4().hex[:8]}"}
        results = anyio.run(race_once, repo, env)
        assert sorted(ok for ok, _ in results) == [False, True], results
        loser = next(r for ok, r in results if not ok)
        assert "held by another live session" in loser and "\n" not in loser
