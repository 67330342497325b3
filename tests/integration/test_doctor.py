"""`coord doctor` on real repositories, a real Valkey and a real `coord mcp` subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import redis

from coord.keys import Keys
from tests.conftest import ValkeyProcess, free_port, git

pytestmark = pytest.mark.integration


def doctor(cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "coord.cli", "doctor", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=180)


def lines(result: subprocess.CompletedProcess[str]) -> dict[str, str]:
    """check name -> its whole line."""
    found = {}
    for line in result.stdout.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] in ("ok", "FAIL"):
            found[parts[1]] = line
    return found


@pytest.fixture
def ready(git_repo: Path, coord_env: dict[str, str]) -> Path:
    """A repository with coord's files rendered and committed."""
    subprocess.run([sys.executable, "-m", "coord.cli", "init"], cwd=git_repo, env=coord_env, check=True,
                   capture_output=True)
    git(git_repo, "add", "-A")
    git(git_repo, "commit", "-q", "-m", "coord init")
    return git_repo


def test_healthy_setup_passes_every_check_and_the_probe_registers_nothing(
    ready: Path, coord_env: dict[str, str], valkey: ValkeyProcess, namespace: str
) -> None:
    result = doctor(ready, {**coord_env, "CLAUDE_INSTANCE_ID": "pm"})
    assert result.returncode == 0, result.stdout + result.stderr
    found = lines(result)
    assert set(found) == {"repository", "config", "identity", "checkout", "commands", "redis", "files", "committed",
                          "mcp"}
    assert all(line.startswith("ok") for line in found.values()), result.stdout
    assert "role pm (from CLAUDE_INSTANCE_ID)" in found["identity"]
    assert "listed" in found["mcp"]
    client = redis.Redis.from_url(valkey.url, decode_responses=True)
    try:
        assert client.hget(Keys(namespace).presence, "pm") is None  # the MCP probe held no role
    finally:
        client.close()


def test_redis_down_fails_its_line_with_exit_5_and_the_other_checks_still_run(
    ready: Path, coord_env: dict[str, str]
) -> None:
    env = {**coord_env, "COORD_REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"}
    result = doctor(ready, env, "--skip-mcp")
    assert result.returncode == 5
    found = lines(result)
    assert found["redis"].startswith("FAIL") and "COORD_REDIS_URL" in found["redis"]
    assert "redis.up" not in found["redis"]
    assert found["files"].startswith("ok") and found["identity"].startswith("ok")
    assert "Traceback" not in result.stderr


def test_drifted_and_uncommitted_files_fail_with_exit_12(ready: Path, coord_env: dict[str, str]) -> None:
    rules = ready / ".claude/rules/coordination-protocol.md"
    rules.write_text(rules.read_text().replace("stale", "old"))
    result = doctor(ready, coord_env, "--skip-mcp")
    assert result.returncode == 12
    found = lines(result)
    assert found["files"].startswith("FAIL") and ".claude/rules/coordination-protocol.md" in found["files"]
    assert found["committed"].startswith("FAIL") and "git add" in found["committed"]


def test_wrong_checkout_fails_identity_checks(ready: Path, coord_env: dict[str, str]) -> None:
    result = doctor(ready, coord_env, "--role", "frontend", "--skip-mcp")
    assert result.returncode == 6
    found = lines(result)
    assert found["identity"].startswith("ok") and found["checkout"].startswith("FAIL")
    assert ".worktrees/frontend" in found["checkout"]
    unknown = doctor(ready, coord_env, "--role", "nobody", "--skip-mcp")
    assert unknown.returncode == 2 and lines(unknown)["identity"].startswith("FAIL")


def test_missing_commands_are_reported(ready: Path, coord_env: dict[str, str], tmp_path: Path) -> None:
    env = {**coord_env, "PATH": os.pathsep.join(p for p in ("/usr/bin", "/bin") if os.path.isdir(p))}
    result = doctor(ready, env, "--skip-mcp")
    assert result.returncode == 9
    assert lines(result)["commands"].startswith("FAIL") and "coord-hook" in lines(result)["commands"]


def test_outside_a_repository_is_one_failed_line(tmp_path: Path, coord_env: dict[str, str]) -> None:
    result = doctor(tmp_path, coord_env, "--skip-mcp")
    assert result.returncode == 9
    assert list(lines(result)) == ["repository"]
