"""Claude Code's worktrees through coord (coord.claude_worktree, coord.adhoc) on real git and Valkey:
a name becomes a role's or an ad-hoc agent's worktree, a refused name creates nothing, and removal
runs coord's teardown rules."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import redis

from coord import adhoc, claude_worktree
from coord.config import Config, load_config
from coord.errors import ConfirmationRequiredError, InvalidInputError
from coord.identity import resolve_identity, role_email
from coord.keys import Keys
from coord.repo import find_repo
from coord.store import open_store
from tests.conftest import ValkeyProcess, git
from tests.integration.test_worktree_support import backup_refs, branches, commit_file, worktree_paths

pytestmark = pytest.mark.integration


def settings(repo: Path, valkey: ValkeyProcess, namespace: str) -> Config:
    return load_config(repo, {"COORD_REDIS_URL": valkey.url, "COORD_NAMESPACE": namespace})


def state(repo: Path) -> tuple[object, ...]:
    """What a refused creation must leave as it was."""
    folder = repo / ".worktrees"
    return (worktree_paths(repo), sorted(branches(repo)), adhoc.read(repo),
            sorted(p.name for p in folder.iterdir()) if folder.is_dir() else None)


def test_a_configured_role_name_is_that_roles_worktree(git_repo: Path, valkey: ValkeyProcess, namespace: str) -> None:
    config = settings(git_repo, valkey, namespace)
    agent, result = claude_worktree.create(find_repo(git_repo), config, "backend")
    assert agent == claude_worktree.Agent("backend", adhoc=False)
    assert result.path == git_repo.resolve() / ".worktrees" / "backend" and result.created
    assert git(result.path, "config", "user.email").stdout.strip() == role_email("backend")
    assert adhoc.read(git_repo) == ()  # a configured role is not recorded
    _, second = claude_worktree.create(find_repo(git_repo), config, "backend")  # idempotent: reused
    assert second.path == result.path and not second.created


def test_another_name_becomes_an_adhoc_agent_known_as_a_role(
    git_repo: Path, valkey: ValkeyProcess, namespace: str
) -> None:
    paths = find_repo(git_repo)
    agent, result = claude_worktree.create(paths, settings(git_repo, valkey, namespace), "agent-a19d1fe46fafc5e6e")
    assert agent.adhoc and result.created
    assert result.path == git_repo.resolve() / ".worktrees" / "agent-a19d1fe46fafc5e6e"
    assert git(result.path, "branch", "--show-current").stdout.strip() == "agent/agent-a19d1fe46fafc5e6e/active"
    assert git(result.path, "config", "user.email").stdout.strip() == "agent-a19d1fe46fafc5e6e@coord.invalid"
    assert adhoc.read(git_repo) == ("agent-a19d1fe46fafc5e6e",)

    # every later load of the settings knows it as a role, apart from what is rendered and committed
    config = settings(git_repo, valkey, namespace)
    assert "agent-a19d1fe46fafc5e6e" in config.roles and config.adhoc_roles == ("agent-a19d1fe46fafc5e6e",)
    assert "agent-a19d1fe46fafc5e6e" not in config.configured_roles()
    assert config.configured().roles == Config().roles
    found = resolve_identity({}, "agent-a19d1fe46fafc5e6e@coord.invalid", config.roles)
    assert found.role == "agent-a19d1fe46fafc5e6e"
    with open_store(paths, config) as store:  # registered and messaged like any role
        store.register("agent-a19d1fe46fafc5e6e", "s-1", str(result.path))
        store.publish("backend", "agent-a19d1fe46fafc5e6e", "QUESTION", "which port?")
        assert [m.body for m in store.check("agent-a19d1fe46fafc5e6e").messages] == ["which port?"]
        sent = store.publish("pm", "all", "STATUS_UPDATE", "to everyone")
        assert "agent-a19d1fe46fafc5e6e" in sent.ids


@pytest.mark.parametrize("name", ["Feat", "feat_1", "../x", "-rf", "", "a" * 33, "pm", 7, None])
def test_a_bad_name_is_refused_in_one_line_and_creates_nothing(
    git_repo: Path, valkey: ValkeyProcess, namespace: str, name: object
) -> None:
    before = state(git_repo)
    with pytest.raises(InvalidInputError) as caught:
        claude_worktree.create(find_repo(git_repo), settings(git_repo, valkey, namespace), name)
    assert "\n" not in caught.value.line()
    assert state(git_repo) == before


def test_a_failed_setup_forgets_the_name_it_recorded(git_repo: Path, valkey: ValkeyProcess, namespace: str) -> None:
    squatter = git_repo / ".worktrees" / "feat1"
    squatter.mkdir(parents=True)
    (squatter / "mine.txt").write_text("not coord's")
    with pytest.raises(Exception, match="not a git worktree"):
        claude_worktree.create(find_repo(git_repo), settings(git_repo, valkey, namespace), "feat1")
    assert adhoc.read(git_repo) == () and (squatter / "mine.txt").read_text() == "not coord's"


def test_removal_keeps_uncommitted_work_and_then_removes_a_clean_one(
    git_repo: Path, valkey: ValkeyProcess, namespace: str
) -> None:
    paths = find_repo(git_repo)
    _, result = claude_worktree.create(paths, settings(git_repo, valkey, namespace), "feat1")
    (result.path / "draft.py").write_text("work in progress\n")
    warnings: list[str] = []
    with pytest.raises(ConfirmationRequiredError, match="uncommitted changes"):
        claude_worktree.remove(paths, settings(git_repo, valkey, namespace), str(result.path), None, warnings.append)
    assert (result.path / "draft.py").read_text() == "work in progress\n"
    assert adhoc.read(git_repo) == ("feat1",) and backup_refs(git_repo) == []

    commit_file(result.path, "draft.py", "done\n")  # committed, not merged: worktree goes, branch stays
    done = claude_worktree.remove(paths, settings(git_repo, valkey, namespace), str(result.path), None, warnings.append)
    assert done.removed and not done.branch_deleted and not result.path.exists()
    assert "agent/feat1/active" in branches(git_repo)
    assert adhoc.read(git_repo) == ("feat1",)  # its branch is left, so the name still works (merge, teardown)
    git(git_repo, "merge", "-q", "--no-edit", "agent/feat1/active")
    config = settings(git_repo, valkey, namespace)
    assert claude_worktree.forget_if_gone(paths, config, "feat1") is False  # the branch is still there
    git(git_repo, "branch", "-q", "-d", "agent/feat1/active")
    assert claude_worktree.forget_if_gone(paths, config, "feat1") is True and adhoc.read(git_repo) == ()


def test_removal_of_a_clean_merged_worktree_leaves_nothing_and_ends_presence(
    git_repo: Path, valkey: ValkeyProcess, namespace: str
) -> None:
    paths = find_repo(git_repo)
    _, result = claude_worktree.create(paths, settings(git_repo, valkey, namespace), "feat1")
    config = settings(git_repo, valkey, namespace)
    with open_store(paths, config) as store:
        store.register("feat1", "leaving-session", str(result.path))
    claude_worktree.remove(paths, config, str(result.path), "leaving-session", lambda _line: None)
    record = json.loads(redis.Redis.from_url(valkey.url).hget(Keys(namespace).presence, "feat1") or "{}")
    assert record["status"] == "inactive" and record["session_id"] == "leaving-session"
    assert not result.path.exists() and adhoc.read(git_repo) == ()  # clean and merged: nothing left


@pytest.mark.parametrize("where", ["/tmp", "{repo}", "{repo}/.claude/worktrees/feat1", "{repo}/.worktrees/pm",
                                   "{repo}/.worktrees/nobody", ""])
def test_removal_of_anything_but_a_coord_agent_worktree_is_refused(
    git_repo: Path, valkey: ValkeyProcess, namespace: str, where: str
) -> None:
    before = state(git_repo)
    with pytest.raises(InvalidInputError):
        claude_worktree.remove(find_repo(git_repo), settings(git_repo, valkey, namespace),
                               where.format(repo=git_repo), None, lambda _line: None)
    assert state(git_repo) == before


# -- the hooks as Claude Code runs them: a process, the payload on stdin --------------------------------


def hook(event: str, cwd: Path, payload: dict[str, object], valkey: ValkeyProcess, namespace: str
         ) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COORD_", "CLAUDE"))}
    env.update({"COORD_REDIS_URL": valkey.url, "COORD_NAMESPACE": namespace, "CLAUDE_PROJECT_DIR": str(cwd)})
    return subprocess.run([sys.executable, "-m", "coord.hooks", event], input=json.dumps(payload), cwd=cwd,
                          env=env, capture_output=True, text=True, timeout=120)


def test_worktree_create_hook_prints_only_the_path(git_repo: Path, valkey: ValkeyProcess, namespace: str) -> None:
    payload = {"session_id": "s-1", "cwd": str(git_repo), "hook_event_name": "WorktreeCreate", "name": "feat1"}
    done = hook("worktree-create", git_repo, payload, valkey, namespace)
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"{git_repo.resolve() / '.worktrees' / 'feat1'}\n"
    assert "ad-hoc agent feat1" in done.stderr and adhoc.read(git_repo) == ("feat1",)


@pytest.mark.parametrize("name", ["Bad Name", "pm", None])
def test_worktree_create_hook_refuses_in_one_line_and_fails(
    git_repo: Path, valkey: ValkeyProcess, namespace: str, name: object
) -> None:
    before = state(git_repo)
    done = hook("worktree-create", git_repo, {"session_id": "s-1", "name": name}, valkey, namespace)
    assert done.returncode == InvalidInputError.exit_code and done.stdout == ""
    assert len(done.stderr.strip().splitlines()) == 1 and done.stderr.startswith("coord: "), done.stderr
    assert state(git_repo) == before


def test_worktree_remove_hook_keeps_uncommitted_work_and_says_how_to_force(
    git_repo: Path, valkey: ValkeyProcess, namespace: str
) -> None:
    made = hook("worktree-create", git_repo, {"session_id": "s-1", "name": "feat1"}, valkey, namespace)
    tree = Path(made.stdout.strip())
    (tree / "draft.py").write_text("wip\n")
    payload = {"session_id": "s-1", "cwd": str(tree), "hook_event_name": "WorktreeRemove", "worktree_path": str(tree)}
    kept = hook("worktree-remove", tree, payload, valkey, namespace)
    assert kept.returncode == ConfirmationRequiredError.exit_code, kept.stderr
    assert f"kept {tree}" in kept.stderr and "coord agent.teardown feat1 --abandon" in kept.stderr
    assert (tree / "draft.py").read_text() == "wip\n"
    (tree / "draft.py").unlink()
    removed = hook("worktree-remove", tree, payload, valkey, namespace)
    assert removed.returncode == 0, removed.stderr
    assert "removed worktree" in removed.stderr and not tree.exists() and adhoc.read(git_repo) == ()
