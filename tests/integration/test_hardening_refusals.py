"""Issue 12, classes 6 and 10 and its "wrong codes and words": settings refused as a whole (exit 8),
refusals that change nothing, the right exit code and words for each failure. Real git, coord as a
real process."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from coord.actor import email_from_files, identify, resolve_role
from coord.config import load_config
from coord.errors import IdentityError
from coord.repo import find_repo
from coord.server_process import free_port
from tests.conftest import git, make_repo
from tests.stress.support import COORD, clean_env, one_line_refusal

pytestmark = pytest.mark.integration


def coord(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*COORD, *args], cwd=cwd, env=clean_env(**env), stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=180)


def ok(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    proc = coord(cwd, *args, **env)
    assert proc.returncode == 0, (args, proc.stderr)
    return proc


def repo_state(repo: Path) -> tuple[object, ...]:
    """Everything a refused command must leave as it was: the main checkout's files (.gitignore
    included), the repository config, worktrees, refs, and what git status sees."""
    files = {}
    for folder, dirs, names in os.walk(repo):
        dirs[:] = [d for d in dirs if d != ".git"]
        for name in names:
            full = Path(folder) / name
            files[os.path.relpath(full, repo)] = full.read_bytes() if not full.is_symlink() else os.readlink(full)
    return (
        files,
        git(repo, "config", "--local", "--list").stdout,
        git(repo, "worktree", "list", "--porcelain").stdout,
        git(repo, "for-each-ref").stdout,
        git(repo, "status", "--porcelain", "--ignored").stdout,
    )


# -- class 10: refused setups change nothing -------------------------------------------------------------
def users_files_in_the_role_folder(repo: Path) -> tuple[str, ...]:
    (repo / ".worktrees" / "backend").mkdir(parents=True)
    (repo / ".worktrees" / "backend" / "notes.txt").write_text("mine\n")
    return ("agent.setup", "backend")


def a_file_where_the_role_folder_goes(repo: Path) -> tuple[str, ...]:
    (repo / ".worktrees").mkdir()
    (repo / ".worktrees" / "backend").write_text("a file\n")
    return ("agent.setup", "backend")


def unknown_base(repo: Path) -> tuple[str, ...]:
    return ("agent.setup", "backend", "--base", "no-such-ref")


def detached_main_checkout(repo: Path) -> tuple[str, ...]:
    git(repo, "checkout", "-q", "--detach")
    return ("agent.setup", "backend")


def branch_checked_out_elsewhere(repo: Path) -> tuple[str, ...]:
    git(repo, "worktree", "add", "-q", "-b", "agent/backend/active", str(repo.parent / "mine"))
    return ("agent.setup", "backend")


def main_checkout_on_an_agent_branch(repo: Path) -> tuple[str, ...]:
    git(repo, "switch", "-q", "-c", "agent/qa/active")
    return ("agent.setup", "backend")


def bad_settings(repo: Path) -> tuple[str, ...]:
    (repo / "coord.toml").write_text("stale_seconds = 30\n")  # below the default heartbeat (60)
    return ("agent.setup", "backend")


def remote_tracking_base(repo: Path) -> tuple[str, ...]:
    git(repo, "update-ref", "refs/remotes/origin/main", "HEAD")
    (repo / "coord.toml").write_text('base_branch = "origin/main"\n')
    return ("agent.setup", "backend")


def tag_as_base(repo: Path) -> tuple[str, ...]:
    git(repo, "tag", "v1")
    (repo / "coord.toml").write_text('base_branch = "v1"\n')
    return ("agent.setup", "backend")


def unknown_role(repo: Path) -> tuple[str, ...]:
    return ("agent.setup", "intruder")


def gitignore_user_text_kept(repo: Path) -> tuple[str, ...]:
    (repo / ".gitignore").write_text("node_modules\n# no newline at the end")
    (repo / ".worktrees" / "backend").mkdir(parents=True)
    (repo / ".worktrees" / "backend" / "x").write_text("x")
    return ("agent.setup", "backend")


def worktree_folder_is_a_file(repo: Path) -> tuple[str, ...]:
    (repo / ".worktrees").write_text("my notes\n")
    return ("agent.setup", "backend")


def clashing_branch(name: str) -> Callable[[Path], tuple[str, ...]]:
    def prepare(repo: Path) -> tuple[str, ...]:
        git(repo, "branch", name)
        return ("agent.setup", "backend")

    return prepare


REFUSALS: dict[str, tuple[Callable[[Path], tuple[str, ...]], int, str]] = {
    "user's files in .worktrees/backend": (users_files_in_the_role_folder, 4, "not a git worktree"),
    "a file where the folder goes": (a_file_where_the_role_folder_goes, 4, "not a git worktree"),
    "unknown --base": (unknown_base, 3, "no-such-ref"),
    "detached main checkout": (detached_main_checkout, 4, "detached HEAD"),
    "agent branch checked out elsewhere": (branch_checked_out_elsewhere, 4, "checked out in"),
    "main checkout on an agent branch": (main_checkout_on_an_agent_branch, 4, "agent branch of qa"),
    "heartbeat not below stale": (bad_settings, 8, "heartbeat_seconds"),
    "base_branch remote-tracking": (remote_tracking_base, 8, "remote-tracking"),
    "base_branch a tag": (tag_as_base, 8, "not a local branch"),
    "unknown role": (unknown_role, 2, "unknown role"),
    "a .gitignore of the user's": (gitignore_user_text_kept, 4, "not a git worktree"),
    "the worktree folder is a file": (worktree_folder_is_a_file, 4, "is a file"),
    "a branch named agent": (clashing_branch("agent"), 4, "keeps git from creating"),
    "a branch named agent/backend": (clashing_branch("agent/backend"), 4, "keeps git from creating"),
    "a branch under agent/backend/active/": (clashing_branch("agent/backend/active/old"), 4, "keeps git from"),
}


@pytest.mark.parametrize("name", sorted(REFUSALS))
def test_a_refused_setup_changes_nothing(tmp_path: Path, name: str) -> None:
    repo = make_repo(tmp_path / "repo")
    prepare, code, words = REFUSALS[name]
    args = prepare(repo)
    before = repo_state(repo)
    for _ in range(2):  # and a rerun is refused the same way; session.start too, starting no server
        proc = coord(repo, *args)
        assert proc.returncode == code, proc.stderr
        assert words in one_line_refusal(proc)
        assert repo_state(repo) == before
        if args[0] == "agent.setup" and len(args) == 2:  # session.start takes no --base
            started = coord(repo, "session.start", *args[1:])
            assert started.returncode == code and words in one_line_refusal(started)
            assert repo_state(repo) == before
    assert git(repo, "config", "--local", "--get", "extensions.worktreeConfig", check=False).returncode == 1
    assert not (repo / ".git" / "coord" / "redis.json").exists()


def test_a_refused_setup_in_an_empty_repository_changes_nothing(tmp_path: Path) -> None:
    repo = tmp_path / "empty"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    before = repo_state(repo)
    for args in (("agent.setup", "backend"), ("session.start", "backend")):
        proc = coord(repo, *args)
        assert proc.returncode == 3, proc.stderr
        assert "no commit yet" in one_line_refusal(proc)
        assert repo_state(repo) == before
    assert not (repo / ".gitignore").exists()
    assert not (repo / ".git" / "coord" / "redis.json").exists()  # no server started for a refused start


def test_a_setup_after_a_refusal_is_the_usual_one(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    users_files_in_the_role_folder(repo)
    assert coord(repo, "agent.setup", "backend").returncode == 4
    (repo / ".worktrees" / "backend" / "notes.txt").rename(tmp_path / "notes.txt")
    ok(repo, "agent.setup", "backend")
    assert (repo / ".gitignore").read_text() == "/.worktrees/\n"
    assert git(repo, "config", "--local", "--get", "extensions.worktreeConfig").stdout.strip() == "true"


# -- class 6 through the command line ---------------------------------------------------------------
def test_several_bad_settings_are_named_one_line_each_exit_8(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    (repo / "coord.toml").write_text('stale_seconds = true\npresence_ttl_seconds = 1.5\nworktree_dir = "/abs"\n')
    before = repo_state(repo)
    proc = coord(repo, "agent.setup", "backend", COORD_HEARTBEAT_SECONDS="9000")
    assert proc.returncode == 8 and "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 3 and all(line.startswith("coord: ") for line in lines), proc.stderr
    assert "stale_seconds must be a whole number, got True" in lines[0]
    assert "presence_ttl_seconds must be a whole number, got 1.5" in proc.stderr
    assert "worktree_dir" in proc.stderr
    assert repo_state(repo) == before


@pytest.mark.parametrize("task", [("agent.merge", "backend"), ("agent.teardown", "backend"), ("agent.sync",)])
def test_remote_tracking_base_branch_is_refused_by_every_worktree_task(tmp_path: Path, task: tuple[str, ...]) -> None:
    repo = make_repo(tmp_path / "repo")
    ok(repo, "agent.setup", "backend")
    git(repo, "update-ref", "refs/remotes/origin/main", "HEAD")
    (repo / "coord.toml").write_text('base_branch = "origin/main"\n')
    where = repo / ".worktrees" / "backend" if task == ("agent.sync",) else repo
    proc = coord(where, *task)
    assert proc.returncode == 8, proc.stderr
    assert "remote-tracking" in one_line_refusal(proc) and "'main'" in proc.stderr


# -- wrong codes and words --------------------------------------------------------------------------
def test_redis_status_with_an_unreachable_configured_url(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    url = f"redis://127.0.0.1:{free_port()}/0"
    for args in (("redis.status",), ("redis.status", "--json")):
        proc = coord(repo, *args, COORD_REDIS_URL=url)
        assert proc.returncode == 5, proc.stderr
        assert "redis.up" not in proc.stdout + proc.stderr  # a no-op with a URL set
        assert "COORD_REDIS_URL" in proc.stderr


def test_agent_branch_in_the_main_checkout_is_not_called_a_base(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    ok(repo, "agent.setup", "qa")
    ok(repo, "agent.setup", "backend")
    qa = repo / ".worktrees" / "qa"
    (qa / "q.txt").write_text("q\n")
    git(qa, "add", "q.txt")
    git(qa, "commit", "-qm", "q")
    ok(repo, "agent.teardown", "qa")  # clean, unmerged: the branch is kept
    git(repo, "switch", "-q", "agent/qa/active")
    before = repo_state(repo)
    for role in ("qa", "backend"):
        proc = coord(repo, "agent.merge", role)
        assert proc.returncode == 4, proc.stderr
        line = one_line_refusal(proc)
        assert "agent branch of qa" in line and "already merged" not in proc.stdout + proc.stderr
    assert repo_state(repo) == before
    listed = ok(repo, "agent.list", "--json")
    assert '"behind": null' in listed.stdout  # not "behind" an agent's branch


def test_a_moved_worktree_keeps_its_role(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    for role in ("qa", "backend"):
        ok(repo, "agent.setup", role)
    git(repo, "worktree", "move", str(repo / ".worktrees" / "qa"), str(repo / ".worktrees" / "frontend"))
    moved = repo / ".worktrees" / "frontend"
    listed = ok(repo, "agent.list", "--json").stdout
    assert '"role": "qa"' in listed and '"role": "frontend"' not in listed
    before = repo_state(repo)
    for args, words in ((("agent.setup", "frontend"), "holds the qa worktree"),
                        (("agent.setup", "qa"), "checked out in"),
                        (("agent.teardown", "frontend", "--abandon"), "holds the qa worktree"),
                        (("agent.teardown", "qa", "--abandon"), "checked out in")):
        proc = coord(repo, *args)
        assert proc.returncode == 4, (args, proc.stderr)
        assert words in one_line_refusal(proc) and "git worktree move" in proc.stderr
    assert repo_state(repo) == before
    assert git(moved, "config", "--worktree", "user.email").stdout.strip() == "qa@coord.invalid"
    # A session there is still qa (not frontend), and qa must work in its own place.
    paths = find_repo(moved)
    config = load_config(paths.main_root, {})
    assert resolve_role(paths, config, {}, email_from_files(paths.git_dir, paths.common_dir)).role == "qa"
    with pytest.raises(IdentityError, match=r"must work in .*\.worktrees/qa"):
        identify(paths, config, {}, email_from_files(paths.git_dir, paths.common_dir))
    with pytest.raises(IdentityError, match="belongs to qa"):
        identify(paths, config, {"CLAUDE_INSTANCE_ID": "frontend"}, email_from_files(paths.git_dir, paths.common_dir))
    # Moved out of the worktree folder altogether: still listed, as qa.
    git(repo, "worktree", "move", str(moved), str(tmp_path / "far"))
    assert '"role": "qa"' in ok(repo, "agent.list", "--json").stdout
    git(repo, "worktree", "move", str(tmp_path / "far"), str(repo / ".worktrees" / "qa"))
    ok(repo, "agent.teardown", "qa")


def test_guard_with_a_relative_hooks_path_is_refused(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    ok(repo, "agent.setup", "backend")
    git(repo, "config", "core.hooksPath", ".githooks")
    before = repo_state(repo)
    proc = coord(repo, "agent.guard")
    assert proc.returncode == 9 and "relative" in one_line_refusal(proc)
    assert repo_state(repo) == before and not (repo / ".githooks").exists()
    # Absolute: one folder for every worktree, and the guard says so truthfully.
    hooks = tmp_path / "hooks"
    git(repo, "config", "core.hooksPath", str(hooks))
    installed = ok(repo, "agent.guard")
    assert (hooks / "pre-commit").is_file() and "every worktree" in installed.stdout
    wt = repo / ".worktrees" / "backend"
    assert git(wt, "rev-parse", "--git-path", "hooks").stdout.strip() == str(hooks)


def test_guard_refuses_when_a_worktree_has_hooks_of_its_own(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    ok(repo, "agent.setup", "backend")
    wt = repo / ".worktrees" / "backend"
    git(wt, "config", "--worktree", "core.hooksPath", str(tmp_path / "own-hooks"))
    proc = coord(repo, "agent.guard")
    assert proc.returncode == 9 and str(wt) in one_line_refusal(proc)
    assert not (repo / ".git" / "hooks" / "pre-commit").exists()


# -- class 10: concurrent runs of one command ------------------------------------------------------------
@pytest.mark.parametrize("args", [("init",), ("agent.setup", "backend"), ("agent.guard",)])
def test_a_command_run_concurrently_with_itself(tmp_path: Path, args: tuple[str, ...]) -> None:
    repo = make_repo(tmp_path / "repo")
    procs = [subprocess.Popen([*COORD, *args], cwd=repo, env=clean_env(), stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(6)]
    results = [(p.wait(timeout=300), p.communicate()) for p in procs]
    for code, (_out, err) in results:
        assert code == 0 and "Traceback" not in err, err
    leftovers = [p for p in repo.rglob("*") if ".tmp" in p.name or p.name.endswith("coord-tmp")]
    assert leftovers == []
    assert git(repo, "worktree", "list", "--porcelain").stdout.count("worktree ") == (2 if "backend" in args else 1)


def _at_once(repo: Path, args: tuple[str, ...], count: int = 4) -> list[tuple[int, str]]:
    procs = [subprocess.Popen([*COORD, *args], cwd=repo, env=clean_env(), stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(count)]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert "Traceback" not in err, err
        results.append((proc.returncode, out + err))
    return results


def test_merge_and_teardown_run_concurrently_with_themselves(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    ok(repo, "agent.setup", "backend")
    wt = repo / ".worktrees" / "backend"
    (wt / "a.txt").write_text("a\n")
    git(wt, "add", "a.txt")
    git(wt, "commit", "-qm", "a")
    (repo / "m.txt").write_text("m\n")
    git(repo, "add", "m.txt")
    git(repo, "commit", "-qm", "m")
    merges = _at_once(repo, ("agent.merge", "backend"))
    assert all(code == 0 for code, _ in merges)
    assert sum("with merge commit" in text for _, text in merges) == 1  # one merge, the others found it done
    assert sum("already merged" in text for _, text in merges) == 3
    assert git(repo, "rev-list", "--count", "--merges", "HEAD").stdout.strip() == "1"
    downs = _at_once(repo, ("agent.teardown", "backend"))
    assert sorted(code for code, _ in downs) == [0, 3, 3, 3], downs  # one removes; the others find nothing
    assert not wt.exists() and git(repo, "branch", "--list", "agent/*").stdout == ""


@pytest.mark.parametrize("args", [("agent.setup", "backend"), ("presence",), ("msg.send", "backend", "INFO", "hi"),
                                  ("session.start", "backend"), ("redis.up",)])
def test_a_file_system_refusal_is_one_line_exit_9(tmp_path: Path, args: tuple[str, ...]) -> None:
    """coord's state folder is a file here: the OS refuses, coord says so in one line (no traceback)."""
    repo = make_repo(tmp_path / "repo")
    (repo / ".git" / "coord").write_text("not a folder\n")
    before = repo_state(repo)
    proc = coord(repo, *args)
    assert proc.returncode == 9, proc.stderr
    assert ".git/coord" in one_line_refusal(proc)
    assert repo_state(repo) == before
