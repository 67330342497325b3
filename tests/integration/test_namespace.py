"""The default namespace is the project (root commit), not the path; older data is carried over.
Real git repositories, a real Valkey, redis-py to look at what is stored."""

from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path

import pytest
import redis

from coord import claim_store
from coord.config import load_config
from coord.keys import Keys
from coord.namespace import legacy_namespace, resolve
from coord.repo import find_repo
from coord.store import Store, open_store
from tests.conftest import ValkeyProcess, git, make_project

pytestmark = pytest.mark.integration

project = make_project


def store_at(repo: Path, valkey: ValkeyProcess) -> Store:
    paths = find_repo(repo)
    return open_store(paths, load_config(paths.main_root, {"COORD_REDIS_URL": valkey.url}))


def legacy_store(repo: Path, valkey: ValkeyProcess) -> Store:
    """What coord 0.1 opened: the path-derived namespace."""
    paths = find_repo(repo)
    ns = legacy_namespace(paths.main_root, paths.common_dir)
    return Store(valkey.url, ns, load_config(paths.main_root, {}))


def test_every_clone_shares_the_namespace_and_another_project_at_the_same_path_does_not(tmp_path: Path) -> None:
    origin = project(tmp_path / "origin")
    git(tmp_path, "clone", "-q", str(origin), str(tmp_path / "machine-b" / "elsewhere"))
    a, b = resolve(find_repo(origin)), resolve(find_repo(tmp_path / "machine-b" / "elsewhere"))
    assert a.namespace == b.namespace and a.namespace.startswith("p-")
    git(origin, "worktree", "add", "-q", "-b", "w", str(origin / "wt"))
    assert resolve(find_repo(origin / "wt")).namespace == a.namespace

    shutil.rmtree(origin)
    other = project(tmp_path / "origin")  # a different project, same path, same folder name
    assert resolve(find_repo(other)).namespace != a.namespace


def test_a_merged_unrelated_history_does_not_change_the_choice(tmp_path: Path) -> None:
    repo = project(tmp_path / "repo")
    before = resolve(find_repo(repo)).namespace
    other = project(tmp_path / "other")
    git(repo, "fetch", "-q", str(other), "main:other")
    git(repo, "merge", "-q", "--allow-unrelated-histories", "-m", "join", "other")
    (find_repo(repo).state_dir / "namespace.json").unlink()  # a fresh clone computes it again
    assert resolve(find_repo(repo)).namespace == before


def test_a_moved_folder_keeps_its_namespace_and_its_mail(tmp_path: Path, valkey: ValkeyProcess) -> None:
    repo = project(tmp_path / "repo")
    with store_at(repo, valkey) as store:
        store.publish("pm", "backend", "TASK_ASSIGNMENT", "before the move")
    moved = tmp_path / "renamed" / "project"
    moved.parent.mkdir()
    repo.rename(moved)
    with store_at(moved, valkey) as store:
        assert [m.body for m in store.check("backend").messages] == ["before the move"]
    (find_repo(moved).state_dir / "namespace.json").unlink()  # even without the cached choice
    with store_at(moved, valkey) as store:
        assert [m.body for m in store.check("backend").messages] == ["before the move"]


