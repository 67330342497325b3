"""Who a session acts as: its role resolved from the environment, the checkout's git identity and
the checkout itself. One rule for every face (hooks, MCP server, doctor, tasks), so the hooks and
the tools of one session always agree on who it is.

The rule: COORD_ROLE (or CLAUDE_INSTANCE_ID), else the role in the checkout's git user.email, else (main checkout
only) the main role; then the role must be acting from its own checkout. The hooks run on every
prompt, so they read user.email from git's own files (email_from_files: no process start); the
MCP server and the tasks start once and may ask git itself (email_from_git). Both feed the same
resolve_role. This module imports nothing heavy: coord.git is loaded only by email_from_git.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from coord.errors import CoordError
from coord.identity import IDENTITY_ENVS, Identity, check_checkout, resolve_identity, role_from_email

if TYPE_CHECKING:
    from coord.config import Config
    from coord.repo import RepoPaths

MAIN_CHECKOUT = "main checkout"  # Identity.source of the main role resolved by where the session runs

EmailSource = str | None | Callable[[], str | None]


# ---------------------------------------------------------------------------------------------
# Reading user.email without starting git (a process start per prompt would blow the hook's budget).


def parse_git_config(text: str) -> dict[str, str]:
    """`section.key` (and `section.sub.key`) -> value for the simple files git writes itself.
    Not a full parser (no includes, no line continuations): coord only needs user.email and
    extensions.worktreeConfig, which git writes plainly."""
    values: dict[str, str] = {}
    section = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("["):
            inner = line[1 : line.find("]")] if "]" in line else line[1:]
            name, _, sub = inner.partition(" ")
            sub = sub.strip().strip('"')
            section = name.lower() + (f".{sub}" if sub else "")
            continue
        key, eq, value = line.partition("=")
        values[f"{section}.{key.strip().lower()}"] = config_value(value) if eq else "true"
    return values


def config_value(raw: str) -> str:
    """A value as git reads it: quotes group, backslash escapes, # or ; outside quotes start a comment."""
    out: list[str] = []
    quoted = False
    chars = iter(raw.strip())
    for ch in chars:
        if ch == "\\":
            nxt = next(chars, "")
            out.append({"n": "\n", "t": "\t", "b": "\b"}.get(nxt, nxt))
        elif ch == '"':
            quoted = not quoted
        elif ch in "#;" and not quoted:
            break
        else:
            out.append(ch)
    return "".join(out).strip()


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def email_from_files(git_dir: Path, common_dir: Path) -> str | None:
    """The checkout's user.email as git would resolve it from the repository's own files:
    the per-worktree config (only when extensions.worktreeConfig is on), then the shared config."""
    shared = parse_git_config(_read(common_dir / "config"))
    if shared.get("extensions.worktreeconfig", "").lower() in ("true", "yes", "on", "1"):
        own = parse_git_config(_read(git_dir / "config.worktree"))
        if own.get("user.email"):
            return own["user.email"]
    return shared.get("user.email") or None


def email_from_git(paths: RepoPaths) -> str | None:
    """The checkout's effective git user.email as git reports it (includes and global config
    too), or None. Starts a git process: for commands and servers, not for the hooks."""
    try:
        from coord.git import config_get

        return config_get(paths.toplevel, "user.email")
    except (CoordError, ImportError, OSError):
        return None


# ---------------------------------------------------------------------------------------------
# The rule.


def resolve_role(paths: RepoPaths, config: Config, environ: Mapping[str, str], email: EmailSource) -> Identity:
    """The session's role and where it came from (IdentityError / InvalidInputError if none).
    email: the checkout's user.email (None when it has none), or a function returning it."""
    if callable(email):
        email = email()
    unset = not any(environ.get(name, "").strip() for name in IDENTITY_ENVS)
    if unset and role_from_email(email) is None and paths.is_main:
        return Identity(config.main_role, MAIN_CHECKOUT)
    return resolve_identity(environ, email, config.roles)


def identify(paths: RepoPaths, config: Config, environ: Mapping[str, str], email: EmailSource) -> Identity:
    """resolve_role, then check that this checkout is the role's own (IdentityError if not)."""
    identity = resolve_role(paths, config, environ, email)
    check_checkout(identity.role, str(paths.toplevel), str(paths.main_root), config.main_role, config.worktree_dir)
    return identity


@dataclass(frozen=True)
class Actor:
    """Who acts: a role resolved from the environment and checked against the checkout."""

    role: str
    source: str
    paths: RepoPaths
    config: Config


def resolve_actor(paths: RepoPaths, config: Config, environ: Mapping[str, str], email: EmailSource) -> Actor:
    """identify() as an Actor that carries its checkout and config."""
    identity = identify(paths, config, environ, email)
    return Actor(identity.role, identity.source, paths, config)
