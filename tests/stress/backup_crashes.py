"""Crash scenes for backups that hold more than files (issue 12, class 1), shared by the fast
suite and `nox -s stress`: `agent.teardown --abandon` of a worktree holding a nested repository
(an unpushed commit, an uncommitted edit) and an operation in progress (a conflicted merge of a
branch that was deleted since), SIGKILLed before or after its Nth git call. Whatever the kill
point: the nested commit and edit, and the merged-in commit, are either still in the worktree or
in a backup; a rerun finishes; `agent.restore` brings the nested repository back whole."""

from __future__ import annotations

import shutil
import signal
from dataclasses import dataclass
from pathlib import Path

from coord.worktree import backup
from tests.conftest import git
from tests.stress.crashes import Scene, make_scene, run_killable, wrapper_env
from tests.stress.support import clean_env

ARGS = ["agent.teardown", "backend", "--abandon"]
EDIT = "edited in the nested repository, not committed\n"


@dataclass
class NestedScene:
    scene: Scene
    nested_commit: str
    merged_in: str


def make_nested_scene(base: Path) -> NestedScene:
    scene = make_scene(base, main_moved=False)
    repo = scene.repo
    wt = repo / ".worktrees" / "backend"
    lib = wt / "vendor" / "lib"
    lib.mkdir(parents=True)
    git(lib, "init", "-q", "-b", "main")
    git(lib, "config", "user.name", "Vendor")
    git(lib, "config", "user.email", "vendor@example.com")
    (lib / "v.txt").write_text("v1\n")
    git(lib, "add", "v.txt")
    git(lib, "commit", "-q", "-m", "unpushed")
    nested_commit = git(lib, "rev-parse", "HEAD").stdout.strip()
    (lib / "v.txt").write_text(EDIT)
    # a merge in progress whose other side lives only in MERGE_HEAD
    git(repo, "checkout", "-q", "-b", "donor")
    (repo / "feature.py").write_text("donor's version\n")
    git(repo, "add", "feature.py")
    git(repo, "commit", "-q", "-m", "donor")
    merged_in = git(repo, "rev-parse", "HEAD").stdout.strip()
    git(repo, "checkout", "-q", "main")
    assert git(wt, "merge", "-q", "donor", check=False).returncode != 0  # add/add conflict: merge in progress
    git(repo, "branch", "-D", "-q", "donor")
    return NestedScene(scene, nested_commit, merged_in)


def nested_safe(ns: NestedScene) -> bool:
    """The nested commit and edit are in place, or in a backup of the role."""
    repo = ns.scene.repo
    lib = repo / ".worktrees" / "backend" / "vendor" / "lib"
    if (lib / "v.txt").is_file() and (lib / "v.txt").read_text() == EDIT:
        return git(lib, "cat-file", "-e", ns.nested_commit, check=False).returncode == 0
    for ref in git(repo, "for-each-ref", "--format=%(refname)", "refs/coord/backup/").stdout.split():
        for record in backup.meta_of(repo, ref).get("nested", []):
            snapshot = record["commit"]
            kept = git(repo, "merge-base", "--is-ancestor", ns.nested_commit, snapshot, check=False).returncode == 0
            if kept and git(repo, "show", f"{snapshot}:v.txt", check=False).stdout == EDIT:
                return True
    return False


def merged_in_safe(ns: NestedScene) -> bool:
    out = git(ns.scene.repo, "for-each-ref", "--contains", ns.merged_in, "--format=%(refname)", check=False)
    in_progress = (ns.scene.repo / ".git" / "worktrees" / "backend" / "MERGE_HEAD").is_file()
    return bool(out.stdout.strip()) or in_progress


def kill_and_rerun(tmp: Path, kill_at: int, when: str) -> str:
    base = tmp / f"{kill_at}-{when}"
    ns = make_nested_scene(base)
    repo = ns.scene.repo
    env, _ = wrapper_env(base, kill_at, when)
    killed = run_killable(repo, ARGS, env)
    outcome = "killed" if killed.returncode == -signal.SIGKILL else "finished"
    assert "Traceback" not in killed.stderr, killed.stderr
    assert nested_safe(ns), f"nested work lost (killed at {kill_at} {when})"
    assert merged_in_safe(ns), f"the merged-in commit is lost (killed at {kill_at} {when})"
    again = run_killable(repo, ARGS, clean_env())
    gone = not (repo / ".worktrees" / "backend").exists()
    if not (again.returncode == 3 and gone):
        assert again.returncode == 0, (kill_at, when, again.stdout, again.stderr)
    assert gone and nested_safe(ns) and merged_in_safe(ns)
    assert not git(repo, "for-each-ref", "refs/coord/tmp").stdout.strip() or outcome == "killed"
    restored = run_killable(repo, ["agent.restore", "backend"], clean_env())
    assert restored.returncode == 0, restored.stderr
    lib = repo / ".worktrees" / "backend" / "vendor" / "lib"
    assert (lib / "v.txt").read_text() == EDIT
    assert git(lib, "rev-parse", "HEAD").stdout.strip() == ns.nested_commit
    shutil.rmtree(base, ignore_errors=True)
    return outcome


def count_git_calls(tmp: Path) -> int:
    ns = make_nested_scene(tmp / "count")
    env, counter = wrapper_env(tmp / "count", 0, "after")
    done = run_killable(ns.scene.repo, ARGS, env)
    assert done.returncode == 0, done.stderr
    return int(counter.read_text())


def sweep(tmp: Path, points: list[int] | None = None) -> dict[str, int]:
    total = count_git_calls(tmp)
    wanted = points if points is not None else list(range(1, total + 1))
    tally = {"git_calls": total, "killed": 0, "finished": 0}
    for n in wanted:
        for when in ("before", "after"):
            tally[kill_and_rerun(tmp, min(n, total), when)] += 1
    return tally
