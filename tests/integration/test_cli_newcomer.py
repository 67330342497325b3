"""The `coord` command as a newcomer meets it: the installed console script, run as a process
(invoke's parser is the real one), in throwaway repositories."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from coord import __version__
from coord.tasks import build_namespace
from coord.tasks.groups import GROUPS, group_of
from tests.conftest import git, make_repo
from tests.integration.test_worktree_support import clean_env

INVOKE_CORE_WORDS = ("sudo", "pty", "echo", "dry", "--core-opts", "write-pyc", "command-timeout", "warn-only")


def coord(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("coord")
    assert binary, "the coord console script is not installed (pip install -e .)"
    proc = subprocess.run([binary, *args], cwd=cwd, env=clean_env(), capture_output=True, text=True,
                          timeout=120, stdin=subprocess.DEVNULL)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def test_task_help_every_spelling_prints_the_same_and_changes_nothing(git_repo: Path) -> None:
    spellings = [("agent.setup", "--help"), ("agent.setup", "-h"), ("help", "agent.setup"),
                 ("--help", "agent.setup"), ("agent.setup", "backend", "--help")]
    outputs = set()
    for args in spellings:
        proc = coord(git_repo, *args)
        assert proc.returncode == 0, (args, proc.stderr)
        assert proc.stderr == ""
        outputs.add(proc.stdout)
    (text,) = outputs
    assert text.startswith("usage: coord agent.setup ROLE [--base BASE]\n")
    assert "ROLE" in text and "the agent role" in text and "--base BASE" in text
    assert not any(word in text for word in INVOKE_CORE_WORDS)
    assert not (git_repo / ".worktrees").exists()
    assert git(git_repo, "branch", "--list", "agent/*").stdout == ""


def test_help_lists_every_task_under_its_group_and_no_invoke_core_options(tmp_path: Path) -> None:
    listings = {coord(tmp_path, *args).stdout for args in (("--help",), ("help",), ("-h",), ())}
    (text,) = listings  # one listing, however it is asked for (and outside any repository)
    assert not any(word in text for word in INVOKE_CORE_WORDS)
    body = [line for line in text.splitlines() if not line.startswith(("usage: ", "options: "))]
    headers = [line.split(":")[0] for line in body if re.match(r"^[a-z]+: ", line)]
    assert headers == [g for g, _about, _patterns in GROUPS]
    section = ""
    placed: dict[str, str] = {}
    for line in body:
        if re.match(r"^[a-z]+: ", line):
            section = line.split(":")[0]
        elif line.startswith("  ") and section:
            placed[line.split()[0]] = section
    namespace = build_namespace()
    assert set(placed) == set(namespace.task_names)
    for name, section in placed.items():
        assert section == group_of(name), name


def test_every_task_has_a_group_and_new_team_tasks_land_in_team() -> None:
    assert [n for n in build_namespace().task_names if group_of(n) == "other"] == []
    assert group_of("team.up") == "team" and group_of("msg.whatever") == "mail"
    assert group_of("brand.new") == "other"


def test_unknown_task_and_dropped_core_options_are_usage_errors(git_repo: Path) -> None:
    for args in (("help", "nosuch"), ("--dry", "agent.list"), ("--pty", "agent.list"), ("agent.list", "--echo")):
        proc = coord(git_repo, *args)
        assert proc.returncode == 2, (args, proc.stdout, proc.stderr)
        assert len(proc.stderr.strip().splitlines()) == 1 and proc.stdout == ""


def test_version_with_and_without_invoke(tmp_path: Path) -> None:
    for flag in ("--version", "-V"):
        proc = coord(tmp_path, flag)
        assert (proc.returncode, proc.stdout) == (0, f"coord {__version__}\n")


def test_missing_role_lists_the_configured_roles(git_repo: Path) -> None:
    (git_repo / "coord.toml").write_text('roles = ["pm", "alpha", "beta"]\n')
    for task in ("agent.setup", "session.start", "agent.merge", "agent.teardown", "agent.restore"):
        proc = coord(git_repo, task)
        assert proc.returncode == 2, (task, proc.stderr)
        (line,) = proc.stderr.strip().splitlines()
        assert line.startswith(f"coord: {task} needs ROLE, one of: pm, alpha, beta (usage: coord {task} ROLE")
    empty = coord(git_repo, "agent.setup", "")
    assert empty.returncode == 2 and "one of: pm, alpha, beta" in empty.stderr
    assert not (git_repo / ".worktrees").exists()


def test_invoke_is_imported_without_mock_or_metadata_and_both_still_work() -> None:
    script = (
        "import sys\n"
        "import coord.cli\n"
        "coord.cli.program\n"
        "print(*[m in sys.modules for m in ('unittest.mock', 'importlib.metadata', 'asyncio', 'email')])\n"
        "import invoke\n"
        "from importlib import metadata\n"
        "print(invoke.__version__ == metadata.version('invoke'), callable(metadata.distribution))\n"
        "from invoke import MockContext, Result\n"
        "c = MockContext(run=Result('hi'))\n"
        "print(c.run('x').stdout, type(c.run).__module__)\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["False", "False", "False", "False", "True", "True", "hi", "unittest.mock"]


def test_doctor_before_init_says_missing_and_init_leaves_a_clean_checkout(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "fresh")
    before = coord(repo, "doctor", "--skip-mcp")
    assert before.returncode != 0
    lines = {line.split()[1]: line for line in before.stdout.splitlines() if len(line.split()) > 1}
    assert lines["files"].startswith("FAIL") and "missing" in lines["files"] and "differ" not in lines["files"]
    assert lines["committed"].startswith("FAIL") and "missing" in lines["committed"]

    init = coord(repo, "init")
    assert init.returncode == 0, init.stderr
    assert "/.worktrees/" in (repo / ".gitignore").read_text().splitlines()
    (command,) = [line for line in init.stdout.splitlines() if "git add" in line]
    add = shlex.split(command[command.index("git add"):].split(" && ")[0])
    assert ".gitignore" in add
    git(repo, *add[1:])
    git(repo, "commit", "-q", "-m", "coord init")
    assert git(repo, "status", "--porcelain").stdout == ""
    setup = coord(repo, "agent.setup", "backend")
    assert setup.returncode == 0, setup.stderr
    assert "warning" not in setup.stderr
    assert git(repo, "status", "--porcelain").stdout == ""
    assert git(repo / ".worktrees" / "backend", "status", "--porcelain").stdout == ""

    (repo / ".claude" / "coord" / "pm-cli.md").write_text("edited\n")
    after = coord(repo, "doctor", "--skip-mcp")
    files = next(line for line in after.stdout.splitlines() if line.split()[1:2] == ["files"])
    assert "1 generated file(s) differ" in files and "missing" not in files


@pytest.mark.parametrize("existing", ["node_modules/\n", "/.worktrees/\n", ".worktrees/\n"])
def test_init_adds_the_worktree_line_once_and_keeps_the_rest(tmp_path: Path, existing: str) -> None:
    repo = make_repo(tmp_path / "r")
    (repo / ".gitignore").write_text(existing)
    assert coord(repo, "init").returncode == 0
    text = (repo / ".gitignore").read_text()
    assert text.startswith(existing)
    assert sum(line.strip("/") == ".worktrees" for line in text.splitlines()) == 1
    again = coord(repo, "init")
    assert "already up to date" in again.stdout and (repo / ".gitignore").read_text() == text
