"""The secret of a shared Redis stays out of every committed file.

coord.toml is committed, so its `redis_url` must not carry a password (coord.config refuses one).
The machine's credentials come from, in order:
1. the URL itself when it comes from the environment (COORD_REDIS_URL=rediss://user:pw@...);
2. COORD_REDIS_USER / COORD_REDIS_PASSWORD in the environment;
3. `.git/coord/redis-auth`, which only this machine has (never committed: it is under .git),
   readable by its owner alone (0600; a looser file is refused, not used): one line, `USER PASSWORD`,
   or `PASSWORD` alone for the default user.
Each machine of a team thus shares coord.toml's URL and has its own ACL user (coord.acl).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import quote, urlsplit

from coord.errors import ConfigError

AUTH_FILE = "redis-auth"  # under the repository's coord state folder (.git/coord/)


def auth_file(state_dir: Path) -> Path:
    return state_dir / AUTH_FILE


def read_auth(path: Path) -> tuple[str | None, str] | None:
    """(user or None, password) from the file, None when there is none; ConfigError when another
    user could read it or it is empty."""
    try:
        info = path.stat()
    except FileNotFoundError:
        return None
    if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(
            f"{path} is readable by others (mode {stat.S_IMODE(info.st_mode):o}); it holds the Redis password",
            f"chmod 600 {path}",
        )
    words = path.read_text(encoding="utf-8").split()
    if not words or len(words) > 2:
        raise ConfigError(f"{path} must hold one line: USER PASSWORD, or PASSWORD", None)
    return (words[0], words[1]) if len(words) == 2 else (None, words[0])


def write_auth(path: Path, user: str | None, password: str) -> None:
    """Record the machine's credentials, created 0600 (never readable by others, not even briefly)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(f"{user} {password}\n" if user else f"{password}\n")
    os.chmod(path, 0o600)


def with_secret(url: str, state_dir: Path, environ: Mapping[str, str] | None = None) -> str:
    """url with the machine's user and password put in, when url has no password of its own."""
    environ = os.environ if environ is None else environ
    parts = urlsplit(url)
    if parts.password is not None or parts.scheme not in ("redis", "rediss", "unix"):
        return url
    password = environ.get("COORD_REDIS_PASSWORD")
    user = environ.get("COORD_REDIS_USER") or parts.username
    if password is None:
        found = read_auth(auth_file(state_dir))
        if found is None:
            return url
        user = found[0] or user
        password = found[1]
    userinfo = f"{quote(user, safe='')}:{quote(password, safe='')}@" if user else f":{quote(password, safe='')}@"
    host = parts.netloc.rpartition("@")[2]
    return parts._replace(netloc=userinfo + host).geturl()


def split_secret(url: str) -> tuple[str, str | None, str | None]:
    """(the URL without user and password, user, password): what `coord init` keeps apart."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return parts._replace(netloc=host).geturl(), parts.username, parts.password


def record(main_root: Path, state_dir: Path, url: str) -> list[str]:
    """`coord init` with COORD_REDIS_URL carrying a secret: the password (and user) go to this
    machine's 0600 file, and coord.toml gets the URL without them when it names no URL yet, so the
    team can commit it. Returns what it wrote (coord.toml relative to the root, the file's path)."""
    bare, user, password = split_secret(url)
    if password is None:
        return []
    write_auth(auth_file(state_dir), user, password)
    wrote = [str(auth_file(state_dir))]
    toml = main_root / "coord.toml"
    text = toml.read_text(encoding="utf-8") if toml.is_file() else ""
    import tomllib

    try:
        known = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return wrote  # coord.config reports the broken file on its own
    if "redis_url" not in known:
        import json

        sep = "" if not text or text.endswith("\n") else "\n"
        toml.write_text(f"{text}{sep}redis_url = {json.dumps(bare)}\n", encoding="utf-8")
        wrote.insert(0, "coord.toml")
    return wrote
