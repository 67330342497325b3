"""The project files Codex CLI and Gemini CLI read, as coord wants them: the coord MCP server and
coord's hooks, MERGED with whatever the user already has there (pure: text in, text out).

- Codex: `.codex/config.toml` gets a marked section (`# coord:begin` ... `# coord:end`) with
  `[mcp_servers.coord]`; the user's text outside the markers is kept byte for byte. `.codex/hooks.json`
  gets coord's hook entries (recognised by the launcher path in their command); the user's stay.
- Gemini CLI: `.gemini/settings.json` gets `mcpServers.coord` and coord's hook entries; every other
  key and hook stays. Gemini's hook timeouts are milliseconds (coord.catalog.gemini).
- Both: a launcher script (`.codex/coord-hook.sh`, `.gemini/coord-hook.sh`, rendered by coord.render
  from templates/agent-hook.sh.j2) that finds this machine's coord-hook, as the Claude scripts do.

The stdio server is told `COORD_PRESENCE=hooks`: these CLIs give it no session id of theirs, so the
hooks (which get one) own the session's presence (coord.mcp_server).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from coord.catalog import codex, gemini
from coord.catalog.claude import SERVER_NAME
from coord.errors import CoordError
from coord.session_env import PASSED_ENV, PRESENCE_BY_HOOKS, PRESENCE_ENV

AGENTS: tuple[str, ...] = ("claude", codex.AGENT, gemini.AGENT)
MERGED_PATHS = (codex.CONFIG_PATH, codex.HOOKS_PATH, gemini.SETTINGS_PATH)  # shared with the user's entries
TOML_BEGIN = "# coord:begin"
TOML_END = "# coord:end"
EXECUTABLE = 0o755
REGULAR = 0o644

File = tuple[str, str, int]  # (path relative to the repository root, content, mode)


def codex_command(event: str) -> str:
    """The command line of one Codex hook: Codex starts hooks in the session's folder and sets no
    project variable, so the launcher is found from the checkout's top level."""
    return f'sh "$(git rev-parse --show-toplevel)/{codex.LAUNCHER_PATH}" {codex.AGENT} {event}'


def gemini_command(event: str) -> str:
    return f'sh "$GEMINI_PROJECT_DIR/{gemini.LAUNCHER_PATH}" {gemini.AGENT} {event}'


def dump_json(data: object) -> str:
    """JSON as coord writes a shared settings file: indented, UTF-8 kept, a final newline."""
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def load_json_object(text: str | None, path: str) -> dict[str, Any]:
    """A user's settings file as an object ({} when absent or empty); anything else is one line."""
    if text is None or not text.strip():
        return {}
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CoordError(f"{path} is not valid JSON ({exc.msg}, line {exc.lineno})",
                         f"fix {path} by hand, then re-run coord init") from None
    if not isinstance(data, dict):
        raise CoordError(f"{path} does not hold a JSON object", f"fix {path} by hand, then re-run coord init")
    return data


def runs(launcher: str) -> Callable[[object], bool]:
    """Whether a hook entry is coord's: its command runs coord's launcher for that CLI."""
    return lambda hook: isinstance(hook, dict) and launcher in str(hook.get("command", ""))


def merge_hook_groups(existing: object, ours: dict[str, list[dict[str, Any]]],
                      is_ours: Callable[[object], bool]) -> dict[str, Any]:
    """A `hooks` object (event -> matcher groups, the shape Claude Code, Codex and Gemini CLI share)
    with coord's entries (is_ours) replaced by ours. Groups left empty are dropped; the user's stay."""
    hooks: dict[str, Any] = dict(existing) if isinstance(existing, dict) else {}
    for event in list(hooks):
        groups = []
        for group in hooks[event] if isinstance(hooks[event], list) else []:
            if isinstance(group, dict) and isinstance(group.get("hooks"), list):
                kept = [h for h in group["hooks"] if not is_ours(h)]
                if not kept:
                    continue
                group = {**group, "hooks": kept}
            groups.append(group)
        if groups:
            hooks[event] = groups
        else:
            del hooks[event]
    for event, groups in ours.items():
        hooks[event] = [*hooks.get(event, []), *groups]
    return hooks


# ---------------------------------------------------------------------------------------------
# Codex


def codex_hooks(existing: str | None) -> str:
    ours: dict[str, list[dict[str, Any]]] = {}
    for hook in codex.HOOKS:
        group: dict[str, Any] = {"matcher": hook.matcher} if hook.matcher else {}
        group["hooks"] = [{"type": "command", "command": codex_command(hook.event), "timeout": hook.timeout}]
        ours[hook.event] = [group]
    data = load_json_object(existing, codex.HOOKS_PATH)
    data["hooks"] = merge_hook_groups(data.get("hooks"), ours, runs(codex.LAUNCHER_PATH))
    return dump_json(data)


