"""File claims against a real Valkey and real git: the store, the MCP tools, the PreToolUse hook run
as Claude Code runs it (a process, JSON on stdin), and the optional git pre-commit guard.

Every effect is checked with an independent client (redis-py) or with git itself."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import redis
from mcp.client import Client

from coord import claim_store
from coord.config import load_config
from coord.errors import ClaimConflictError, StoreUnavailableError
from coord.keys import Keys
from coord.mcp_server import build_server
from coord.mcp_service import Service
from coord.repo import find_repo
from coord.store import Store, open_store
from tests.conftest import ValkeyProcess, free_port, git, make_repo
from tests.integration.test_mcp import call, cwd_for, env_for, run
from tests.integration.test_worktree_support import clean_env, run_coord

pytestmark = pytest.mark.integration

HOOK = [sys.executable, "-m", "coord.hooks", "pre-tool-use"]


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """backend and frontend worktrees with their identities, as in test_mcp."""
    main = make_repo(tmp_path / "repo")
    git(main, "config", "extensions.worktreeConfig", "true")
    for role in ("backend", "frontend"):
        git(main, "worktree", "add", "-q", "-b", f"agent/{role}/active", str(main / ".worktrees" / role))
        git(main / ".worktrees" / role, "config", "--worktree", "user.email", f"{role}@coord.invalid")
    return main


def store_for(repo: Path, clock: Any = time.time) -> Store:
    paths = find_repo(repo)
    return open_store(paths, load_config(paths.main_root), clock=clock)


def live(store: Store, *roles: str) -> None:
    for role in roles:
        store.register(role, f"s-{role}", f"/x/{role}")


def test_overlap_refused_with_holder_and_reason_and_stale_holder_lapses(
    repo: Path, coord_env: dict[str, str], valkey: ValkeyProcess, namespace: str
) -> None:
    r = redis.Redis.from_url(valkey.url, decode_responses=True)
    keys = Keys(namespace)
    with store_for(repo) as store:
        live(store, "backend", "frontend")
        got = claim_store.claim(store, "frontend", ["src/api/**"], "rewriting the auth flow", 600)
        assert [c.pattern for c in got.granted] == ["src/api/**"]
        stored = json.loads(r.hget(keys.claims, "src/api/**"))
        assert stored["role"] == "frontend" and stored["reason"] == "rewriting the auth flow"
        assert 599 <= stored["expires_at"] - stored["claimed_at"] <= 600

        with pytest.raises(ClaimConflictError) as refused:
            claim_store.claim(store, "backend", ["docs/**", "src/api/users.py"], "adding users", None)
        line = refused.value.line()
        assert refused.value.exit_code == 13
        assert "frontend" in line and "rewriting the auth flow" in line and "src/api/users.py" in line
        assert r.hkeys(keys.claims) == ["src/api/**"]  # all or nothing: docs/** was not granted either

        # frontend's own overlapping claim is fine; backend's disjoint one too
        claim_store.claim(store, "frontend", ["src/api/auth.py"], "same work", None)
        claim_store.claim(store, "backend", ["docs/**"], "docs", None)
        assert claim_store.find_blocking(store, "backend", ["src/api/auth.py"])[1].role == "frontend"  # type: ignore[index]
        assert claim_store.find_blocking(store, "frontend", ["src/api/auth.py"]) is None

        # a role cannot release another role's claim
        out = claim_store.release(store, "backend", ["src/api/**"])
        assert out.released == () and out.not_held == ("src/api/**",) and r.hexists(keys.claims, "src/api/**")

    # frontend goes stale (no heartbeat for stale_seconds): its claims lapse
    later = time.time() + 301
    with store_for(repo, clock=lambda: later) as future:
        assert claim_store.find_blocking(future, "backend", ["src/api/auth.py"]) is None
        view = claim_store.read(future)
        assert {c["pattern"]: c["status"] for c in view.to_dict()["claims"]} == {
            "src/api/**": "lapsed", "src/api/auth.py": "lapsed", "docs/**": "lapsed"}
        future.heartbeat("backend", "s-backend")
        taken = claim_store.claim(future, "backend", ["src/api/users.py"], "frontend is gone", None)
        assert sorted(taken.removed_lapsed) == ["src/api/**"]  # removed: the overlapping lapsed claim
    assert sorted(r.hkeys(keys.claims)) == ["docs/**", "src/api/auth.py", "src/api/users.py"]

    with store_for(repo) as store:
        assert claim_store.release(store, "backend").released == ("docs/**", "src/api/users.py")
    assert r.hkeys(keys.claims) == ["src/api/auth.py"]
    r.close()


def test_racing_overlapping_claims_one_winner(repo: Path, coord_env: dict[str, str]) -> None:
    with store_for(repo) as store:
        live(store, "backend", "frontend", "qa")
    for round_ in range(15):
        winners: list[str] = []
        barrier = threading.Barrier(3)

        def grab(role: str, i: int = round_, barrier: threading.Barrier = barrier,
                 winners: list[str] = winners) -> None:
            with store_for(repo) as mine:
                barrier.wait(timeout=10)
                try:
                    claim_store.claim(mine, role, [f"race{i}/**"], "mine", None)
                    winners.append(role)
                except ClaimConflictError:
                    pass

        threads = [threading.Thread(target=grab, args=(role,)) for role in ("backend", "frontend", "qa")]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
        assert len(winners) == 1, (round_, winners)


def test_mcp_tools_claim_list_release(repo: Path, coord_env: dict[str, str]) -> None:
    be = Service(env_for(coord_env, "backend", "sess-be"), cwd_for(repo, "backend"))
    fe = Service(env_for(coord_env, "frontend", "sess-fe"), cwd_for(repo, "frontend"))

    async def scenario() -> None:
        async with Client(build_server(be, autostart=True)) as b, Client(build_server(fe, autostart=True)) as f:
            absolute = str(cwd_for(repo, "frontend").resolve() / "web" / "app.ts")
            ok = await call(f, "coord_claim_files", {"paths": ["web/**", absolute], "reason": "new layout",
                                                     "ttl_seconds": 120})
            assert ok == {"claimed": ["web/**", "web/app.ts"], "left": "2 min left"}
            refused = await call(b, "coord_claim_files", {"paths": ["web/app.ts"], "reason": "fix"})
            assert refused[0] == "error" and "frontend" in refused[1] and "new layout" in refused[1]
            listed = await call(b, "coord_get_claims")
            assert {(c["pattern"], c["role"], c["status"], c["reason"]) for c in listed["claims"]} == {
                ("web/**", "frontend", "live", "new layout"), ("web/app.ts", "frontend", "live", "new layout")}
            assert all(c["left"].endswith(" left") for c in listed["claims"])
            bad = await call(f, "coord_claim_files", {"paths": ["../outside"], "reason": "x"})
            assert bad[0] == "error" and ".." in bad[1]
            gone = await call(f, "coord_release_files", {})
            assert sorted(gone["released"]) == ["web/**", "web/app.ts"]
            assert (await call(b, "coord_claim_files", {"paths": ["web/app.ts"], "reason": "fix"}))["claimed"]

    run(scenario)


def test_mcp_check_conflicts_reports_own_pairs(repo: Path, coord_env: dict[str, str]) -> None:
    for role, text in (("backend", "b\n"), ("frontend", "f\n")):
        tree = cwd_for(repo, role)
        (tree / "README.md").write_text(text)
        git(tree, "commit", "-q", "-am", f"{role} readme")
    be = Service(env_for(coord_env, "backend", "sess-be"), cwd_for(repo, "backend"))

    async def scenario() -> None:
        async with Client(build_server(be, autostart=True)) as b:
            out = await call(b, "coord_check_conflicts")
            pairs = {p["other"]: p for p in out["pairs"]}
            assert set(pairs) == {"base (main)", "frontend"}
            assert pairs["frontend"]["status"] == "conflict" and pairs["frontend"]["files"] == ["README.md"]
            assert pairs["frontend"]["commits"].startswith("yours ") and out["you"] == "backend"

    run(scenario)


# -- the PreToolUse hook, run as Claude Code runs it -------------------------------------------------


def hook(cwd: Path, env: dict[str, str], tool: str, file_path: str, role: str | None = None,
         **extra: str) -> tuple[dict[str, Any] | None, str]:
    full = {**env, "CLAUDE_PROJECT_DIR": str(cwd), **extra}
    if role:
        full["CLAUDE_INSTANCE_ID"] = role
    payload = {"session_id": f"s-{role}", "hook_event_name": "PreToolUse", "cwd": str(cwd), "tool_name": tool,
               "tool_input": {"file_path": file_path, "old_string": "a", "new_string": "b"}}
    proc = subprocess.run(HOOK, input=json.dumps(payload).encode(), cwd=cwd, env=full, capture_output=True,
                          timeout=60)  # a hang guard only: the hook's speed is measured by the bench
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout.decode()
    return (json.loads(out) if out.strip() else None), proc.stderr.decode()


def test_pre_tool_use_denies_claimed_paths_only(repo: Path, coord_env: dict[str, str]) -> None:
    with store_for(repo) as store:
        live(store, "backend", "frontend")
        claim_store.claim(store, "frontend", ["src/ui/**"], "redesign of the settings page", None)
        claim_store.claim(store, "backend", ["api/**"], "orders endpoint", None)
    tree = cwd_for(repo, "backend").resolve()
    env = {k: v for k, v in coord_env.items() if not k.startswith("CLAUDE")}

    out, _err = hook(tree, env, "Edit", str(tree / "src/ui/settings.tsx"), "backend")
    assert out is not None
    spec = out["hookSpecificOutput"]
    assert spec["hookEventName"] == "PreToolUse" and spec["permissionDecision"] == "deny"
    assert "frontend" in spec["permissionDecisionReason"]
    assert "redesign of the settings page" in spec["permissionDecisionReason"]
    assert "src/ui/settings.tsx" in spec["permissionDecisionReason"]

    for tool in ("Write", "MultiEdit"):
        denied = hook(tree, env, tool, "src/ui/new.tsx", "backend")[0]
        assert denied is not None and denied["hookSpecificOutput"]["permissionDecision"] == "deny"
    # the same file reached through frontend's worktree or the main checkout is the same repository path
    assert hook(tree, env, "Edit", str(repo.resolve() / "src/ui/a.tsx"), "backend")[0] is not None
    assert hook(tree, env, "Edit", str(cwd_for(repo, "frontend").resolve() / "src/ui/a.tsx"), "backend")[0]

    free = [hook(tree, env, "Edit", str(tree / "api/orders.py"), "backend"),  # its own claim
            hook(tree, env, "Edit", str(tree / "src/other.py"), "backend"),  # unclaimed
            hook(tree, env, "Read", str(tree / "src/ui/settings.tsx"), "backend"),  # not an edit
            hook(tree, env, "Edit", "/tmp/elsewhere.txt", "backend")]  # outside the repository
    assert [f[0] for f in free] == [None] * 4  # no output: never "allow", Claude Code's own rules apply
    ftree = cwd_for(repo, "frontend").resolve()
    assert hook(ftree, env, "Edit", str(ftree / "src/ui/settings.tsx"), "frontend")[0] is None
    assert hook(ftree, env, "Edit", str(ftree / "api/x.py"), "frontend")[0] is not None


def test_pre_tool_use_when_redis_is_down(repo: Path, coord_env: dict[str, str]) -> None:
    tree = cwd_for(repo, "backend").resolve()
    env = {k: v for k, v in coord_env.items() if not k.startswith("CLAUDE")}
    env["COORD_REDIS_URL"] = f"redis://127.0.0.1:{free_port()}/0"
    out, _err = hook(tree, env, "Edit", str(tree / "src/a.py"), "backend")
    assert out is not None and "permissionDecision" not in json.dumps(out)
    assert "claims not checked" in out["systemMessage"]
    strict, _err = hook(tree, env, "Edit", str(tree / "src/a.py"), "backend", COORD_CLAIMS_WHEN_OFFLINE="deny")
    assert strict["hookSpecificOutput"]["permissionDecision"] == "deny"
    assert "claims_when_offline is deny" in strict["hookSpecificOutput"]["permissionDecisionReason"]


# -- the git pre-commit guard ---------------------------------------------------------------------------


def test_pre_commit_guard(repo: Path, coord_env: dict[str, str], valkey: ValkeyProcess,
                          namespace: str) -> None:
    env = clean_env(COORD_REDIS_URL=valkey.url, COORD_NAMESPACE=namespace, PATH=os.environ["PATH"])
    installed = run_coord(repo, "agent.guard", env=env)
    assert installed.returncode == 0, installed.stderr
    hook_file = Path(git(repo, "rev-parse", "--git-path", "hooks").stdout.strip())
    hook_file = (repo / hook_file / "pre-commit") if not hook_file.is_absolute() else hook_file / "pre-commit"
    assert os.access(hook_file, os.X_OK) and "coord pre-commit guard" in hook_file.read_text()
    assert run_coord(repo, "agent.guard", env=env).returncode == 0  # idempotent

    with store_for(repo) as store:
        live(store, "backend", "frontend")
        claim_store.claim(store, "frontend", ["web/**"], "new layout", None)
    tree = cwd_for(repo, "backend")
    (tree / "web").mkdir()
    (tree / "web" / "app.ts").write_text("x\n")
    (tree / "notes.md").write_text("n\n")
    git(tree, "add", "web/app.ts", "notes.md")
    refused = subprocess.run(["git", "commit", "-q", "-m", "both"], cwd=tree, env=env, capture_output=True, text=True,
                             timeout=60)
    assert refused.returncode != 0
    assert "web/app.ts" in refused.stderr and "frontend" in refused.stderr and "new layout" in refused.stderr
    assert "Traceback" not in refused.stderr
    # a partial commit of the unclaimed file goes through (the guard reads the commit's own index)
    partial = subprocess.run(["git", "commit", "-q", "-m", "notes", "--", "notes.md"], cwd=tree, env=env,
                             capture_output=True, text=True, timeout=60)
    assert partial.returncode == 0, partial.stderr
    # frontend itself may commit its claimed paths
    ftree = cwd_for(repo, "frontend")
    (ftree / "web").mkdir()
    (ftree / "web" / "app.ts").write_text("f\n")
    git(ftree, "add", "web/app.ts")
    own = subprocess.run(["git", "commit", "-q", "-m", "mine"], cwd=ftree, env=env, capture_output=True, text=True,
                         timeout=60)
    assert own.returncode == 0, own.stderr
    # Redis down: the default lets the commit through with a warning
    down = {**env, "COORD_REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"}
    offline = subprocess.run(["git", "commit", "-q", "-m", "offline"], cwd=tree, env=down, capture_output=True,
                             text=True, timeout=60)
    assert offline.returncode == 0 and "claims not checked" in offline.stderr

    removed = run_coord(repo, "agent.guard", "--remove", env=env)
    assert removed.returncode == 0 and not hook_file.exists()
    hook_file.write_text("#!/bin/sh\nexit 0\n")
    foreign = run_coord(repo, "agent.guard", env=env)
    assert foreign.returncode == 10 and "not coord's" in foreign.stderr
    assert hook_file.read_text() == "#!/bin/sh\nexit 0\n"  # someone else's hook is never overwritten


def test_claims_cli_lists_holders(repo: Path, coord_env: dict[str, str], valkey: ValkeyProcess,
                                  namespace: str) -> None:
    env = clean_env(COORD_REDIS_URL=valkey.url, COORD_NAMESPACE=namespace)
    assert run_coord(repo, "agent.claims", env=env).stdout.strip() == "no file claims"
    with store_for(repo) as store:
        live(store, "frontend")
        claim_store.claim(store, "frontend", ["web/**"], "new layout", None)
    table = run_coord(repo, "agent.claims", env=env).stdout.splitlines()
    assert table[0].split()[:4] == ["PATTERN", "HOLDER", "STATUS", "LEFT"]
    assert table[1].split()[:3] == ["web/**", "frontend", "live"] and table[1].endswith("new layout")
    data = json.loads(run_coord(repo, "agent.claims", "--json", env=env).stdout)
    assert data["claims"][0]["role"] == "frontend"
    down = run_coord(repo, "agent.claims", env={**env, "COORD_REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"})
    assert down.returncode == StoreUnavailableError.exit_code
