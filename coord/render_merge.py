"""Merging coord's entries into the files users share with other tools (.claude/settings.json,
.mcp.json, CLAUDE.md): pure, text in, text out. Only coord's own hooks, permissions, server entry or
marked section are replaced; everything else the user wrote is kept. Split from coord.render (which
plans and renders the files), with those files' paths and coord's markers in them."""

from __future__ import annotations

from typing import Any

from coord.agent_files import dump_json, load_json_object, merge_hook_groups
from coord.catalog.claude import SERVER_NAME, Tool
from coord.errors import CoordError

SERVER = SERVER_NAME  # the MCP server's name in .mcp.json; tools appear as mcp__coord__<tool>
HOOKS_DIR = ".claude/hooks"
SETTINGS_PATH = ".claude/settings.json"
MCP_PATH = ".mcp.json"
CLAUDE_MD = "CLAUDE.md"
SECTION_BEGIN = "<!-- coord:begin -->"
SECTION_END = "<!-- coord:end -->"
HOOK_SCRIPT_PREFIX = f"{HOOKS_DIR}/coord-"
TOOL_PREFIX = f"mcp__{SERVER}__"


def _is_ours(hook: object) -> bool:
    if isinstance(hook, dict) and hook.get("type") == "mcp_tool":
        return hook.get("server") == SERVER and hook.get("tool") == Tool.HOOK.value
    return isinstance(hook, dict) and HOOK_SCRIPT_PREFIX in str(hook.get("command", ""))


def merge_settings(existing: str | None, ours: dict[str, Any]) -> str:
    """The user's settings with coord's hooks, MCP approval and tool permissions replaced by ours.

    Replacing (not appending) keeps re-rendering idempotent and drops entries of tools or events
    coord no longer has; any hook or permission that is not coord's stays where it was.
    """
    data = load_json_object(existing, SETTINGS_PATH)
    if not data:
        return dump_json(ours)
    servers = [s for s in data.get("enabledMcpjsonServers", []) if s != SERVER]
    data["enabledMcpjsonServers"] = [*servers, *ours["enabledMcpjsonServers"]]
    found = data.get("permissions")
    permissions: dict[str, Any] = found if isinstance(found, dict) else {}
    allow = [a for a in permissions.get("allow", []) if not (a == f"mcp__{SERVER}" or str(a).startswith(TOOL_PREFIX))]
    permissions["allow"] = [*allow, *ours["permissions"]["allow"]]
    data["permissions"] = permissions
    data["hooks"] = merge_hook_groups(data.get("hooks"), ours["hooks"], _is_ours)
    return dump_json(data)


def merge_mcp(existing: str | None, ours: dict[str, Any]) -> str:
    """The user's .mcp.json with the coord server entry replaced; other servers kept."""
    data = load_json_object(existing, MCP_PATH)
    found = data.get("mcpServers")
    servers: dict[str, Any] = found if isinstance(found, dict) else {}
    servers[SERVER] = ours["mcpServers"][SERVER]
    data["mcpServers"] = servers
    return dump_json(data)


def merge_section(existing: str | None, section: str) -> str:
    """CLAUDE.md with the text between coord's markers replaced (appended when absent).

    Text outside the markers is the user's and is never touched; a file with one marker but
    not the other is refused, because guessing where the section ends could delete user text.
    """
    block = f"{SECTION_BEGIN}\n{section.strip()}\n{SECTION_END}\n"
    text = existing or ""
    begins, ends = text.count(SECTION_BEGIN), text.count(SECTION_END)
    if begins == 0 and ends == 0:
        if not text.strip():
            return block
        return text.rstrip("\n") + "\n\n" + block
    start, end = text.find(SECTION_BEGIN), text.find(SECTION_END)
    if begins != 1 or ends != 1 or end < start:
        raise CoordError(
            f"{CLAUDE_MD} has unmatched or repeated coord markers ({SECTION_BEGIN} / {SECTION_END})",
            f"leave exactly one pair in {CLAUDE_MD}, or remove both, then re-run coord init",
        )
    after = text[end + len(SECTION_END) :]
    if after.startswith("\n"):
        after = after[1:]
    return text[:start] + block + after
