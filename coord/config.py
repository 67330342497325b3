"""Every setting coord reads, with its default, in one place.

Precedence: COORD_<KEY> in the environment, then coord.toml at the repository root, then the
default below. Kept to stdlib (tomllib) because the per-prompt hook loads it on every turn.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import Field, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from coord import adhoc
from coord.errors import ConfigError, CoordError, InvalidInputError, SettingsError
from coord.identity import check_role_syntax

CONFIG_FILE = "coord.toml"
ENV_PREFIX = "COORD_"

DEFAULT_ROLES: tuple[str, ...] = ("pm", "orchestrator", "backend", "frontend", "devops", "qa")


@dataclass(frozen=True)
class Config:
    """The resolved settings of one repository. Field docs are rendered into README and rules."""

    roles: tuple[str, ...] = DEFAULT_ROLES
    main_role: str = "pm"
    base_branch: str | None = None  # None: the branch checked out in the main worktree
    worktree_dir: str = ".worktrees"
    redis_url: str | None = None  # None: the repository's embedded server
    namespace: str | None = None  # None: derived from the repository (see coord.repo)
    presence_ttl_seconds: int = 300
    stale_seconds: int = 300
    heartbeat_seconds: int = 60
    max_body_bytes: int = 65536
    recent_notifications: int = 5
    claim_ttl_seconds: int = 1800
    claims_when_offline: str = "allow"  # "allow" or "deny": edits/commits when Redis cannot be reached
    repeat_limit: int = 3
    repeat_window_seconds: int = 60
    host: str | None = None  # None: this machine's hostname; set per machine (COORD_HOST), not in coord.toml
    own_claude_worktrees: bool = True  # coord init renders WorktreeCreate/WorktreeRemove hooks
    agents: tuple[str, ...] = ("claude",)  # the agent CLIs coord init renders files for
    # Not a setting: the ad-hoc agents recorded on this machine (coord.adhoc), already in roles.
    adhoc_roles: tuple[str, ...] = field(default=(), metadata={"setting": False})
    team: tuple[str, ...] = ()  # roles `coord team.up` starts with no ROLE given; () = every role
    agent_command: str = "claude"  # the agent CLI team.up starts in each role's tmux window
    agent_command_by_role: tuple[tuple[str, str], ...] = ()  # (role, command): overrides agent_command
    remote: str | None = None  # None: origin when the repository has it; "none": agent branches stay local
    fetch_seconds: int = 30  # least time between two fetches of agent branches from the remote
    replicas_to_ack: int = 0  # writes WAIT for this many replicas (0: the primary's answer is enough)
    keep_going_max: int = 3  # Stop hook continuations in a row for unseen actionable mail; 0 = off (coord.delivery)
    wake_after_seconds: int = 20  # the idle waker types into a coord-started tmux pane after this much idle time
    hook_transport: str = "mcp_tool"  # "mcp_tool" or "command": how the per-tool-call hooks reach coord

    def team_roles(self) -> tuple[str, ...]:
        """The roles team.up starts by default, main role included, in configured order."""
        wanted = set(self.team) if self.team else set(self.roles)
        return tuple(r for r in self.roles if r in wanted)

    def agent_command_for(self, role: str) -> str:
        """The command line started for role: its own override, else agent_command."""
        return dict(self.agent_command_by_role).get(role, self.agent_command)

    def agent_roles(self) -> tuple[str, ...]:
        """Roles that get a worktree of their own (all but the main role), ad-hoc agents included."""
        return tuple(r for r in self.roles if r != self.main_role)

    def configured_roles(self) -> tuple[str, ...]:
        """The roles coord.toml (or the default) names, without this machine's ad-hoc agents: what
        committed, shared files are rendered from."""
        return tuple(r for r in self.roles if r not in self.adhoc_roles)

    def configured(self) -> Config:
        """The same settings without the ad-hoc agents."""
        return replace(self, roles=self.configured_roles(), adhoc_roles=())


def setting_fields() -> tuple[Field[object], ...]:
    """The dataclass fields that are settings (coord.toml keys, COORD_<KEY> variables)."""
    return tuple(f for f in fields(Config) if f.metadata.get("setting", True))


SETTING_HELP: dict[str, str] = {
    "roles": "the roles agents may take (comma-separated in COORD_ROLES)",
    "main_role": "the role that works in the main checkout instead of a worktree",
    "base_branch": "branch agents start from and merge into (default: the main checkout's branch)",
    "worktree_dir": "folder, relative to the repository root, that holds the agent worktrees",
    "redis_url": "redis://, rediss:// or unix:// URL of a shared server (default: embedded)",
    "namespace": "prefix of every Redis key (default: derived from the repository)",
    "presence_ttl_seconds": "lifetime of a session's liveness key, refreshed by each heartbeat",
    "stale_seconds": "a session whose last heartbeat is this old or older is stale",
    "heartbeat_seconds": "how often a live session heartbeats",
    "max_body_bytes": "largest message body accepted, in UTF-8 bytes",
    "recent_notifications": "how many of the newest pending messages a notification summary shows",
    "claim_ttl_seconds": "default lifetime of a file claim",
    "claims_when_offline": "allow (default) or deny: what the edit hook and commit guard do when Redis is down",
    "repeat_limit": "identical messages (same sender, recipient, type, body) accepted per window; more are a loop",
    "repeat_window_seconds": "the loop guard's window, counted from the first of the identical messages",
    "host": "this machine's name in presence (default: its hostname); set per machine with COORD_HOST",
    "own_claude_worktrees": "render WorktreeCreate/WorktreeRemove hooks, so `claude --worktree NAME` and "
    "subagent worktrees become coord worktrees (true/false)",
    "agents": "the agent CLIs the project supports, of claude, codex, gemini: coord init renders each one's files",
    "team": "roles `coord team.up` starts when none are named (default: every role)",
    "agent_command": "the agent command line team.up runs in each role's tmux window",
    "agent_command_by_role": "per-role agent commands: a [agent_command_by_role] table (JSON object in the env)",
    "remote": "git remote agent branches are pushed to and fetched from, across machines (default: origin when it "
    "exists; none: off)",
    "fetch_seconds": "least time between two fetches of other machines' agent branches from the remote",
    "replicas_to_ack": "replicas every write must reach (Redis WAIT) before coord reports it done; 0: the primary "
    "alone",
    "keep_going_max": "Stop-hook continuations in a row for unseen actionable mail (0 turns it off)",
    "wake_after_seconds": "idle seconds before coord types a wake-up line into an agent's tmux pane (team.up only)",
    "hook_transport": "mcp_tool (default: PostToolUse/Stop/Notification call the running coord MCP server) or "
    "command (a coord-hook process per event)",
}
HOOK_TRANSPORTS = ("mcp_tool", "command")

_INT_KEYS = {f.name for f in fields(Config) if f.type == "int"}
_BOOL_KEYS = {f.name for f in fields(Config) if f.type == "bool"}
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")
_OPTIONAL_STR_KEYS = {"base_branch", "redis_url", "namespace", "host", "remote"}
_ZERO_OK = {"replicas_to_ack", "keep_going_max"}  # whole numbers where 0 is allowed (0 means off / none)


def _role_list(value: object, source: str, key: str) -> tuple[str, ...]:
    """A list of role names (TOML list, or comma-separated in the environment), checked."""
    if isinstance(value, str):
        items = [v.strip() for v in value.split(",") if v.strip()]
    elif isinstance(value, list) and all(isinstance(v, str) for v in value):
        items = [v.strip() for v in value]
    else:
        raise ConfigError(f"{source}: {key} must be a list of role names", f'e.g. {key} = ["pm", "backend"]')
    if len(set(items)) != len(items):
        raise ConfigError(f"{source}: {key} has duplicates", "list each role once")
    for item in items:
        try:
            check_role_syntax(item)
        except InvalidInputError as exc:
            raise ConfigError(f"{source}: {exc.message}", exc.fix) from None
    return tuple(items)


KNOWN_AGENTS = ("claude", "codex", "gemini")  # coord.catalog has a module for each


def _agent_list(value: object, source: str) -> tuple[str, ...]:
    """The agents setting: a TOML list (comma-separated in COORD_AGENTS) of known agent CLIs."""
    items = [v.strip() for v in value.split(",") if v.strip()] if isinstance(value, str) else value
    if not isinstance(items, list) or not items or not all(isinstance(v, str) for v in items):
        raise ConfigError(f"{source}: agents must be a non-empty list of agent CLIs",
                          'e.g. agents = ["claude", "codex"]')
    unknown = [v for v in items if v not in KNOWN_AGENTS]
    if unknown:
        raise ConfigError(f"{source}: unknown agent CLI {unknown[0]!r}", f"use some of: {', '.join(KNOWN_AGENTS)}")
    return tuple(dict.fromkeys(items))


def _command_table(value: object, source: str) -> tuple[tuple[str, str], ...]:
    """[agent_command_by_role] in TOML, or a JSON object in COORD_AGENT_COMMAND_BY_ROLE."""
    if isinstance(value, str):
        import json

        try:
            value = json.loads(value) if value.strip() else {}
        except ValueError:
            value = None
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise ConfigError(
            f"{source}: agent_command_by_role must map role names to command lines",
            'e.g. [agent_command_by_role] then qa = "claude --model haiku"',
        )
    for role, command in value.items():
        try:
            check_role_syntax(role)
        except InvalidInputError as exc:
            raise ConfigError(f"{source}: agent_command_by_role: {exc.message}", exc.fix) from None
        if not command.strip():
            raise ConfigError(f"{source}: agent_command_by_role.{role} is empty", "name the command to run")
    return tuple(sorted(value.items()))


def _coerce(key: str, value: object, source: str) -> object:
    """Turn a raw TOML or environment value into the field's type, or say what is wrong."""
    if key == "team":
        return _role_list(value, source, key)
    if key == "agents":
        return _agent_list(value, source)
    if key == "agent_command_by_role":
        return _command_table(value, source)
    if key == "hook_transport" and value not in HOOK_TRANSPORTS:
        raise ConfigError(f"{source}: hook_transport must be one of {', '.join(HOOK_TRANSPORTS)}, got {value!r}", None)
    if key == "agent_command" and isinstance(value, str) and not value.strip():
        raise ConfigError(f"{source}: agent_command is empty", 'name the agent CLI, e.g. agent_command = "claude"')
    if key == "roles":
        roles = _role_list(value, source, key)
        if not roles:
            raise ConfigError(f"{source}: roles is empty", "name at least the main role")
        return roles
    if key in _BOOL_KEYS:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _TRUE + _FALSE:
            return value.strip().lower() in _TRUE
        raise ConfigError(f"{source}: {key} must be true or false, got {value!r}", None)
    if key in _INT_KEYS:
        # bool is an int to Python and int(1.5) is 1: both would silently become another number.
        try:
            if isinstance(value, bool) or not isinstance(value, str | int):
                raise TypeError(value)
            if isinstance(value, str) and not (value.strip().isascii() and value.strip().isdigit()):
                raise ValueError(value)  # int() would take "٣", "1_0" or "+1": only plain digits are a count
            number = int(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{source}: {key} must be a whole number, got {value!r}", None) from None
        if number < 0 or (number == 0 and key not in _ZERO_OK):
            raise ConfigError(f"{source}: {key} must be positive, got {number}", None)
        return number
    if not isinstance(value, str):
        raise ConfigError(f"{source}: {key} must be a string, got {value!r}", None)
    if key in _OPTIONAL_STR_KEYS and value == "":
        return None
    if key == "worktree_dir":
        _check_worktree_dir(value, source)
    if key == "remote" and (value.startswith("-") or not value.replace("-", "").replace("_", "").replace(".", "")
                            .replace("/", "").isalnum() or not value.isascii()):
        raise ConfigError(f"{source}: remote must be a git remote name, got {value[:40]!r}", 'e.g. remote = "origin"')
    if key == "host" and (len(value) > 200 or not value.isprintable() or not value.strip()):
        raise ConfigError(f"{source}: host must be a short printable machine name, got {value[:40]!r}",
                          "e.g. COORD_HOST=build-box-2")
    return value


def _check_worktree_dir(value: str, source: str) -> None:
    """coord.toml is committed, so any branch can change it: the worktree folder must stay inside
    the repository (not absolute, no '.' or '..' parts, not under .git)."""
    parts = [p for p in value.split("/") if p]
    if (
        not parts
        or value.startswith("/")
        or any(p in (".", "..") for p in parts)
        or parts[0].lower() == ".git"
        or any(ord(ch) < 32 or ch in "\\\x7f" for ch in value)
    ):
        raise ConfigError(
            f"{source}: worktree_dir must be a folder inside the repository, got {value!r}",
            'use a relative path such as ".worktrees"',
        )


def _has_secret(url: str) -> bool:
    """Whether a URL carries a password (user:password@): never allowed in a committed file."""
    from urllib.parse import urlsplit

    try:
        return urlsplit(url).password is not None
    except ValueError:
        return False


def _problem(exc: CoordError) -> str:
    return f"{exc.message} ({exc.fix})" if exc.fix else exc.message


def validate(config: Config) -> list[str]:
    """What is wrong with the settings taken together, one line per problem (empty: nothing).

    Each value can be fine alone and the whole still broken: a session heartbeats every
    heartbeat_seconds, is stale once its last heartbeat is stale_seconds old, and its liveness key
    lapses after presence_ttl_seconds; unless heartbeat < stale <= ttl, a live, working session goes
    stale (or loses its liveness) between its own heartbeats and another session takes its role.
    """
    problems = []
    if config.main_role not in config.roles:
        problems.append(f"main_role {config.main_role!r} is not one of the roles ({', '.join(config.roles)})"
                        " (add it to roles or change main_role)")
    unknown_team = [r for r in (*config.team, *dict(config.agent_command_by_role)) if r not in config.roles]
    if unknown_team:
        problems.append(f"team settings name roles that are not configured: {', '.join(sorted(set(unknown_team)))}"
                        f" (use some of: {', '.join(config.roles)})")
    beat, stale, ttl = config.heartbeat_seconds, config.stale_seconds, config.presence_ttl_seconds
    if beat >= stale:
        problems.append(f"heartbeat_seconds ({beat}) must be smaller than stale_seconds ({stale}): a live session "
                        "would go stale between its own heartbeats (raise stale_seconds or lower heartbeat_seconds)")
    if stale > ttl:
        problems.append(f"stale_seconds ({stale}) must not exceed presence_ttl_seconds ({ttl}): a live session's "
                        "liveness would lapse before it counts as stale (raise presence_ttl_seconds)")
    if config.redis_url:
        from coord.resp_url import parse_url  # only with a URL set: the hooks' default path stays light

        try:
            parse_url(config.redis_url)
        except InvalidInputError as exc:
            problems.append(f"redis_url: {_problem(exc)}")
    if config.base_branch is not None:
        problem = base_branch_problem(config.base_branch)
        if problem:
            problems.append(problem)
    from coord.claims import check_offline_policy

    try:
        check_offline_policy(config.claims_when_offline)
    except ConfigError as exc:
        problems.append(_problem(exc))
    return problems


def base_branch_problem(name: str) -> str | None:
    """base_branch must name a local branch by its short name: agents branch from it and merge
    into it, and a merge can only move a local branch. What git itself would check (does it
    exist; is it a remote-tracking branch) is coord.layout's, which can run git."""
    if name.startswith(("refs/", "-")) or name in ("HEAD", "@") or any(
        ch.isspace() or ch in "~^:?*[\\" or ord(ch) < 32 for ch in name
    ) or ".." in name or name.endswith((".lock", "/", ".")):
        return f"base_branch {name!r} is not a local branch name (name one, e.g. base_branch = \"main\")"
    return None


def load_config(root: Path | None, environ: Mapping[str, str] | None = None) -> Config:
    """Resolve the settings for the repository at root (None: defaults and environment only)."""
    environ = os.environ if environ is None else environ
    known = {f.name for f in setting_fields()}
    values: dict[str, Any] = {}
    problems: list[str] = []
    failed: set[str] = set()

    def take(key: str, raw: object, source: str) -> None:
        try:
            values[key] = _coerce(key, raw, source)
        except ConfigError as exc:
            problems.append(_problem(exc))
            failed.add(key)

    if root is not None:
        path = root / CONFIG_FILE
        if path.is_file():
            try:
                data = tomllib.loads(path.read_text(encoding="utf-8"))
            except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
                raise ConfigError(f"{path} is not valid TOML: {exc}", "fix or remove the file") from None
            for key, raw in data.items():
                if key not in known:
                    problems.append(f"{path}: unknown setting {key!r} (known: {', '.join(sorted(known))})")
                    continue
                take(key, raw, str(path))
                if key == "redis_url" and values.get(key) and _has_secret(str(values[key])):
                    problems.append(f"{path}: redis_url holds a password, and coord.toml is committed (remove it "
                                    "from the URL; give it in COORD_REDIS_PASSWORD or .git/coord/redis-auth, mode "
                                    "0600)")
                    failed.add(key)
    for key in known:
        env_key = ENV_PREFIX + key.upper()
        if env_key in environ:
            take(key, environ[env_key], env_key)
    config = replace(Config(), **values)
    # A setting already refused is judged by its default here: a line about it would mislead.
    problems.extend(p for p in validate(config) if not any(key in p for key in failed))
    if problems:
        raise SettingsError(problems)
    if root is not None:
        extra = tuple(n for n in adhoc.read(root) if n not in config.roles)
        if extra:
            config = replace(config, roles=(*config.roles, *extra), adhoc_roles=extra)
    return config
