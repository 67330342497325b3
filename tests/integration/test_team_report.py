"""The command line's fast path for `coord status [--json]` and `coord agent.list [--json]`: it skips
invoke, and must print exactly what the invoke task prints (the same function makes both), fail
with the same line and exit code, and leave every other form of the command to invoke."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ValkeyProcess, free_port
from tests.integration.test_conflicts import Team
from tests.integration.test_worktree_support import clean_env, run_coord

pytestmark = pytest.mark.integration

# `-j` is invoke's short form of --json: the fast path leaves it to invoke, so it names the slow path.
FORMS = {"fast": ("--json",), "invoke": ("-j",)}


@pytest.fixture
def team(git_repo: Path, coord_env: dict[str, str]) -> Iterator[Team]:
    yield Team(git_repo)


def modules_after(cwd: Path, env: dict[str, str], *args: str) -> tuple[int, set[str]]:
    """Run coord's main in a fresh interpreter; its exit code and the modules it imported."""
    probe = (
        "import sys\n"
        f"sys.argv = ['coord', *{list(args)!r}]\n"
        "from coord.cli import main\n"
        "code = 0\n"
        "try:\n    main()\nexcept SystemExit as exc:\n    code = exc.code or 0\n"
        "sys.stderr.write('\\nMODULES ' + ' '.join(sorted(sys.modules)) + '\\n')\n"
        "sys.exit(code)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=120)
    line = next(ln for ln in done.stderr.splitlines() if ln.startswith("MODULES "))
    return done.returncode, set(line.split()[1:])


def without_ages(value: object) -> object:
    """The report with its ages ("seconds": how long ago, which moves between two runs) left out."""
    if isinstance(value, dict):
        return {k: without_ages(v) for k, v in value.items() if k != "seconds"}
    if isinstance(value, list):
        return [without_ages(v) for v in value]
    return value


def test_fast_and_invoke_paths_print_the_same(team: Team, valkey: ValkeyProcess, namespace: str) -> None:
    env = clean_env(COORD_REDIS_URL=valkey.url, COORD_NAMESPACE=namespace, COORD_HOST="box-1")
    (team.trees["frontend"] / "scratch.txt").write_text("not committed\n")
    with team.store() as store:
        store.register("backend", "s-backend", str(team.trees["backend"]))
        store.publish("pm", "backend", "TASK_ASSIGNMENT", "build the api")
    for command in ("status", "agent.list"):
        out = {}
        for path, flags in FORMS.items():
            done = run_coord(team.repo, command, *flags, env=env)
            assert done.returncode == 0, done.stderr
            out[path] = json.loads(done.stdout)
        assert without_ages(out["fast"]) == without_ages(out["invoke"]), command
        tables = [run_coord(team.repo, command, *flags, env=env) for flags in ((), ("-j", "--json"))]
        assert tables[1].stdout.startswith(("[", "{"))  # -j with --json: still JSON, through invoke
        assert tables[0].returncode == 0 and tables[0].stdout.split()[0] == "ROLE", command
    assert out["fast"] == out["invoke"]
    listed = {a["role"]: a for a in out["fast"]}
    assert listed["frontend"]["dirty"] is True and listed["backend"]["presence"] == "active"


def test_the_fast_path_imports_neither_invoke_nor_the_tasks(team: Team, valkey: ValkeyProcess,
                                                           namespace: str) -> None:
    env = clean_env(COORD_REDIS_URL=valkey.url, COORD_NAMESPACE=namespace)
    for command in ("status", "agent.list"):
        code, modules = modules_after(team.repo, env, command, "--json")
        assert code == 0
        assert not {m for m in modules if m == "invoke" or m.startswith(("invoke.", "coord.tasks"))}, command
        code, modules = modules_after(team.repo, env, command, "-j")  # the control: invoke does run
        assert code == 0 and "invoke" in modules and "coord.tasks" in modules


def test_errors_are_the_same_line_and_code_on_both_paths(tmp_path: Path) -> None:
    env = clean_env()
    for command in ("status", "agent.list"):
        fast = run_coord(tmp_path, command, "--json", env=env)
        slow = run_coord(tmp_path, command, "-j", env=env)
        assert fast.returncode == slow.returncode == 9  # not inside a git repository
        assert fast.stderr == slow.stderr and fast.stderr.count("\n") == 1 and fast.stdout == ""


def test_redis_down_warns_the_same_on_both_paths(team: Team) -> None:
    env = clean_env(COORD_REDIS_URL=f"redis://127.0.0.1:{free_port()}/0")
    fast = run_coord(team.repo, "status", "--json", env=env)
    slow = run_coord(team.repo, "status", "-j", env=env)
    assert fast.returncode == slow.returncode == 0
    assert fast.stderr == slow.stderr and "warning" in fast.stderr
    assert json.loads(fast.stdout) == json.loads(slow.stdout)


def test_other_forms_still_reach_invoke(team: Team, valkey: ValkeyProcess, namespace: str) -> None:
    env = clean_env(COORD_REDIS_URL=valkey.url, COORD_NAMESPACE=namespace)
    helped = run_coord(team.repo, "status", "--help", env=env)
    assert helped.returncode == 0 and helped.stdout.startswith("usage: coord status")
    wrong = run_coord(team.repo, "status", "--jsn", env=env)
    assert wrong.returncode == 2 and wrong.stderr.startswith("coord:")
