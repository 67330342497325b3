"""Codex CLI's and Gemini CLI's hooks spoken in coord's terms: each CLI's event and payload in,
coord's handler (coord.hooks, written for Claude Code's shapes) in the middle, and its answer out
in the shape that CLI reads. Pure: values in, values out; `coord-hook codex|gemini EVENT` (in
coord.hooks) does the reading and writing.

Codex reads Claude Code's hook JSON (decision/block, hookSpecificOutput with additionalContext or
permissionDecision deny), so only its edit tool differs: apply_patch's paths come from the patch
text. Gemini CLI answers with top-level `decision: "deny"` and `reason` (BeforeAgent: the prompt is
refused; BeforeTool: the tool call is refused, the reason reaches the model), and its events have
other names (BeforeAgent for UserPromptSubmit, BeforeTool for PreToolUse).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from coord.catalog import EDITED_PATHS_KEY as PATHS_KEY
from coord.catalog import codex, gemini


@dataclass(frozen=True)
class Dialect:
    """One agent CLI's hooks: event -> coord handler, and how its edit tools name paths."""

    agent: str
    handlers: Mapping[str, str]  # the CLI's event name -> coord.hooks handler
    edited_paths: Callable[[object, object], list[str]]


DIALECTS: dict[str, Dialect] = {
    codex.AGENT: Dialect(codex.AGENT, {h.event: h.handler for h in codex.HOOKS}, codex.edited_paths),
    gemini.AGENT: Dialect(gemini.AGENT, {h.event: h.handler for h in gemini.HOOKS}, gemini.edited_paths),
}


def payload_in(dialect: Dialect, event: str, payload: Mapping[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """(coord handler, payload for it), or None for an event coord does not handle."""
    handler = dialect.handlers.get(event)
    if handler is None:
        return None
    out = dict(payload)
    if handler == "pre-tool-use":
        out[PATHS_KEY] = dialect.edited_paths(payload.get("tool_name"), payload.get("tool_input"))
    return handler, out


def answer_out(dialect: Dialect, event: str, answer: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """coord's answer (Claude Code's shape) in the CLI's shape; None when there is nothing to say."""
    if not answer:
        return None
    if dialect.agent == codex.AGENT:
        return dict(answer)
    out: dict[str, Any] = {}
    specific = answer.get("hookSpecificOutput")
    specific = specific if isinstance(specific, Mapping) else {}
    if answer.get("decision") == "block":
        out.update(decision="deny", reason=str(answer.get("reason", "")))
    if specific.get("permissionDecision") == "deny":
        out.update(decision="deny", reason=str(specific.get("permissionDecisionReason", "")))
    if specific.get("additionalContext"):
        out["hookSpecificOutput"] = {"hookEventName": event, "additionalContext": specific["additionalContext"]}
    if answer.get("systemMessage"):
        out["systemMessage"] = answer["systemMessage"]
    return out or None
