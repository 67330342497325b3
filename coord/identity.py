"""Who an agent is: role rules, the role's git identity, and how a session's role is resolved.

Pure functions: the callers pass in the environment, the configured roles and whatever git said.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from coord.errors import IdentityError, InvalidInputError

ROLE_PATTERN = re.compile(r"[a-z][a-z0-9-]{0,31}")
EMAIL_DOMAIN = "coord.invalid"  # RFC 2606: never a real mailbox, so it cannot collide with one
INSTANCE_ENV = "CLAUDE_INSTANCE_ID"
ROLE_ENV = "COORD_ROLE"  # the agent-neutral variable (Codex, Gemini CLI, any launcher); INSTANCE_ENV still works
IDENTITY_ENVS = (ROLE_ENV, INSTANCE_ENV)


def check_role_syntax(role: object) -> str:
    """Refuse any string that could act as a path, an option, a ref or a shell fragment."""
    if not isinstance(role, str) or not ROLE_PATTERN.fullmatch(role):
        shown = repr(role)
        if len(shown) > 60:
            shown = shown[:57] + "..."
        raise InvalidInputError(
            f"invalid role name {shown}",
            "a role is 1-32 characters: a lowercase letter, then lowercase letters, digits or '-'",
        )
    return role


def validate_role(role: object, roles: Iterable[str]) -> str:
    """A role must be well-formed AND configured; returns it unchanged when it is."""
    checked = check_role_syntax(role)
    known = tuple(roles)
    if checked not in known:
        raise InvalidInputError(
            f"unknown role {checked!r}",
            f"use one of: {', '.join(known)} (or add it to roles in coord.toml)",
        )
    return checked


def role_email(role: str) -> str:
    """The git user.email of a role: the role can be read back from it (role_from_email)."""
    return f"{role}@{EMAIL_DOMAIN}"


def role_name(role: str) -> str:
    """The git user.name of a role, as it appears in `git log`."""
    return f"coord agent {role}"


def role_from_email(email: str | None) -> str | None:
    """The role an email was made for by role_email, or None for any other address."""
    if not email:
        return None
    local, sep, domain = email.strip().rpartition("@")
    if not sep or domain != EMAIL_DOMAIN or not ROLE_PATTERN.fullmatch(local):
        return None
    return local


def role_of_branch(branch: str | None) -> str | None:
    """The role whose agent branch this is (agent/<role>/active), else None."""
    if not branch:
        return None
    parts = branch.removeprefix("refs/heads/").split("/")
    if len(parts) == 3 and parts[0] == "agent" and parts[2] == "active" and ROLE_PATTERN.fullmatch(parts[1]):
        return parts[1]
    return None


def role_of_worktree(path: str, branch: str | None, folder: str) -> str | None:
    """Whose worktree this is: the role of its agent branch wherever it sits (a `git worktree move`
    moves the folder, not the role), else, for a worktree in the worktree folder on some other
    branch or detached, its folder's name. None: not an agent worktree. Paths resolved."""
    if role := role_of_branch(branch):
        return role
    head, _, name = path.rstrip("/").rpartition("/")
    return name if head == folder.rstrip("/") else None


@dataclass(frozen=True)
class Identity:
    """A resolved role and where it came from (for messages that explain a refusal)."""

    role: str
    source: str  # "COORD_ROLE", "CLAUDE_INSTANCE_ID" or "git user.email"


def role_from_env(environ: Mapping[str, str]) -> tuple[str, str] | None:
    """(role, variable) from COORD_ROLE or CLAUDE_INSTANCE_ID, None when neither is set. Both set
    to different roles is refused: one launcher said one thing, another the opposite."""
    given = [(environ.get(name, "").strip(), name) for name in IDENTITY_ENVS]
    given = [(value, name) for value, name in given if value]
    if not given:
        return None
    if len({value for value, _ in given}) > 1:
        shown = " but ".join(f"{name}={value}" for value, name in given)
        raise IdentityError(f"{shown}: two identities for one session", f"set only {ROLE_ENV} (or make both agree)")
    return given[0]


def resolve_identity(
    environ: Mapping[str, str], git_email: str | None, roles: Iterable[str]
) -> Identity:
    """COORD_ROLE (or CLAUDE_INSTANCE_ID) first, then the worktree's git user.email; both must name a known role.

    When both are present they must agree: an instance id that contradicts the checkout's
    identity is how one agent would pose as another.
    """
    known = tuple(roles)
    found = role_from_env(environ)
    from_git = role_from_email(git_email)
    if found:
        from_env, variable = found
        role = validate_role(from_env, known)
        if from_git and from_git != role:
            raise IdentityError(
                f"{variable}={role} but this checkout belongs to {from_git}",
                f"start the session in the {role} worktree, or set {variable}={from_git}",
            )
        return Identity(role, variable)
    if from_git:
        return Identity(validate_role(from_git, known), "git user.email")
    raise IdentityError(
        f"no agent identity: neither {ROLE_ENV} nor {INSTANCE_ENV} is set and git user.email is not a coord role",
        "start the agent with `coord session.start ROLE`",
    )


def expected_checkout(role: str, main_role: str, worktree_dir: str) -> str:
    """Where a role must work, relative to the main checkout: '.' or '<worktree_dir>/<role>'."""
    return "." if role == main_role else f"{worktree_dir}/{role}"


def check_checkout(role: str, toplevel: str, main_root: str, main_role: str, worktree_dir: str) -> None:
    """A role may act only from its own checkout: the main role from the main checkout, every
    other role from `<worktree_dir>/<role>`. Paths are absolute and already resolved."""
    expected = main_root if role == main_role else f"{main_root.rstrip('/')}/{worktree_dir.strip('/')}/{role}"
    if toplevel.rstrip("/") != expected.rstrip("/"):
        raise IdentityError(
            f"role {role} must work in {expected}, but this session is in {toplevel}",
            f"cd {expected} and start the agent there (coord session.start {role})",
        )
