"""Codex CLI's names for coord, defined once: the hook events coord installs in `.codex/hooks.json`,
how Codex names coord's MCP tools, and its tool that edits files (`apply_patch`, whose input is a
patch text naming the paths it adds, updates, deletes or moves).

Plain data and pure parsing, cheap to import: `coord-hook codex EVENT` reads it on every prompt.
Checked against codex-cli 0.171.0 (tests/e2e/test_codex.py runs the real binary).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from coord.catalog.claude import SERVER_NAME

AGENT = "codex"
CONFIG_PATH = ".codex/config.toml"  # the coord MCP server; read only in a project Codex trusts
HOOKS_PATH = ".codex/hooks.json"
LAUNCHER_PATH = ".codex/coord-hook.sh"
TOOL_NAMESPACE = f"mcp__{SERVER_NAME}"  # Codex lists an MCP server's tools in this namespace
# Hook inputs name an MCP tool mcp__<server>__<tool>, as Claude Code does.
TOOL_PREFIX = f"{TOOL_NAMESPACE}__"
EDIT_TOOLS: tuple[str, ...] = ("apply_patch",)
SESSION_END_MAX_SECONDS = 3  # Codex clamps a SessionEnd hook's timeout to 3 s


@dataclass(frozen=True)
class CodexHook:
    """One Codex hook event coord installs: Codex's event, coord's handler, matcher, timeout (s)."""

    event: str
    handler: str  # coord's handler (coord.hooks.HANDLERS) the event is translated to
    matcher: str | None
    timeout: int


HOOKS: tuple[CodexHook, ...] = (
    CodexHook("SessionStart", "session-start", "startup|resume", 15),
    # Blocks the prompt (decision: block) when the identity is wrong or the role is held.
    CodexHook("UserPromptSubmit", "user-prompt-submit", None, 10),
    CodexHook("PreToolUse", "pre-tool-use", f"^({'|'.join(EDIT_TOOLS)})$", 10),  # a regex: the whole name
    CodexHook("SessionEnd", "session-end", None, SESSION_END_MAX_SECONDS),
    # The team loop (coord.delivery), as a command: new mail after every tool call (additionalContext),
    # and Stop keeps a stopping agent going on unseen actionable mail (decision: block).
    CodexHook("PostToolUse", "post-tool-use", None, 10),
    CodexHook("Stop", "stop", None, 10),
)

_PATCH_PATH = re.compile(r"^\*\*\* (?:Add|Update|Delete) File: (.+?)\s*$|^\*\*\* Move to: (.+?)\s*$", re.MULTILINE)


def patch_paths(patch: str) -> list[str]:
    """The paths an apply_patch text touches (added, updated, deleted, or moved to), in order."""
    found: list[str] = []
    for match in _PATCH_PATH.finditer(patch):
        path = (match.group(1) or match.group(2) or "").strip()
        if path and path not in found:
            found.append(path)
    return found


def edited_paths(tool_name: object, tool_input: object) -> list[str]:
    """The files an apply_patch call is about to change (empty for any other tool). The patch text
    is wherever the input carries it (a string, or a field of an object): every string is read."""
    if tool_name not in EDIT_TOOLS:
        return []
    texts: list[str] = []

    def collect(value: object) -> None:
        if isinstance(value, str):
            texts.append(value)
        elif isinstance(value, Mapping):
            for item in value.values():
                collect(item)
        elif isinstance(value, list):
            for item in value:
                collect(item)

    collect(tool_input)
    found: list[str] = []
    for text in texts:
        found += [p for p in patch_paths(text) if p not in found]
    return found
