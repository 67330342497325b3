"""The merge loop on real git and a real Valkey: after agent.merge, MERGE_READY is acknowledged,
the merged role is told, every other live agent gets one base-moved notice with the right count
and conflict flag, and the radar does not announce the same collision again."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from coord import radar, worktree
from coord.config import load_config
from coord.conflicts import fingerprint
from coord.keys import Keys
from coord.merge_notices import MergeEvent
from coord.merge_notifier import announce_merge, moved_by
from coord.repo import find_repo
from coord.store import open_store
from tests.conftest import ValkeyProcess
from tests.integration.test_worktree_support import commit_file, head, ws

pytestmark = pytest.mark.integration


@pytest.fixture
def r(valkey: ValkeyProcess) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(valkey.url, decode_responses=True)
    yield client
    client.close()


def inbox(r: redis.Redis, keys: Keys, role: str) -> list[dict[str, str]]:
    return [f for _id, f in r.xrange(keys.inbox(role))]


def pending_types(r: redis.Redis, keys: Keys, role: str) -> dict[str, str]:
    return r.hgetall(keys.pending(role))


class Team:
    """backend, qa and frontend worktrees; qa's branch edits README.md (which backend also edits:
    after backend's merge, qa conflicts with main); frontend's branch is clean against it."""

    def __init__(self, repo: Path) -> None:
        self.repo = repo
        self.paths, self.config = find_repo(repo), load_config(repo)  # COORD_* of coord_env
        roles = ("backend", "qa", "frontend")
        self.trees = {role: worktree.setup(self.paths, self.config, role).path for role in roles}
        commit_file(self.trees["backend"], "README.md", "backend's readme\n")
        commit_file(self.trees["backend"], "api.py", "api\n")
        commit_file(self.trees["qa"], "README.md", "qa's readme\n")
        commit_file(self.trees["frontend"], "ui.js", "ui\n")

    def merge(self, role: str = "backend") -> tuple[worktree.MergeResult, MergeEvent]:
        previous = head(self.repo)
        result = worktree.merge(self.paths, self.config, role)
        event = MergeEvent(result.role, result.branch, result.base, result.kind, result.commit,
                           moved_by(self.paths, previous, result.commit), self.config.main_role)
        return result, event


@pytest.fixture
def team(git_repo: Path, coord_env: dict[str, str]) -> Team:
    commit_file(git_repo, ".gitignore", "/.worktrees/\n")
    return Team(git_repo)


def test_merge_acknowledges_notifies_and_counts(team: Team, r: redis.Redis, namespace: str) -> None:
    keys = Keys(namespace)
    with open_store(team.paths, team.config) as store:
        for role in ("pm", "qa", "frontend"):
            store.register(role, f"s-{role}", f"/x/{role}")
        mine = store.publish("backend", "pm", "MERGE_READY", "agent/backend/active is ready").ids["pm"]
        other = store.publish("qa", "pm", "MERGE_READY", "qa is ready too").ids["pm"]
        question = store.publish("backend", "pm", "QUESTION", "and then?").ids["pm"]
        to_qa = store.publish("backend", "qa", "MERGE_READY", "not for pm").ids["qa"]
    result, event = team.merge()
    assert result.kind == "fast-forward" and event.moved == 2
    report = announce_merge(team.paths, team.config, event)
    assert report.sent and report.warnings == [] and report.acknowledged == 1

    # only backend's MERGE_READY, only in the main role's inbox
    assert set(pending_types(r, keys, "pm")) >= {other, question} and mine not in pending_types(r, keys, "pm")
    assert to_qa in pending_types(r, keys, "qa")

    merged = inbox(r, keys, "backend")
    assert len(merged) == 1 and merged[0]["type"] == "INFO" and merged[0]["sender"] == "coord"
    assert "agent/backend/active was merged into main" in merged[0]["body"] and result.commit[:8] in merged[0]["body"]

    qa = [m for m in inbox(r, keys, "qa") if m["sender"] == "coord"]
    assert len(qa) == 1 and qa[0]["type"] == "CONFLICT_WARNING"
    assert "main moved 2 commits" in qa[0]["body"] and "README.md" in qa[0]["body"]
    assert "coord agent.sync" in qa[0]["body"]
    fe = [m for m in inbox(r, keys, "frontend") if m["sender"] == "coord"]
    assert len(fe) == 1 and fe[0]["type"] == "INFO"
    assert "moved 2 commits" in fe[0]["body"] and "cleanly" in fe[0]["body"]
    pm = [m for m in inbox(r, keys, "pm") if m["sender"] == "coord"]
    assert len(pm) == 1 and "qa (README.md)" in pm[0]["body"]
    assert r.smembers(keys.warned) == {fingerprint("pm", "qa", ["README.md"])}

    # the radar (qa's MCP server, the next heartbeat) does not announce the same collision again
    with open_store(team.paths, team.config) as store:
        later = radar.run(team.paths, team.config, store, only="qa")
    assert later.warned == []
    assert len([m for m in inbox(r, keys, "qa") if m["type"] == "CONFLICT_WARNING"]) == 1


def test_a_merge_commit_counts_itself_and_inactive_agents_get_nothing(team: Team, r: redis.Redis,
                                                                      namespace: str) -> None:
    keys = Keys(namespace)
    commit_file(team.repo, "docs.md", "docs\n")
    with open_store(team.paths, team.config) as store:
        store.register("frontend", "s-fe", "/x/fe")
        store.register("qa", "s-qa", "/x/qa")
        store.deregister("qa", "s-qa")  # qa ended its session: inactive
    result, event = team.merge()
    assert result.kind == "merge" and event.moved == 3  # backend's two commits and the merge commit
    report = announce_merge(team.paths, team.config, event)
    assert report.sent
    assert inbox(r, keys, "qa") == []
    fe = inbox(r, keys, "frontend")
    assert len(fe) == 1 and "moved 3 commits" in fe[0]["body"]
    assert "coord agent.sync" in inbox(r, keys, "backend")[0]["body"]  # its branch lacks the merge commit


def test_redis_down_the_merge_stands_and_the_report_says_notices_were_not_sent(team: Team) -> None:
    from tests.conftest import free_port

    paths, config = ws(team.repo, COORD_REDIS_URL=f"redis://127.0.0.1:{free_port()}/0")
    previous = head(team.repo)
    result = worktree.merge(paths, config, "backend")
    event = MergeEvent(result.role, result.branch, result.base, result.kind, result.commit,
                       moved_by(paths, previous, result.commit), config.main_role)
    report = announce_merge(paths, config, event)
    assert not report.sent and len(report.warnings) == 1
    assert report.warnings[0].startswith("merge notices not sent: ")
    assert head(team.repo) == result.commit
