"""Crash scenes shared by the fast suite and `nox -s stress`.

- The embedded server killed with SIGKILL while a separate process publishes, recording every
  publish that returned success: after `coord redis.up`, each recorded one must be pending, and
  none twice (a publish whose reply was lost is resent with its publish id: exactly once).
- agent.teardown / agent.merge killed half-way: a `git` wrapper first on PATH counts git calls and
  SIGKILLs the coord process at call N (before running git, or right after it); running the command
  again must finish the job, the main checkout is never mid-merge, and no work is lost.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import git
from tests.stress.support import COORD, agents_repo, clean_env, embedded_pid, kill9, run_coord, setup_worktrees

PUBLISHER = r'''
import sys, time
from coord.config import load_config
from coord.errors import StoreUnavailableError
from coord.repo import find_repo
from coord.store import open_store

repo, total, log = sys.argv[1], int(sys.argv[2]), sys.argv[3]
roles = ["backend", "frontend"]
paths = find_repo(repo)
store = open_store(paths, load_config(paths.main_root, {}), start_server=False)
failures = 0
deadline = time.monotonic() + 600
with open(log, "w", buffering=1) as out:
    i = 0
    while i < total and time.monotonic() < deadline:
        to = roles[i % 2]
        body = f"message {i} to {to}: " + "é" * (i % 50)
        try:
            sent = store.publish("pm", to, "INFO", body, publish_id=f"p{i}")  # a retry resends the same id
        except StoreUnavailableError:
            failures += 1
            out.write(f"fail\t{i}\n")
            time.sleep(0.01)
            continue
        out.write(f"ok\t{i}\t{to}\t{sent.ids[to]}\n")
        i += 1
    out.write(f"done\t{i}\t{failures}\n")
'''


@dataclass
class PublishRun:
    successes: dict[tuple[str, str], str]  # (recipient, id) -> body (ids are per inbox stream)
    failures: int
    kills: int
    duplicates: int


def read_log(log: Path) -> tuple[dict[tuple[str, str], str], int, bool]:
    ok: dict[tuple[str, str], str] = {}
    failures = 0
    done = False
    for line in log.read_text().splitlines():
        parts = line.split("\t")
        if parts[0] == "ok" and len(parts) == 4:
            i, to, mid = int(parts[1]), parts[2], parts[3]
            ok[(to, mid)] = f"message {i} to {to}: " + "é" * (i % 50)
        elif parts[0] == "fail":
            failures += 1
        elif parts[0] == "done":
            done = True
    return ok, failures, done


def publish_through_kills(tmp_path: Path, total: int, kill_at: list[int]) -> PublishRun:
    """Publish `total` messages from a separate process; SIGKILL the embedded server each time the
    recorded successes pass a number in kill_at, then bring it back with `coord redis.up`."""
    repo = agents_repo(tmp_path / "repo", ("pm", "backend", "frontend"))
    env = clean_env()
    assert run_coord(repo, "redis.up", env=env).returncode == 0
    script = tmp_path / "publisher.py"
    script.write_text(PUBLISHER)
    log = tmp_path / "published.log"
    proc = subprocess.Popen([sys.executable, str(script), str(repo), str(total), str(log)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    kills = 0
    try:
        for mark in kill_at:
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline and proc.poll() is None:
                if log.exists() and log.read_text().count("ok\t") >= mark:
                    break
                time.sleep(0.05)
            pid = embedded_pid(repo)
            assert pid is not None
            kill9(pid)
            kills += 1
            time.sleep(0.3)  # publishes fail meanwhile: they must not be recorded as successes
            up = run_coord(repo, "redis.up", env=env)
            assert up.returncode == 0, up.stderr
        _out, err = proc.communicate(timeout=600)
        assert proc.returncode == 0 and "Traceback" not in err, err
        successes, failures, done = read_log(log)
        assert done and len(successes) == total
        duplicates = check_all_pending(repo, successes)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        from tests.stress.support import stop_embedded

        stop_embedded(repo)
    return PublishRun(successes, failures, kills, duplicates)


def check_all_pending(repo: Path, successes: dict[tuple[str, str], str]) -> int:
    """Every recorded success is in its recipient's inbox with its body, and pending. Returns how many
    extra copies there are in the inboxes (a publish whose reply was lost in the kill is resent with
    the same publish id, so this must be 0)."""
    from coord import embedded
    from coord.config import load_config
    from coord.keys import Keys
    from coord.repo import find_repo
    from coord.store import store_namespace
    from tests.stress.support import raw_redis

    paths = find_repo(repo)
    state = embedded.running_state(paths)
    assert state is not None
    keys = Keys(store_namespace(paths, load_config(paths.main_root, {})))
    raw = raw_redis(state.url)
    try:
        extra = 0
        for role in ("backend", "frontend"):
            pending = set(raw.hkeys(keys.pending(role)))
            stored = {mid: fields["body"] for mid, fields in raw.xrange(keys.inbox(role))}
            mine = {mid: body for (to, mid), body in successes.items() if to == role}
            missing = set(mine) - pending
            assert not missing, f"{len(missing)} successful publishes to {role} are not pending"
            assert all(stored.get(mid) == body for mid, body in mine.items())
            extra += max(len(pending), len(stored)) - len(mine)
        return extra
    finally:
        raw.close()


# -- killed git steps --------------------------------------------------------------------------------------
WRAPPER = """#!/bin/sh
n=$(cat "$COORD_TEST_COUNTER" 2>/dev/null || echo 0)
n=$((n + 1))
echo "$n" > "$COORD_TEST_COUNTER"
if [ "$n" = "$COORD_TEST_KILL_AT" ] && [ "$COORD_TEST_KILL_WHEN" = before ]; then
  kill -9 "$PPID"; exit 137