def test_upgrade_carries_pending_messages_presence_and_claims(tmp_path: Path, valkey: ValkeyProcess) -> None:
    repo = project(tmp_path / "repo")
    r = redis.Redis.from_url(valkey.url, decode_responses=True)
    with legacy_store(repo, valkey) as old:
        old.register("backend", "s-backend", "/x/backend")
        old.register("frontend", "s-frontend", "/x/frontend")
        claim_store.claim(old, "frontend", ["src/ui/**"], "restyling", 600)
        sent = [old.publish("pm", "backend", "TASK_ASSIGNMENT", f"task {i}").ids["backend"] for i in range(5)]
        old.ack("backend", sent[:2])  # read before the upgrade: stays read
        old.publish("pm", "all", "INFO", "to everyone")
        old_ns = old.namespace
    ttl_before = r.pttl(Keys(old_ns).alive("backend"))

    with store_at(repo, valkey) as new:
        assert new.namespace != old_ns and new.namespace.startswith("p-")
        pending = new.check("backend").messages
        assert [m.body for m in pending] == ["task 2", "task 3", "task 4", "to everyone"]
        assert [m.id for m in pending[:3]] == sent[2:]  # ids kept: acks of ids seen before still work
        views = {v.role: v for v in new.presence()}
        assert views["backend"].status == "active" and views["backend"].session_id == "s-backend"
        assert views["frontend"].status == "active"
        assert 0 < r.pttl(Keys(new.namespace).alive("backend")) <= ttl_before
        assert [c.pattern for c in claim_store.read(new).claims] == ["src/ui/**"]
        assert claim_store.find_blocking(new, "backend", ["src/ui/a.css"]) is not None
        assert new.check("frontend").total == 1
        # the old keys are still there (the way back), and the carry-over is recorded
        assert r.hlen(Keys(old_ns).pending("backend")) == 4
        assert r.smembers(Keys(new.namespace).carried) == {old_ns}
    state = json.loads((find_repo(repo).state_dir / "namespace.json").read_text())
    assert state["carry"] == []
    with store_at(repo, valkey) as again:  # a second open carries nothing twice
        assert again.check("backend").total == 4


def test_carry_over_merges_into_a_namespace_another_clone_already_uses(tmp_path: Path, valkey: ValkeyProcess) -> None:
    origin = project(tmp_path / "a")
    clone = tmp_path / "b"
    git(tmp_path, "clone", "-q", str(origin), str(clone))
    with store_at(origin, valkey) as a:  # clone a upgraded first and is in use
        a.register("backend", "s-a", "/a/backend")
        first = a.publish("pm", "backend", "TASK_ASSIGNMENT", "from a").ids["backend"]
    with legacy_store(clone, valkey) as old:  # clone b still has data under its old namespace
        old.register("backend", "s-b-old", "/b/backend")
        old.register("qa", "s-qa", "/b/qa")
        old.publish("pm", "backend", "TASK_ASSIGNMENT", "from b, before the upgrade")
        old.publish("qa", "backend", "QUESTION", "also from b")

    def carry() -> None:
        with store_at(clone, valkey) as store:
            store.ping()
            store.check("backend")

    racers = [threading.Thread(target=carry) for _ in range(4)]  # first users racing: carried once
    for t in racers:
        t.start()
    for t in racers:
        t.join()
    with store_at(clone, valkey) as b:
        got = b.check("backend").messages
        assert sorted(m.body for m in got) == ["also from b", "from a", "from b, before the upgrade"]
        assert first in [m.id for m in got]
        views = {v.role: v for v in b.presence()}
        assert views["backend"].session_id == "s-a"  # the live record already there wins
        assert views["qa"].session_id == "s-qa"


def test_a_repository_without_commits_gets_a_stable_namespace_carried_at_the_first_commit(
    tmp_path: Path, valkey: ValkeyProcess
) -> None:
    repo = tmp_path / "fresh"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    git(repo, "config", "user.email", "h@example.com")
    git(repo, "config", "user.name", "H")
    with store_at(repo, valkey) as early:
        unborn = early.namespace
        assert unborn.startswith("u-")
        early.publish("pm", "backend", "TASK_ASSIGNMENT", "written before the first commit")
    assert resolve(find_repo(repo)).namespace == unborn  # stable
    (repo / "f").write_text("x\n")
    git(repo, "add", "f")
    git(repo, "commit", "-q", "-m", "first")
    with store_at(repo, valkey) as born:
        assert born.namespace.startswith("p-")
        assert [m.body for m in born.check("backend").messages] == ["written before the first commit"]
