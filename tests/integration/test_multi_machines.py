"""Two clones of one project as two machines on one shared Redis with TLS (client certificates
required) and one ACL user each, holding exactly coord.acl's privileges: presence, mail, claims and
role-taking across them (tests/integration/machines.py), and what a machine's user cannot do."""

from __future__ import annotations

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
from tests.conftest import make_project
from tests.integration.machines import run_scenario
from tests.integration.tls_server import TlsRedis, tls_redis
from tests.stress.support import clean_env, run_coord

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