fi
"$COORD_TEST_REAL_GIT" "$@"
rc=$?
if [ "$n" = "$COORD_TEST_KILL_AT" ]; then kill -9 "$PPID"; fi
exit $rc
"""


@dataclass
class Scene:
    repo: Path
    agent_commit: str
    dirty_text: str


def make_scene(base: Path, main_moved: bool) -> Scene:
    """backend with one commit on its branch, an uncommitted change and an untracked file; the main
    checkout optionally moved on (so a merge needs a merge commit)."""
    repo = agents_repo(base / "repo", ("pm", "backend"))
    setup_worktrees(repo, ("pm", "backend"))
    wt = repo / ".worktrees" / "backend"
    (wt / "feature.py").write_text("print('feature')\n")
    git(wt, "add", "feature.py")
    git(wt, "commit", "-q", "-m", "feature")
    commit = git(wt, "rev-parse", "HEAD").stdout.strip()
    if main_moved:
        (repo / "other.txt").write_text("main moved\n")
        git(repo, "add", "other.txt")
        git(repo, "commit", "-q", "-m", "main moves")
    return Scene(repo, commit, "")


def add_dirt(scene: Scene) -> None:
    wt = scene.repo / ".worktrees" / "backend"
    (wt / "feature.py").write_text("print('feature, edited, not committed')\n")
    (wt / "notes.txt").write_text("untracked work\n")
    scene.dirty_text = "print('feature, edited, not committed')\n"


def wrapper_env(tmp: Path, kill_at: int, when: str) -> tuple[dict[str, str], Path]:
    bindir = tmp / "bin"
    bindir.mkdir(exist_ok=True)
    wrapper = bindir / "git"
    wrapper.write_text(WRAPPER)
    wrapper.chmod(0o755)
    counter = tmp / "count"
    counter.write_text("0")
    real = shutil.which("git")
    assert real and not real.startswith(str(bindir))
    env = clean_env(PATH=f"{bindir}{os.pathsep}{os.environ['PATH']}", COORD_TEST_COUNTER=str(counter),
                    COORD_TEST_KILL_AT=str(kill_at), COORD_TEST_KILL_WHEN=when, COORD_TEST_REAL_GIT=real)
    return env, counter


def run_killable(repo: Path, args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*COORD, *args], cwd=repo, env=env, stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=120)


def reachable_from_some_ref(repo: Path, commit: str) -> bool:
    out = git(repo, "for-each-ref", "--contains", commit, "--format=%(refname)").stdout
    return bool(out.strip())


def work_saved(scene: Scene) -> bool:
    """The uncommitted edit is still in the worktree, or in a backup ref's tree."""
    wt = scene.repo / ".worktrees" / "backend"
    if (wt / "feature.py").is_file() and (wt / "feature.py").read_text() == scene.dirty_text:
        return True
    for ref in git(scene.repo, "for-each-ref", "--format=%(refname)", "refs/coord/backup/").stdout.split():
        shown = git(scene.repo, "show", f"{ref}:feature.py", check=False)
        if shown.returncode == 0 and shown.stdout == scene.dirty_text:
            return True
    return False


