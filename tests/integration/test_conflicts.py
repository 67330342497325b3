"""The conflict radar on real git (three agent worktrees made by coord) and a real Valkey.

Merges are counted by wrapping the real merge function (every call still runs git), so "cache
hit" means git was not asked, not that a number was reported.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from coord import radar, worktree
from coord.config import Config, load_config
from coord.conflicts import CLEAN, CONFLICT, TOUCH, MergeFacts, fingerprint
from coord.keys import Keys
from coord.repo import RepoPaths, find_repo
from coord.store import Store, open_store
from tests.conftest import ValkeyProcess, git
from tests.integration.test_worktree_support import clean_env, commit_file, run_coord

pytestmark = pytest.mark.integration

LINES = [f"line {i}\n" for i in range(1, 31)]


def edited(at: int, text: str) -> str:
    lines = list(LINES)
    lines[at - 1] = text + "\n"
    return "".join(lines)


class Counting:
    """The real merge, counted."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def __call__(self, repo: Path, a: str, b: str) -> MergeFacts:
        self.calls.append((a, b))
        return radar.merge_facts(repo, a, b)


class Team:
    """A repository with backend, frontend and devops worktrees set up by coord:
    backend and frontend change the same line of shared.py (conflict); backend and devops change
    other.txt in different places (touch); frontend and devops share nothing (clean)."""

    def __init__(self, repo: Path) -> None:
        commit_file(repo, "shared.py", "".join(LINES))
        commit_file(repo, "other.txt", "".join(LINES))
        self.repo = repo
        self.paths: RepoPaths = find_repo(repo)
        self.config: Config = load_config(repo)
        self.trees = {r: worktree.setup(self.paths, self.config, r).path for r in ("backend", "frontend", "devops")}
        self.tips = {
            "backend": self.commit("backend", {"shared.py": edited(5, "backend 5"), "other.txt": edited(3, "b 3")}),
            "frontend": self.commit("frontend", {"shared.py": edited(5, "frontend 5")}),
            "devops": self.commit("devops", {"other.txt": edited(27, "d 27")}),
        }

    def commit(self, role: str, files: dict[str, str]) -> str:
        tree = self.trees[role]
        for name, text in files.items():
            (tree / name).write_text(text)
            git(tree, "add", name)
        git(tree, "commit", "-q", "-m", f"{role} work")
        return git(tree, "rev-parse", "HEAD").stdout.strip()

    def store(self) -> Store:
        return open_store(self.paths, self.config)


@pytest.fixture
def team(git_repo: Path, coord_env: dict[str, str]) -> Iterator[Team]:
    yield Team(git_repo)


@pytest.fixture
def r(valkey: ValkeyProcess) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(valkey.url, decode_responses=True)
    yield client
    client.close()


def live(store: Store, *roles: str) -> None:
    for role in roles:
        store.register(role, f"session-{role}", f"/x/{role}")


def by_pair(report: radar.RadarReport) -> dict[tuple[str, str], radar.PairResult]:
    return {(res.pair.a.role, res.pair.b.role): res for res in report.results}


def warnings(r: redis.Redis, keys: Keys, role: str) -> list[dict[str, str]]:
    return [f for _id, f in r.xrange(keys.inbox(role)) if f["type"] == "CONFLICT_WARNING"]