def codex_section(generated: str) -> str:
    env_vars = ", ".join(json.dumps(name) for name in PASSED_ENV)
    return "\n".join([
        TOML_BEGIN,
        f"# {generated}",
        f"[mcp_servers.{SERVER_NAME}]",
        'command = "coord"',
        'args = ["mcp"]',
        f"env_vars = [{env_vars}]",
        "startup_timeout_sec = 60",
        # required: the first turn waits for the server (Codex otherwise gives it about 1 s and runs
        # the turn without coord's tools); `coord mcp` starts even with Redis down.
        "required = true",
        "default_tools_approval_mode = \"approve\"",  # coord's tools act only as the session's own role
        f"env = {{ {PRESENCE_ENV} = {json.dumps(PRESENCE_BY_HOOKS)} }}",
        TOML_END,
        "",
    ])


def merge_toml_section(existing: str | None, section: str, path: str) -> str:
    """The user's TOML with coord's marked section replaced (appended at the end when absent, so the
    user's top-level keys never fall under coord's table). A coord server table outside the
    markers, or a lone marker, is refused: guessing could delete or shadow user settings."""
    text = existing or ""
    begins, ends = text.count(TOML_BEGIN), text.count(TOML_END)
    if begins == 0 and ends == 0:
        if f"[mcp_servers.{SERVER_NAME}]" in text:
            raise CoordError(f"{path} already defines [mcp_servers.{SERVER_NAME}] outside coord's section",
                             f"remove that table from {path}, then re-run coord init")
        return section if not text.strip() else text.rstrip("\n") + "\n\n" + section
    start, end = text.find(TOML_BEGIN), text.find(TOML_END)
    if begins != 1 or ends != 1 or end < start:
        raise CoordError(f"{path} has unmatched or repeated coord markers ({TOML_BEGIN} / {TOML_END})",
                         f"leave exactly one pair in {path}, or remove both, then re-run coord init")
    after = text[end + len(TOML_END):]
    after = after[1:] if after.startswith("\n") else after
    return text[:start] + section + after


# ---------------------------------------------------------------------------------------------
# Gemini CLI


def gemini_settings(existing: str | None) -> str:
    ours: dict[str, list[dict[str, Any]]] = {}
    for hook in gemini.HOOKS:
        group: dict[str, Any] = {"matcher": hook.matcher} if hook.matcher else {}
        group["hooks"] = [{"name": f"coord-{hook.handler}", "type": "command",
                           "command": gemini_command(hook.event), "timeout": hook.timeout_ms}]
        ours[hook.event] = [group]
    data = load_json_object(existing, gemini.SETTINGS_PATH)
    found = data.get("mcpServers")
    servers: dict[str, Any] = found if isinstance(found, dict) else {}
    # trust: coord's tools run without a confirmation (they act only as the session's own role),
    # as Claude Code's permissions.allow does; passed variables so the server acts as this session.
    env = {name: f"${name}" for name in PASSED_ENV}
    env[PRESENCE_ENV] = PRESENCE_BY_HOOKS
    servers[SERVER_NAME] = {"command": "coord", "args": ["mcp"], "env": env, "trust": True, "timeout": 60_000}
    data["mcpServers"] = servers
    data["hooks"] = merge_hook_groups(data.get("hooks"), ours, runs(gemini.LAUNCHER_PATH))
    return dump_json(data)


# ---------------------------------------------------------------------------------------------


def agent_files(agents: Sequence[str], read: Callable[[str], str | None], launcher: Callable[[str], str],
                generated: str) -> list[File]:
    """Every file the configured non-Claude CLIs need. launcher(agent) renders that CLI's launcher."""
    files: list[File] = []
    if codex.AGENT in agents:
        files.append((codex.CONFIG_PATH, merge_toml_section(read(codex.CONFIG_PATH), codex_section(generated),
                                                            codex.CONFIG_PATH), REGULAR))
        files.append((codex.HOOKS_PATH, codex_hooks(read(codex.HOOKS_PATH)), REGULAR))
        files.append((codex.LAUNCHER_PATH, launcher(codex.AGENT), EXECUTABLE))
    if gemini.AGENT in agents:
        files.append((gemini.SETTINGS_PATH, gemini_settings(read(gemini.SETTINGS_PATH)), REGULAR))
        files.append((gemini.LAUNCHER_PATH, launcher(gemini.AGENT), EXECUTABLE))
    return files
