"""Gemini CLI's names for coord, defined once: the hook events coord installs in
`.gemini/settings.json` (timeouts in MILLISECONDS, Gemini's unit), how Gemini names coord's MCP
tools, and its tools that edit files (`write_file`, `replace`: the path is `file_path`).

Plain data and pure parsing, cheap to import: `coord-hook gemini EVENT` reads it on every prompt.
Checked against Gemini CLI 0.61.0 (tests/e2e/test_gemini.py runs the real binary).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from coord.catalog.claude import SERVER_NAME

AGENT = "gemini"
SETTINGS_PATH = ".gemini/settings.json"  # mcpServers + hooks, merged with the user's own entries
LAUNCHER_PATH = ".gemini/coord-hook.sh"
TOOL_PREFIX = f"mcp_{SERVER_NAME}_"  # Gemini names an MCP tool mcp_<server>_<tool>
EDIT_TOOLS: tuple[str, ...] = ("write_file", "replace")
PATH_FIELDS: tuple[str, ...] = ("file_path",)


@dataclass(frozen=True)
class GeminiHook:
    """One Gemini CLI hook event coord installs: Gemini's event, coord's handler, matcher, timeout (ms)."""

    event: str
    handler: str  # coord's handler (coord.hooks.HANDLERS) the event is translated to
    matcher: str | None
    timeout_ms: int


HOOKS: tuple[GeminiHook, ...] = (
    GeminiHook("SessionStart", "session-start", None, 15_000),
    # BeforeAgent runs before every prompt reaches the model: Gemini's UserPromptSubmit.
    GeminiHook("BeforeAgent", "user-prompt-submit", None, 10_000),
    GeminiHook("BeforeTool", "pre-tool-use", f"^({'|'.join(EDIT_TOOLS)})$", 10_000),  # a regex: the whole name
    GeminiHook("SessionEnd", "session-end", None, 5_000),
    # The team loop (coord.delivery): new mail after every tool call (AfterTool additionalContext), and
    # AfterAgent refuses to end the turn on unseen actionable mail (decision: deny, Gemini's retry).
    GeminiHook("AfterTool", "post-tool-use", None, 10_000),
    GeminiHook("AfterAgent", "stop", None, 10_000),
)


def edited_paths(tool_name: object, tool_input: object) -> list[str]:
    """The file a write_file / replace call is about to change (empty for any other tool)."""
    if tool_name not in EDIT_TOOLS or not isinstance(tool_input, Mapping):
        return []
    return [v.strip() for k in PATH_FIELDS if isinstance(v := tool_input.get(k), str) and v.strip()]