def test_three_agents_conflict_touch_clean_and_both_warned_once(team: Team, r: redis.Redis, namespace: str) -> None:
    keys = Keys(namespace)
    merges = Counting()
    with team.store() as store:
        live(store, "backend", "frontend", "devops")
        report = radar.run(team.paths, team.config, store, merger=merges)
    pairs = by_pair(report)
    assert set(pairs) == {("pm", "backend"), ("pm", "devops"), ("pm", "frontend"), ("backend", "devops"),
                          ("backend", "frontend"), ("devops", "frontend")}
    assert pairs[("backend", "frontend")].status == CONFLICT
    assert pairs[("backend", "frontend")].conflicted == ("shared.py",)
    assert pairs[("backend", "devops")].status == TOUCH and pairs[("backend", "devops")].touched == ("other.txt",)
    assert pairs[("devops", "frontend")].status == CLEAN
    assert all(pairs[("pm", role)].status == CLEAN for role in ("backend", "frontend", "devops"))
    assert report.computed == len(merges.calls) == 6 and report.cached == 0
    # nothing was touched in any checkout
    for tree in team.trees.values():
        assert git(tree, "status", "--porcelain").stdout == ""
    assert git(team.repo, "status", "--porcelain").stdout == "?? .gitignore\n"

    for me, other in (("backend", "frontend"), ("frontend", "backend")):
        got = warnings(r, keys, me)
        assert len(got) == 1, got
        assert got[0]["sender"] == "coord" and got[0]["recipient"] == me
        assert other in got[0]["body"] and "shared.py" in got[0]["body"]
        assert f"agent/{me}/active" in got[0]["body"]
        assert r.hget(keys.pending(me), next(i for i, f in r.xrange(keys.inbox(me)))) == "CONFLICT_WARNING"
    assert warnings(r, keys, "devops") == [] and warnings(r, keys, "pm") == []
    assert r.smembers(keys.warned) == {fingerprint("backend", "frontend", ["shared.py"])}

    # a rerun with no new commit: every pair from the cache, no git merge, no second warning
    with team.store() as store:
        again = radar.run(team.paths, team.config, store, merger=merges)
    assert len(merges.calls) == 6 and again.computed == 0 and again.cached == 6
    assert [x.to_dict() | {"cached": True} for x in again.results] == \
        [x.to_dict() | {"cached": True} for x in report.results]
    assert len(warnings(r, keys, "backend")) == 1 and len(warnings(r, keys, "frontend")) == 1

    # a new commit on devops re-merges exactly devops' three pairs
    team.commit("devops", {"notes.md": "devops notes\n"})
    with team.store() as store:
        third = radar.run(team.paths, team.config, store, merger=merges)
    assert third.computed == 3 and len(merges.calls) == 9
    assert sorted({frozenset(c) for c in merges.calls[6:]}, key=sorted) == sorted(
        {frozenset((team.tips[o] if o != "pm" else git(team.repo, "rev-parse", "main").stdout.strip(),
                    git(team.trees["devops"], "rev-parse", "HEAD").stdout.strip()))
         for o in ("pm", "backend", "frontend")}, key=sorted)
    assert len(warnings(r, keys, "backend")) == 1  # same conflict: still warned once


def test_only_live_agents_are_warned_and_a_returning_agent_is(team: Team, r: redis.Redis, namespace: str) -> None:
    keys = Keys(namespace)
    with team.store() as store:
        live(store, "backend")
        first = radar.run(team.paths, team.config, store)
        assert by_pair(first)[("backend", "frontend")].status == CONFLICT and first.warned == []
        assert warnings(r, keys, "backend") == [] and r.scard(keys.warned) == 0
        live(store, "frontend")
        second = radar.run(team.paths, team.config, store)
    assert second.computed == 0 and len(second.warned) == 1
    assert len(warnings(r, keys, "backend")) == 1 and len(warnings(r, keys, "frontend")) == 1


def test_resolved_conflict_is_forgotten_and_a_new_one_warns_again(team: Team, r: redis.Redis, namespace: str) -> None:
    keys = Keys(namespace)
    with team.store() as store:
        live(store, "backend", "frontend")
        radar.run(team.paths, team.config, store)
        team.commit("frontend", {"shared.py": edited(5, "backend 5")})  # frontend adopts backend's line
        calm = radar.run(team.paths, team.config, store)
        assert by_pair(calm)[("backend", "frontend")].status != CONFLICT
        assert r.scard(keys.warned) == 0
        team.commit("frontend", {"shared.py": edited(5, "frontend again")})
        back = radar.run(team.paths, team.config, store)
    assert by_pair(back)[("backend", "frontend")].status == CONFLICT and len(back.warned) == 1
    assert len(warnings(r, keys, "backend")) == 2


