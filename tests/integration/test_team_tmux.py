"""team.up / team.down in a real tmux server of the test's own (`tmux -L`), with a real program
as each role's agent (tests/integration/fake_agent.py; the e2e suite runs the real Claude Code CLI)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from coord.keys import Keys
from tests.conftest import ValkeyProcess, git
from tests.integration.test_worktree_support import clean_env, run_coord

pytestmark = [pytest.mark.integration, pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux not installed")]
FAKE_AGENT = Path(__file__).with_name("fake_agent.py")
ROLES = ("pm", "backend", "qa")


def wait_for(what: str, check, timeout: float = 60.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


class TmuxServer:
    """A private tmux server (its own socket name), killed at the end of the test."""

    def __init__(self) -> None:
        self.name = f"coord-test-{uuid.uuid4().hex[:10]}"

    def run(self, *args: str, check: bool = True) -> str:
        proc = subprocess.run(["tmux", "-L", self.name, *args], capture_output=True, text=True, check=False)
        if check and proc.returncode != 0:
            raise AssertionError(proc.stderr)
        return proc.stdout

    def windows(self) -> dict[str, dict[str, str]]:
        text = self.run("list-windows", "-a", "-F",
                        "#{session_name}\t#{window_name}\t#{window_id}\t#{pane_pid}\t#{pane_current_path}",
                        check=False)
        out = {}
        for line in text.splitlines():
            session, name, wid, pid, path = line.split("\t")
            out[name] = {"session": session, "id": wid, "pid": pid, "path": path}
        return out

    def kill(self) -> None:
        subprocess.run(["tmux", "-L", self.name, "kill-server"], capture_output=True, check=False)
        (Path(os.environ.get("TMUX_TMPDIR") or "/tmp") / f"tmux-{os.getuid()}" / self.name).unlink(missing_ok=True)


@pytest.fixture
def tmux_server() -> Iterator[TmuxServer]:
    server = TmuxServer()
    yield server
    server.kill()


def team_repo(root: Path, agent_command: str) -> Path:
    from tests.conftest import make_repo

    repo = make_repo(root)
    (repo / "coord.toml").write_text(
        f'roles = {json.dumps(list(ROLES))}\nmain_role = "pm"\nagent_command = {json.dumps(agent_command)}\n')
    (repo / ".gitignore").write_text("/.worktrees/\n")
    git(repo, "add", "coord.toml", ".gitignore")
    git(repo, "commit", "-q", "-m", "coord settings")
    return repo


def presence(r: redis.Redis, keys: Keys) -> dict[str, str]:
    return {role: json.loads(raw)["status"] for role, raw in r.hgetall(keys.presence).items()}


def test_team_up_rerun_and_down(tmp_path: Path, tmux_server: TmuxServer, valkey: ValkeyProcess, namespace: str) -> None:
    repo = team_repo(tmp_path / "repo", f"{sys.executable} {FAKE_AGENT}")
    log = tmp_path / "log"
    log.mkdir()
    env = clean_env(COORD_REDIS_URL=valkey.url, COORD_NAMESPACE=namespace, COORD_TMUX_SOCKET=tmux_server.name,
                    FAKE_AGENT_LOG=str(log))
    r = redis.Redis.from_url(valkey.url, decode_responses=True)
    keys = Keys(namespace)

    up = run_coord(repo, "team.up", env=env)
    assert up.returncode == 0, up.stderr
    for role in ROLES:
        assert f"{role}: started" in up.stdout
    wait_for("every agent registered", lambda: presence(r, keys) == dict.fromkeys(ROLES, "active"))
    windows = tmux_server.windows()
    assert set(windows) == set(ROLES) and len({w["session"] for w in windows.values()}) == 1
    expected = {"pm": repo, "backend": repo / ".worktrees" / "backend", "qa": repo / ".worktrees" / "qa"}
    for role in ROLES:
        seen = json.loads((log / f"{role}.json").read_text())
        assert os.path.realpath(seen["cwd"]) == os.path.realpath(expected[role])
        assert seen["COORD_ROLE"] == role and seen["CLAUDE_INSTANCE_ID"] == role and seen["COORD_WAKE"] == "tmux"
        assert seen["TMUX_PANE"], "the waker needs the pane"
        assert os.path.realpath(windows[role]["path"]) == os.path.realpath(expected[role])

    (expected["backend"] / "work-in-progress.txt").write_text("not committed\n")
    again = run_coord(repo, "team.up", env=env)
    assert again.returncode == 0, again.stderr
    assert "started" not in again.stdout and again.stdout.count("already running") == len(ROLES)
    assert tmux_server.windows() == windows  # same windows, same programs: nothing new started

    down = run_coord(repo, "team.down", env=env)
    assert down.returncode == 0, down.stderr
    assert down.stdout.count("agent ended, window closed") == len(ROLES), down.stdout
    assert presence(r, keys) == dict.fromkeys(ROLES, "inactive")  # each agent's own end path ran
    assert tmux_server.windows() == {}
    assert (expected["backend"] / "work-in-progress.txt").read_text() == "not committed\n"
    assert expected["qa"].is_dir()
    branches = git(repo, "branch", "--format=%(refname:short)").stdout.split()
    assert "agent/backend/active" in branches and "agent/qa/active" in branches
    r.close()


def test_team_up_named_roles_only_and_restart_after_exit(
    tmp_path: Path, tmux_server: TmuxServer, valkey: ValkeyProcess, namespace: str,
) -> None:
    repo = team_repo(tmp_path / "repo", f"{sys.executable} {FAKE_AGENT}")
    log = tmp_path / "log"
    log.mkdir()
    env = clean_env(COORD_REDIS_URL=valkey.url, COORD_NAMESPACE=namespace, COORD_TMUX_SOCKET=tmux_server.name,
                    FAKE_AGENT_LOG=str(log))
    up = run_coord(repo, "team.up", "qa", env=env)
    assert up.returncode == 0, up.stderr
    assert set(tmux_server.windows()) == {"pm", "qa"}  # the main role comes along
    first = wait_for("qa's log", lambda: (log / "qa.json").is_file() and json.loads((log / "qa.json").read_text()))
    tmux_server.run("send-keys", "-t", tmux_server.windows()["qa"]["id"], "/exit", "Enter")
    wait_for("qa's window to close", lambda: "qa" not in tmux_server.windows())
    (log / "qa.json").unlink()
    up = run_coord(repo, "team.up", "qa", "backend", env=env)
    assert up.returncode == 0 and "qa: started" in up.stdout and "backend: started" in up.stdout
    assert "pm: already running" in up.stdout
    second = wait_for("qa's log", lambda: (log / "qa.json").is_file() and json.loads((log / "qa.json").read_text()))
    assert second["pid"] != first["pid"]
    down = run_coord(repo, "team.down", "backend", env=env)
    assert down.returncode == 0 and set(tmux_server.windows()) == {"pm", "qa"}


def test_tmux_missing_is_one_line_and_exit_9(tmp_path: Path) -> None:
    repo = team_repo(tmp_path / "repo", "claude")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "git").symlink_to(shutil.which("git"))
    done = run_coord(repo, "team.up", env=clean_env(PATH=str(bin_dir)))
    assert done.returncode == 9
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "tmux" in lines[0] and "install" in lines[0]
    assert not (repo / ".worktrees").exists()  # refused before anything changed


def test_missing_agent_command_and_no_team_to_attach(tmp_path: Path, tmux_server: TmuxServer) -> None:
    repo = team_repo(tmp_path / "repo", "no-such-agent-cli --flag")
    env = clean_env(COORD_TMUX_SOCKET=tmux_server.name, COORD_REDIS_URL="redis://127.0.0.1:1/0")
    done = run_coord(repo, "team.up", "pm", env=env)
    assert done.returncode == 9 and "no-such-agent-cli" in done.stderr
    attach = run_coord(repo, "team.attach", env=env)
    assert attach.returncode == 3 and "team.up" in attach.stderr


def client_view(server: TmuxServer) -> list[tuple[str, str]]:
    """(session, active window) of every client attached to the server."""
    text = server.run("list-clients", "-F", "#{client_session}\t#{window_name}", check=False)
    return [tuple(line.split("\t", 1)) for line in text.splitlines() if "\t" in line]  # type: ignore[misc]


def test_team_attach_switches_inside_tmux_and_attaches_from_another_server(
    tmp_path: Path, tmux_server: TmuxServer, valkey: ValkeyProcess, namespace: str,
) -> None:
    """A real client of the team's server (running in a pane of a second, outer server, as a
    terminal would host it): `coord team.attach qa` typed inside it switches that client to the
    team's session with qa's window selected. From a pane of the OTHER server (TMUX names that one)
    it attaches a new client instead of failing with tmux's "sessions should be nested" refusal."""
    repo = team_repo(tmp_path / "repo", f"{sys.executable} {FAKE_AGENT}")
    log = tmp_path / "log"
    log.mkdir()
    env = clean_env(COORD_REDIS_URL=valkey.url, COORD_NAMESPACE=namespace, COORD_TMUX_SOCKET=tmux_server.name,
                    FAKE_AGENT_LOG=str(log))
    env.pop("TMUX", None)
    assert run_coord(repo, "team.up", "qa", "backend", env=env).returncode == 0
    team_session = tmux_server.windows()["qa"]["session"]
    outer = TmuxServer()
    try:
        coord = f"{sys.executable} -m coord.cli"
        # a terminal (outer's pane) showing a session of the team's server: a real client of it
        subprocess.run(["tmux", "-L", outer.name, "new-session", "-d", "-s", "term", "-x", "120", "-y", "40", "--",
                        "env", "-u", "TMUX", "tmux", "-L", tmux_server.name, "new-session", "-s", "user"],
                       env=env, check=True, capture_output=True)
        wait_for("a client on the team's server", lambda: [c for c in client_view(tmux_server) if c[0] == "user"])
        tmux_server.run("send-keys", "-t", "=user:", f"cd {repo} && COORD_TMUX_SOCKET={tmux_server.name} "
                        f"COORD_REDIS_URL={valkey.url} COORD_NAMESPACE={namespace} {coord} team.attach qa", "Enter")
        wait_for("the client switched to qa's window", lambda: client_view(tmux_server) == [(team_session, "qa")],
                 timeout=90)

        # from a pane of the outer server: $TMUX names the outer server, so a new client attaches
        outer.run("new-window", "-t", "=term:", "-n", "from-outer", "-c", str(repo), "--", "env",
                  f"COORD_TMUX_SOCKET={tmux_server.name}", f"COORD_REDIS_URL={valkey.url}",
                  f"COORD_NAMESPACE={namespace}", *coord.split(), "team.attach", "backend")
        wait_for("a second client, on backend's window",
                 lambda: sorted(client_view(tmux_server)) == [(team_session, "backend"), (team_session, "backend")],
                 timeout=90)
    finally:
        outer.kill()
    assert run_coord(repo, "team.down", env=env).returncode == 0


def test_tmux_too_old_is_one_line_and_exit_9(tmp_path: Path) -> None:
    repo = team_repo(tmp_path / "repo", "claude")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "git").symlink_to(shutil.which("git"))
    old = bin_dir / "tmux"
    old.write_text("#!/bin/sh\necho 'tmux 2.9a'\n")
    old.chmod(0o755)
    done = run_coord(repo, "team.up", env=clean_env(PATH=f"{bin_dir}{os.pathsep}/usr/bin:/bin"))
    assert done.returncode == 9, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "tmux 2.9 is too old" in lines[0] and "install" in lines[0], lines
    assert not (repo / ".worktrees").exists()
