"""`coord agent.merge` closing the loop and `coord agent.sync`, as a user runs them (subprocess)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from coord import worktree
from coord.keys import Keys
from tests.conftest import ValkeyProcess, free_port, git
from tests.integration.test_worktree_support import clean_env, commit_file, head, run_coord, ws

pytestmark = pytest.mark.integration


@pytest.fixture
def r(valkey: ValkeyProcess) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(valkey.url, decode_responses=True)
    yield client
    client.close()


@pytest.fixture
def env(valkey: ValkeyProcess, namespace: str) -> dict[str, str]:
    return clean_env(COORD_REDIS_URL=valkey.url, COORD_NAMESPACE=namespace)


def setup(repo: Path, *roles: str) -> dict[str, Path]:
    commit_file(repo, ".gitignore", "/.worktrees/\n")
    paths, config = ws(repo)
    return {role: worktree.setup(paths, config, role).path for role in roles}


def test_merge_tells_the_role_and_acknowledges_its_merge_ready(git_repo: Path, env: dict[str, str],
                                                               r: redis.Redis, namespace: str) -> None:
    trees = setup(git_repo, "backend", "qa")
    commit_file(trees["backend"], "api.py", "api\n")
    commit_file(trees["qa"], "api.py", "qa's api\n")
    sent = run_coord(trees["backend"], "msg.send", "pm", "MERGE_READY", "agent/backend/active ready", env=env)
    assert sent.returncode == 0, sent.stderr
    keys = Keys(namespace)
    assert list(r.hgetall(keys.pending("pm")).values()) == ["MERGE_READY"]
    r.hset(keys.presence, "qa", '{"role":"qa","session_id":"s-qa","worktree_path":"/x","registered_at":1,'
                                 '"last_heartbeat":1,"status":"active"}')  # not live (stale): gets nothing
    proc = run_coord(git_repo, "agent.merge", "backend", env=env)
    assert proc.returncode == 0, proc.stderr
    assert "fast-forwarded main" in proc.stdout
    assert "notices: told backend it was merged; acknowledged 1 MERGE_READY from backend" in proc.stdout
    assert list(r.hgetall(keys.pending("pm")).values()) == ["INFO"]  # MERGE_READY gone; the summary waits
    [(_id, notice)] = r.xrange(keys.inbox("backend"))
    assert notice["type"] == "INFO" and head(git_repo)[:8] in notice["body"] and "into main" in notice["body"]
    assert r.xrange(keys.inbox("qa")) == []


def test_merge_with_redis_down_still_merges_and_warns(git_repo: Path) -> None:
    trees = setup(git_repo, "backend")
    tip = commit_file(trees["backend"], "api.py", "api\n")
    proc = run_coord(git_repo, "agent.merge", "backend", env=clean_env(COORD_REDIS_URL=f"redis://127.0.0.1:{free_port()}/0"))
    assert proc.returncode == 0, proc.stderr
    assert head(git_repo) == tip
    assert "coord: warning: merge notices not sent: " in proc.stderr


def test_sync_from_inside_the_worktree_needs_no_role(git_repo: Path) -> None:
    trees = setup(git_repo, "backend")
    tip = commit_file(git_repo, "docs.md", "docs\n")
    proc = run_coord(trees["backend"], "agent.sync")
    assert proc.returncode == 0, proc.stderr
    assert f"fast-forwarded agent/backend/active to main ({tip[:8]}, 1 commit)" in proc.stdout
    assert head(trees["backend"]) == tip
    again = run_coord(trees["backend"], "agent.sync")
    assert again.returncode == 0 and "nothing to do" in again.stdout


def test_sync_merge_commit_by_the_agent(git_repo: Path) -> None:
    trees = setup(git_repo, "backend")
    commit_file(trees["backend"], "api.py", "api\n")
    commit_file(git_repo, "docs.md", "docs\n")
    proc = run_coord(git_repo, "agent.sync", "--role", "backend")
    assert proc.returncode == 0, proc.stderr
    assert "merged main into agent/backend/active with merge commit" in proc.stdout
    assert git(trees["backend"], "log", "-1", "--format=%ae").stdout.strip() == "backend@coord.invalid"


def test_sync_conflict_exit_1_files_listed_nothing_changed(git_repo: Path) -> None:
    trees = setup(git_repo, "backend")
    commit_file(trees["backend"], "README.md", "backend's\n")
    commit_file(git_repo, "README.md", "main's\n")
    before = head(trees["backend"])
    proc = run_coord(trees["backend"], "agent.sync")
    assert proc.returncode == 1, proc.stderr
    assert "CONFLICT README.md" in proc.stderr and "git merge main" in proc.stderr
    assert head(trees["backend"]) == before and git(trees["backend"], "status", "--porcelain").stdout == ""


def test_sync_dirty_exit_4(git_repo: Path) -> None:
    trees = setup(git_repo, "backend")
    commit_file(git_repo, "docs.md", "docs\n")
    (trees["backend"] / "README.md").write_text("work in progress\n")
    before = head(trees["backend"])
    proc = run_coord(trees["backend"], "agent.sync")
    assert proc.returncode == 4, proc.stderr
    assert "uncommitted changes" in proc.stderr and "README.md" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert head(trees["backend"]) == before and (trees["backend"] / "README.md").read_text() == "work in progress\n"


def test_sync_refuses_another_agents_worktree_and_the_main_role(git_repo: Path) -> None:
    trees = setup(git_repo, "backend", "qa")
    commit_file(git_repo, "docs.md", "docs\n")
    before = head(trees["backend"])
    other = run_coord(trees["qa"], "agent.sync", "--role", "backend")
    assert other.returncode == 6, other.stderr
    assert head(trees["backend"]) == before
    main = run_coord(git_repo, "agent.sync")
    assert main.returncode == 2 and "coord agent.sync --role ROLE" in main.stderr


def test_teardown_merge_closes_the_loop_too(git_repo: Path, env: dict[str, str], r: redis.Redis,
                                           namespace: str) -> None:
    trees = setup(git_repo, "backend")
    commit_file(trees["backend"], "api.py", "api\n")
    proc = run_coord(git_repo, "agent.teardown", "backend", "--merge", env=env)
    assert proc.returncode == 0, proc.stderr
    assert "notices: told backend it was merged" in proc.stdout
    assert any(f["type"] == "INFO" and "was merged into main" in f["body"]
               for _id, f in r.xrange(Keys(namespace).inbox("backend")))
