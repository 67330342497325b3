"""Claude Code's names for coord, defined once: the hook events coord installs, the MCP tool names
the coord server registers, and the Claude Code tools that edit files.

Plain data, cheap to import: the per-prompt hook renders its PreToolUse matcher from here and
points agents at tool names without importing the MCP server (the mcp SDK costs ~0.7 s) or
coord.claims (~3.5 ms a prompt). The MCP server registers exactly TOOL_NAMES (a test checks both
directions), so a name here can never be missing from the server, nor the reverse.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

SERVER_NAME = "coord"  # the MCP server's name in .mcp.json; tools appear as mcp__coord__<tool>


class Tool(StrEnum):
    """Every MCP tool name: the server, the hooks, settings and rules templates use these."""

    REGISTER_PRESENCE = "coord_register_presence"
    DEREGISTER_PRESENCE = "coord_deregister_presence"
    HEARTBEAT = "coord_heartbeat"
    GET_PRESENCE = "coord_get_presence"
    PUBLISH_MESSAGE = "coord_publish_message"
    CHECK_MESSAGES = "coord_check_messages"
    ACK_MESSAGES = "coord_ack_messages"
    GET_NOTIFICATIONS = "coord_get_notifications"
    CHECK_CONFLICTS = "coord_check_conflicts"
    CLAIM_FILES = "coord_claim_files"
    RELEASE_FILES = "coord_release_files"
    GET_CLAIMS = "coord_get_claims"
    HOOK = "coord_hook"  # called by Claude Code's mcp_tool hooks (per tool call, at Stop), not by agents


TOOL_NAMES: tuple[str, ...] = tuple(t.value for t in Tool)

# The tools the hooks' context text points agents to.
CHECK_TOOL = Tool.CHECK_MESSAGES.value
ACK_TOOL = Tool.ACK_MESSAGES.value

# Claude Code's tools that write files: file claims are checked before each of them runs.
EDIT_TOOLS: tuple[str, ...] = ("Edit", "Write", "MultiEdit", "NotebookEdit")
EDIT_MATCHER = "|".join(EDIT_TOOLS)  # the PreToolUse matcher rendered into .claude/settings.json
# Notification kinds that mean the agent waits for a human (activity needs_input).
NOTIFY_MATCHER = "permission_prompt|idle_prompt"


@dataclass(frozen=True)
class HookSpec:
    """One Claude Code hook event coord installs: the settings entry and the script it runs."""

    event: str  # Claude Code's event name
    arg: str  # the argument of `coord-hook`, and the script's name: coord-<arg>.sh
    matcher: str | None  # SessionStart sources; None for events that take no matcher
    timeout: int  # seconds; explicit so SessionEnd is not cut at the 1.5 s default budget
    # Its failure must fail Claude Code's action (WorktreeCreate: no worktree rather than one coord
    # did not make): the script exits 1 when coord-hook is missing instead of letting it pass.
    required: bool = False
    setting: str | None = None  # a boolean setting (coord/config.py) without which it is not rendered
    # Per-tool-call and end-of-turn events: with hook_transport "mcp_tool" (the default) they are
    # rendered as a call of the coord MCP server's HOOK tool, which is already running (no process
    # start per tool call); with "command", and for every other event, as the coord-<arg>.sh script.
    via_mcp: bool = False

    @property
    def script(self) -> str:
        return f"coord-{self.arg}.sh"


HOOKS: tuple[HookSpec, ...] = (
    # SessionStart may start the repository's embedded server (about 0.1 s, more on a cold disk).
    HookSpec("SessionStart", "session-start", "startup|resume|clear|compact", 15),
    HookSpec("UserPromptSubmit", "user-prompt-submit", None, 10),
    HookSpec("SessionEnd", "session-end", None, 5),
    # File claims: every Edit/Write/MultiEdit/NotebookEdit asks whether another live role claimed the path.
    HookSpec("PreToolUse", "pre-tool-use", EDIT_MATCHER, 10),
    # Claude Code's own worktrees (`claude --worktree NAME`, subagent isolation) made by coord. Creation
    # may wait for coord's repository lock behind other setups and runs `git worktree add`.
    HookSpec("WorktreeCreate", "worktree-create", None, 120, required=True, setting="own_claude_worktrees"),
    HookSpec("WorktreeRemove", "worktree-remove", None, 60, setting="own_claude_worktrees"),
    # The team loop (coord.delivery): new mail between tool calls, unseen actionable mail keeps a
    # stopping agent going, and activity (working / idle / needs_input) for the waker and the cockpit.
    HookSpec("PostToolUse", "post-tool-use", None, 10, via_mcp=True),
    HookSpec("PostToolUseFailure", "post-tool-use-failure", None, 10, via_mcp=True),
    HookSpec("Stop", "stop", None, 10, via_mcp=True),
    HookSpec("Notification", "notification", NOTIFY_MATCHER, 10, via_mcp=True),
)

# What the mcp_tool hooks pass to the HOOK tool: Claude Code substitutes ${path} from the hook's
# JSON input (a field the event lacks becomes empty). No session id: the server acts for its own.
HOOK_TOOL_INPUT: dict[str, str] = {
    "event": "${hook_event_name}",
    "stop_hook_active": "${stop_hook_active}",
    "notification_type": "${notification_type}",
}


def mcp_tool_hook(hook: HookSpec) -> dict[str, object]:
    """The settings entry of a via_mcp hook when hook_transport is mcp_tool."""
    return {"type": "mcp_tool", "server": SERVER_NAME, "tool": Tool.HOOK.value, "input": dict(HOOK_TOOL_INPUT),
            "timeout": hook.timeout}


def hooks_for(enabled: Callable[[str], bool]) -> tuple[HookSpec, ...]:
    """The hooks to render, given whether a named boolean setting is on."""
    return tuple(h for h in HOOKS if h.setting is None or enabled(h.setting))
