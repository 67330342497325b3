"""One clone's processes run with their clock shifted by +/- 10 minutes (libfaketime): every time
that decides is the Redis server's, so nothing live goes stale, nothing live is taken over, and
claims expire on the server's clock. Real hook processes, a real Valkey, real git."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from coord import claim_store
from coord.config import load_config
from coord.repo import find_repo
from coord.store import Store, open_store
from tests.conftest import ValkeyProcess
from tests.stress.support import agents_repo, clean_env

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(shutil.which("faketime") is None, reason="faketime not installed (.ci/run installs it)"),
]

SKEWS = {"+10m": 600.0, "-10m": -600.0}


def skewed(
    skew: str, args: list[str], cwd: Path, env: dict[str, str], stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["faketime", "-f", skew, *args], cwd=cwd, env=env, input=stdin,
                          capture_output=True, text=True, timeout=60)


def hook(cwd: Path, env: dict[str, str], session: str, skew: str | None = None) -> dict[str, object]:
    args = [sys.executable, "-m", "coord.hooks", "user-prompt-submit"]
    stdin = json.dumps({"session_id": session, "prompt": "go on"})
    if skew is None:
        proc = subprocess.run(args, cwd=cwd, env=env, input=stdin, capture_output=True, text=True, timeout=60)
    else:
        proc = skewed(skew, args, cwd, env, stdin)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    return json.loads(proc.stdout) if proc.stdout.strip() else {}


CLAIM = """
import sys
from coord import claim_store
from coord.config import load_config
from coord.repo import find_repo
from coord.store import open_store
paths = find_repo('.')
with open_store(paths, load_config(paths.main_root)) as store:
    claim_store.claim(store, 'pm', [sys.argv[1]], 'skewed clock', int(sys.argv[2]))
"""


def store_for(repo: Path, env: dict[str, str]) -> Store:
    paths = find_repo(repo)
    return open_store(paths, load_config(paths.main_root, env))


@pytest.mark.parametrize("skew", sorted(SKEWS))
def test_a_skewed_clone_stays_live_keeps_its_role_and_its_claims_expire_on_server_time(
    tmp_path: Path, valkey: ValkeyProcess, namespace: str, skew: str
) -> None:
    repo = agents_repo(tmp_path / "repo", ("pm", "backend"))
    env = clean_env(COORD_REDIS_URL=valkey.url, COORD_NAMESPACE=namespace, CLAUDE_INSTANCE_ID="pm",
                    CLAUDE_PROJECT_DIR=str(repo))
    shown = skewed(skew, [sys.executable, "-c", "import time; print(time.time())"], repo, env)
    assert abs(float(shown.stdout) - time.time() - SKEWS[skew]) < 30  # the clock really is shifted

    assert hook(repo, env, "s-skewed", skew).get("decision") != "block"  # takes the free role
    with store_for(repo, env) as store:
        pm = next(v for v in store.presence() if v.role == "pm")
        assert pm.status == "active" and pm.session_id == "s-skewed"
        assert pm.seconds_since_heartbeat is not None and pm.seconds_since_heartbeat < 60
        assert abs(pm.last_heartbeat - store.server_time()) < 60  # type: ignore[operator]

    # a session on a correct clock cannot take the live role
    blocked = hook(repo, env, "s-other")
    assert blocked.get("decision") == "block" and "s-skewed" in json.dumps(blocked)
    assert hook(repo, env, "s-skewed", skew).get("decision") != "block"  # the holder goes on

    # claims: made on the skewed clock, they last their ttl on the server's
    code = [sys.executable, "-c", CLAIM]
    made = skewed(skew, [*code, "src/**", "300"], repo, env)
    assert made.returncode == 0, made.stderr
    made = skewed(skew, [*code, "docs/**", "2"], repo, env)
    assert made.returncode == 0, made.stderr
    with store_for(repo, env) as store:
        left = {c["pattern"]: c["seconds_left"] for c in claim_store.read(store).to_dict()["claims"]}  # type: ignore[index]
        assert 290 < left["src/**"] <= 300  # type: ignore[operator]
        assert left["docs/**"] <= 2  # type: ignore[operator]
        assert claim_store.find_blocking(store, "backend", ["src/a.py"]) is not None
        deadline = time.monotonic() + 30
        while claim_store.find_blocking(store, "backend", ["docs/a.md"]) is not None:
            assert time.monotonic() < deadline, "a 2 s claim made on a skewed clock did not expire"
            time.sleep(0.2)
        assert claim_store.find_blocking(store, "backend", ["src/a.py"]) is not None


def test_messages_are_stamped_with_server_time_and_doctor_reports_the_offset(
    tmp_path: Path, valkey: ValkeyProcess, namespace: str
) -> None:
    repo = agents_repo(tmp_path / "repo", ("pm", "backend"))
    env = clean_env(COORD_REDIS_URL=valkey.url, COORD_NAMESPACE=namespace, CLAUDE_INSTANCE_ID="pm",
                    CLAUDE_PROJECT_DIR=str(repo))
    send = skewed("+10m", [sys.executable, "-m", "coord.cli", "msg.send", "backend", "INFO", "hello"], repo, env)
    assert send.returncode == 0, send.stderr
    with store_for(repo, env) as store:
        (msg,) = store.check("backend").messages
        assert abs(msg.timestamp - store.server_time()) < 60
    doctor = skewed("-10m", [sys.executable, "-m", "coord.cli", "doctor", "--skip-mcp"], repo, env)
    assert "s behind the Redis server's" in doctor.stdout, doctor.stdout
    calm = subprocess.run([sys.executable, "-m", "coord.cli", "doctor", "--skip-mcp"], cwd=repo, env=env,
                          capture_output=True, text=True, timeout=60)
    assert "clock" not in calm.stdout.split("redis", 1)[1].splitlines()[0], calm.stdout


def test_an_injected_clock_still_decides_for_tests(valkey: ValkeyProcess, namespace: str) -> None:
    """The clock parameter stays for exact boundary tests; without it the server decides."""
    from coord.config import Config

    fixed = Store(valkey.url, namespace, Config(roles=("pm", "qa")), clock=lambda: 1000.0)
    fixed.register("qa", "s", "/x")
    assert next(v for v in fixed.presence() if v.role == "qa").last_heartbeat == 1000.0
    server = Store(valkey.url, namespace, Config(roles=("pm", "qa")))
    assert next(v for v in server.presence() if v.role == "qa").status == "stale"  # 1000.0 is long ago
    fixed.close()
    server.close()
