"""`coord status --json` on real worktrees, a real Valkey and real presence: dirty, ahead/behind,
unread, last status, claims and conflicts from the radar cache, in one Redis round trip."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import pytest

from coord import claim_store
from coord.team.gather import gather
from tests.conftest import ValkeyProcess, free_port, git
from tests.integration.test_conflicts import Team, edited
from tests.integration.test_worktree_support import clean_env, commit_file, run_coord

pytestmark = pytest.mark.integration


@pytest.fixture
def team(git_repo, coord_env) -> Iterator[Team]:
    yield Team(git_repo)


def by_role(stdout: str) -> dict[str, dict[str, object]]:
    data = json.loads(stdout)
    assert list(data) == ["agents"]
    return {a["role"]: a for a in data["agents"]}


def test_status_json_on_real_worktrees_and_presence(team: Team, valkey: ValkeyProcess, namespace: str) -> None:
    env = clean_env(COORD_REDIS_URL=valkey.url, COORD_NAMESPACE=namespace, COORD_HOST="box-1")
    commit_file(team.repo, "main-only.txt", "main moved on\n")  # every agent is now 1 behind
    (team.trees["frontend"] / "scratch.txt").write_text("not committed\n")
    with team.store() as store:
        store.register("backend", "s-backend", str(team.trees["backend"]))
        store.register("frontend", "s-frontend", str(team.trees["frontend"]))
        store.deregister("frontend", "s-frontend")
        store.publish("pm", "backend", "TASK_ASSIGNMENT", "build the api")
        store.publish("pm", "backend", "QUESTION", "eta?")
        store.publish("backend", "pm", "STATUS_UPDATE", "api half done\nmore detail")
        store.publish("backend", "all", "STATUS_UPDATE", "api done")
        claim_store.claim(store, "backend", ["src/api/**"], "api work")
    before = run_coord(team.repo, "status", "--json", env=env)
    assert before.returncode == 0, before.stderr
    assert all(a["conflicts_with"] == [] for a in by_role(before.stdout).values())  # radar cache still empty
    assert run_coord(team.repo, "agent.conflicts", env=env).returncode == 0  # fills the cache

    done = run_coord(team.repo, "status", "--json", env=env)
    assert done.returncode == 0 and done.stderr == "", done.stderr
    rows = by_role(done.stdout)
    assert list(rows) == list(team.config.roles)
    backend, frontend, devops, pm = rows["backend"], rows["frontend"], rows["devops"], rows["pm"]
    assert list(backend) == ["role", "presence", "activity", "host", "branch", "ahead", "behind", "dirty", "unread",
                             "last_status", "claims", "conflicts_with"]
    assert backend["presence"] == "active" and frontend["presence"] == "inactive" and devops["presence"] == "absent"
    assert backend["activity"]["state"] == "idle"  # registered, no prompt yet: waits at its prompt
    assert backend["activity"]["seconds"] >= 0
    assert backend["host"] == socket.gethostname()  # where its session registered (the store records it)
    assert (backend["branch"], backend["ahead"], backend["behind"], backend["dirty"]) == \
        ("agent/backend/active", 1, 1, False)
    assert frontend["dirty"] is True and devops["dirty"] is False
    assert backend["unread"] == 2 and pm["unread"] == 2 and frontend["unread"] == 1
    assert backend["last_status"]["text"] == "api done" and backend["last_status"]["seconds"] >= 0
    assert pm["last_status"] is None
    assert backend["claims"] == ["src/api/**"]
    assert backend["conflicts_with"] == ["frontend"] and frontend["conflicts_with"] == ["backend"]
    assert devops["conflicts_with"] == []
    assert pm["branch"] == "main" and pm["ahead"] == 0
    assert pm["dirty"] is True  # agent.setup added the worktree folder to .gitignore, uncommitted

    table = run_coord(team.repo, "status", env=env).stdout.splitlines()
    assert table[0].split()[:3] == ["ROLE", "PRESENCE", "ACTIVITY"]
    line = next(ln for ln in table if ln.startswith("backend"))
    assert "active" in line and "+1/-1" in line and "src/api/**" in line and "api done" in line


def test_one_round_trip_once_counts_are_cached(team: Team) -> None:
    with team.store() as store:
        start = store.round_trips
        first = gather(team.paths, team.config, store)
        after_first = store.round_trips
        second = gather(team.paths, team.config, store)
        assert store.round_trips - after_first == 1  # everything stored, in one pipeline
        assert after_first - start <= 2  # plus writing the new ahead/behind counts, once
    assert [r.to_json() for r in first.rows] == [r.to_json() for r in second.rows]
    backend = next(r for r in second.rows if r.role == "backend")
    assert (backend.ahead, backend.behind) == (1, 0)


def test_new_commits_are_counted_again(team: Team) -> None:
    with team.store() as store:
        gather(team.paths, team.config, store)
        tree = team.trees["devops"]
        (tree / "more.txt").write_text("x\n")
        git(tree, "add", "more.txt")
        git(tree, "commit", "-q", "-m", "more")
        devops = next(r for r in gather(team.paths, team.config, store).rows if r.role == "devops")
    assert (devops.ahead, devops.behind) == (2, 0)


def test_status_without_redis_still_shows_git(team: Team) -> None:
    (team.trees["devops"] / "other.txt").write_text(edited(1, "dirty"))
    env = clean_env(COORD_REDIS_URL=f"redis://127.0.0.1:{free_port()}/0")
    done = run_coord(team.repo, "status", "--json", env=env)
    assert done.returncode == 0
    assert "warning" in done.stderr and "unknown" in done.stderr
    rows = by_role(done.stdout)
    assert {r["presence"] for r in rows.values()} == {"unknown"}
    assert rows["devops"]["dirty"] is True and rows["backend"]["ahead"] == 1 and rows["backend"]["unread"] is None