def main_not_mid_merge(repo: Path) -> None:
    git_dir = repo / ".git"
    for marker in ("MERGE_HEAD", "CHERRY_PICK_HEAD", "REVERT_HEAD", "rebase-merge", "rebase-apply", "index.lock"):
        assert not (git_dir / marker).exists(), f"main checkout left with {marker}"
    assert git(repo, "symbolic-ref", "--short", "HEAD").stdout.strip() == "main"
    assert git(repo, "status", "--porcelain", "--untracked-files=no").stdout == ""


def count_git_calls(tmp: Path, args: list[str], main_moved: bool, dirty: bool) -> int:
    scene = make_scene(tmp / "count", main_moved)
    if dirty:
        add_dirt(scene)
    env, counter = wrapper_env(tmp / "count", 0, "after")
    done = run_killable(scene.repo, args, env)
    assert done.returncode == 0, done.stderr
    return int(counter.read_text())


def kill_and_rerun(tmp: Path, args: list[str], kill_at: int, when: str, main_moved: bool, dirty: bool) -> str:
    """One scene: kill at git call kill_at, check the invariants, run again, check it finished.
    Returns how the killed run ended ('killed' or 'finished')."""
    base = tmp / f"{kill_at}-{when}"
    scene = make_scene(base, main_moved)
    if dirty:
        add_dirt(scene)
    env, _ = wrapper_env(base, kill_at, when)
    killed = run_killable(scene.repo, args, env)
    outcome = "killed" if killed.returncode == -signal.SIGKILL else "finished"
    assert "Traceback" not in killed.stderr, killed.stderr
    main_not_mid_merge(scene.repo)
    assert reachable_from_some_ref(scene.repo, scene.agent_commit), "the agent's commit is lost"
    if dirty:
        assert work_saved(scene), "the uncommitted work is lost"
    again = run_killable(scene.repo, args, clean_env())
    gone = not (scene.repo / ".worktrees" / "backend").exists() and "agent/backend/active" not in git(
        scene.repo, "branch", "--list").stdout
    if again.returncode == 3 and gone and args[0] == "agent.teardown":
        # Killed after its last git step: the work is done, the rerun says there is nothing left (exit 3).
        # Known gap (see the report): presence is not cleared by that rerun.
        outcome = "done-before-kill"
    else:
        assert again.returncode == 0, (kill_at, when, again.stdout, again.stderr)
    main_not_mid_merge(scene.repo)
    assert reachable_from_some_ref(scene.repo, scene.agent_commit)
    if dirty:
        assert work_saved(scene)
    if args[0] == "agent.teardown":
        assert not (scene.repo / ".worktrees" / "backend").exists()
        assert "agent/backend/active" not in git(scene.repo, "branch", "--list").stdout
    if "--merge" in args or args[0] == "agent.merge":
        assert git(scene.repo, "merge-base", "--is-ancestor", scene.agent_commit, "main", check=False).returncode == 0
    shutil.rmtree(base, ignore_errors=True)
    return outcome


SCENARIOS = {
    "teardown-abandon": (["agent.teardown", "backend", "--abandon"], False, True),
    "teardown-merge": (["agent.teardown", "backend", "--merge"], True, False),
    "merge": (["agent.merge", "backend"], True, False),
}


def sweep(tmp: Path, name: str, points: list[int] | None = None) -> dict[str, int]:
    """Kill the scenario at every git call (or the given ones), before and after the call."""
    args, moved, dirty = SCENARIOS[name]
    total = count_git_calls(tmp / name, args, moved, dirty)
    wanted = points if points is not None else list(range(1, total + 1))
    tally = {"git_calls": total, "killed": 0, "finished": 0, "done-before-kill": 0}
    for n in wanted:
        for when in ("before", "after"):
            tally[kill_and_rerun(tmp / name, args, min(n, total), when, moved, dirty)] += 1
    return tally


__all__ = ["COORD", "publish_through_kills", "sweep"]