def test_own_pairs_only_and_concurrent_announcers_warn_once(team: Team, r: redis.Redis, namespace: str) -> None:
    keys = Keys(namespace)
    with team.store() as store, team.store() as other:
        live(store, "backend", "frontend")
        mine = radar.run(team.paths, team.config, store, only="frontend", warn=False)
        assert {(x.pair.a.role, x.pair.b.role) for x in mine.results} == \
            {("pm", "frontend"), ("backend", "frontend"), ("devops", "frontend")}
        plan = radar.plan_warnings(mine.results, {"backend", "frontend"}, set())
        assert len(plan.send) == 1
        assert radar._announce(store, plan) == [plan.send[0].fingerprint]
        assert radar._announce(other, plan) == []  # a second radar with the same news says nothing
    assert len(warnings(r, keys, "backend")) == 1 and len(warnings(r, keys, "frontend")) == 1


def test_without_redis_pairs_are_still_compared(team: Team) -> None:
    report = radar.run(team.paths, team.config, None)
    assert by_pair(report)[("backend", "frontend")].status == CONFLICT and report.computed == 6
    down = Store("redis://127.0.0.1:1/0", "x", team.config, timeout=0.5)
    report = radar.run(team.paths, team.config, down)
    assert report.store_error and by_pair(report)[("backend", "frontend")].status == CONFLICT


def test_agent_conflicts_cli_and_agent_list_column(team: Team, valkey: ValkeyProcess, namespace: str) -> None:
    env = clean_env(COORD_REDIS_URL=valkey.url, COORD_NAMESPACE=namespace)
    shown = run_coord(team.repo, "agent.conflicts", "--json", env=env)
    assert shown.returncode == 0, shown.stderr
    data = json.loads(shown.stdout)
    statuses = {(p["a"], p["b"]): p["status"] for p in data["pairs"]}
    assert statuses[("backend", "frontend")] == "conflict" and statuses[("backend", "devops")] == "touch"
    assert data["computed"] == 6
    rerun = json.loads(run_coord(team.repo, "agent.conflicts", "--json", env=env).stdout)
    assert rerun["computed"] == 0 and rerun["cached"] == 6

    table = run_coord(team.trees["devops"], "agent.conflicts", env=env)
    assert table.returncode == 0
    row = next(ln for ln in table.stdout.splitlines() if ln.startswith("backend") and "frontend" in ln)
    assert row.split()[:4] == ["backend", "frontend", "conflict", "shared.py"]

    listed = json.loads(run_coord(team.repo, "agent.list", "--json", env=env).stdout)
    with_whom = {a["role"]: a["conflicts_with"] for a in listed}
    assert with_whom == {"backend": ["frontend"], "devops": [], "frontend": ["backend"]}
    text = run_coord(team.repo, "agent.list", env=env).stdout.splitlines()
    assert text[0].split()[-1] == "CONFLICTS"
    assert next(ln for ln in text if ln.startswith("frontend")).split()[-1] == "backend"
    assert os.environ.get("COORD_NAMESPACE") == namespace


def test_mcp_background_check_announces_without_anyone_asking(team: Team, r: redis.Redis, namespace: str) -> None:
    from coord.mcp_service import Service

    keys = Keys(namespace)
    env = {k: v for k, v in os.environ.items() if k.startswith("COORD_")}
    services = {role: Service({**env, "CLAUDE_INSTANCE_ID": role, "CLAUDE_CODE_SESSION_ID": f"s-{role}"},
                              team.trees[role]) for role in ("backend", "frontend")}
    try:
        for svc in services.values():
            assert svc.problem is None, svc.problem
            svc.register()
        services["backend"].radar_tick()
        services["frontend"].radar_tick()  # the same news from the other side: nothing new to say
    finally:
        for svc in services.values():
            svc.close()
    assert len(warnings(r, keys, "backend")) == 1 and len(warnings(r, keys, "frontend")) == 1
    # backend's three pairs and frontend's two others: the pair they share was merged once, by backend
    assert r.hlen(keys.conflicts) == 5
