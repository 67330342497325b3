"""Where a shared Redis's secret comes from (never a committed file), and client certificates in
the URL."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from coord.credentials import auth_file, read_auth, split_secret, with_secret, write_auth
from coord.errors import ConfigError
from coord.resp_url import parse_url

URL = "rediss://redis.internal:6380/0?ssl_ca_certs=/etc/ca.pem"


def test_the_environment_then_the_file_fill_in_user_and_password(tmp_path: Path) -> None:
    env = {"COORD_REDIS_USER": "box-a", "COORD_REDIS_PASSWORD": "p@ss:w/rd"}
    filled = parse_url(with_secret(URL, tmp_path, env))
    assert (filled.username, filled.password) == ("box-a", "p@ss:w/rd")
    assert (filled.host, filled.port) == ("redis.internal", 6380)
    assert with_secret(URL, tmp_path, {}) == URL  # nothing anywhere: as it was
    write_auth(auth_file(tmp_path), "box-b", "from-file")
    assert oct(auth_file(tmp_path).stat().st_mode & 0o777) == "0o600"
    got = parse_url(with_secret(URL, tmp_path, {}))
    assert (got.username, got.password, got.ca_certs) == ("box-b", "from-file", "/etc/ca.pem")
    own = "rediss://u:given@h:1/0"
    assert with_secret(own, tmp_path, env) == own  # a URL with its own password wins


def test_a_file_others_can_read_is_refused_and_so_is_garbage(tmp_path: Path) -> None:
    path = auth_file(tmp_path)
    write_auth(path, None, "only-password")
    assert read_auth(path) == (None, "only-password")
    os.chmod(path, 0o640)
    with pytest.raises(ConfigError, match="readable by others") as info:
        read_auth(path)
    assert "chmod 600" in info.value.line()
    os.chmod(path, 0o600)
    path.write_text("a b c\n")
    with pytest.raises(ConfigError):
        read_auth(path)


def test_split_secret_keeps_the_rest_of_the_url() -> None:
    assert split_secret("rediss://box-a:pw@h:6380/2?ssl_ca_certs=/c.pem") == (
        "rediss://h:6380/2?ssl_ca_certs=/c.pem", "box-a", "pw")
    assert split_secret("redis://h:1/0") == ("redis://h:1/0", None, None)


def test_client_certificate_paths_in_the_url_expand_home() -> None:
    end = parse_url("rediss://h:6380/0?ssl_ca_certs=~/ca.pem&ssl_certfile=~/a.pem&ssl_keyfile=%2Fk%20ey.pem")
    home = os.path.expanduser("~")
    assert (end.ca_certs, end.certfile, end.keyfile) == (f"{home}/ca.pem", f"{home}/a.pem", "/k ey.pem")
    assert end.with_address("10.0.0.2", 7000).certfile == f"{home}/a.pem"  # Cluster redirection keeps them
