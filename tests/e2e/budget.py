"""Measure coord's share of what the real Claude Code CLI sends to the model (issue 15's budgets).

Pure functions over one recorded request body (tests/e2e/model.py records them). They find coord's
pieces where the CLI put them, so the figures are what an agent pays, wrappers excluded:
- the memory files (CLAUDE.md and .claude/rules/*.md), each sent as a "Contents of PATH (...):"
  block inside a system reminder (in the test repositories these files hold only coord's text);
- the SessionStart hook's additional context ("SessionStart hook additional context: ...");
- the coord MCP server's instructions (under "# MCP Server Instructions", "## coord");
- the coord tool definitions: name + description + input schema (compact JSON), from the request's
  `tools` (newer CLIs send a deferred MCP tool's definition there once ToolSearch selected it).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

TOOL_PREFIX = "mcp__coord__"
_CONTENTS = re.compile(r"Contents of (\S+) \([^)\n]*\):\n\n")
_SESSION_START = "SessionStart hook additional context: "
_PROMPT = "UserPromptSubmit hook additional context: "
# What the CLI puts right after a hook's context in the same block (2.1.197 and 2.1.332).
_CLI_SECTIONS = ("\n\n# ", "\n\nAvailable agent types", "\n\nThe following deferred tools",
                 "\n\nThe following skills", "\n\nToday's date", "\n</system-reminder>")


def texts(request: dict[str, Any]) -> list[str]:
    """Every text block of a request: system blocks, then message blocks (tool results included)."""
    out: list[str] = []
    system = request.get("system")
    if isinstance(system, str):
        out.append(system)
    elif isinstance(system, list):
        out += [str(b.get("text", "")) for b in system if isinstance(b, dict)]
    for message in request.get("messages", []):
        content = message.get("content")
        if isinstance(content, str):
            out.append(content)
            continue
        for block in content or []:
            if isinstance(block, dict) and block.get("type") == "text":
                out.append(str(block.get("text", "")))
    return out


def memory_files(request: dict[str, Any]) -> dict[str, str]:
    """{path: content as sent} for every memory file the CLI loaded (CLAUDE.md, rules)."""
    found: dict[str, str] = {}
    for text in texts(request):
        matches = list(_CONTENTS.finditer(text))
        for i, match in enumerate(matches):
            end = matches[i + 1].start() if i + 1 < len(matches) else len(text)
            body = text[match.end():end]
            cut = body.find("\n</system-reminder>")
            body = body if cut < 0 else body[:cut]
            found[match.group(1)] = body.rstrip("\n")
    return found


def hook_context(request: dict[str, Any], marker: str = _SESSION_START) -> str:
    """A hook's additional context as sent (empty when the request has none)."""
    for text in texts(request):
        start = text.find(marker)
        if start < 0:
            continue
        rest = text[start + len(marker):]
        ends = [i for i in (rest.find(s) for s in _CLI_SECTIONS) if i >= 0]
        return rest[: min(ends)] if ends else rest.rstrip("\n")
    return ""


def prompt_context(request: dict[str, Any]) -> str:
    """The UserPromptSubmit hook's additional context (the per-prompt mail)."""
    return hook_context(request, _PROMPT)


def server_instructions(request: dict[str, Any]) -> str:
    """The coord MCP server's instructions as sent ('## coord' under '# MCP Server Instructions')."""
    for text in texts(request):
        head = text.find("# MCP Server Instructions")
        if head < 0:
            continue
        start = text.find("\n## coord\n", head)
        if start < 0:
            continue
        rest = text[start + len("\n## coord\n"):]
        ends = [i for i in (rest.find("\n\n## "), rest.find("\n\nThe following skills"), rest.find("\n\n# "))
                if i >= 0]
        return rest[: min(ends)] if ends else rest
    return ""


def tool_definitions(request: dict[str, Any]) -> dict[str, str]:
    """{tool name: name + description + compact input schema} for coord's tools in `tools`."""
    found = {}
    for tool in request.get("tools", []):
        if not isinstance(tool, dict) or not str(tool.get("name", "")).startswith(TOOL_PREFIX):
            continue
        schema = json.dumps(tool.get("input_schema", {}), separators=(",", ":"), ensure_ascii=False)
        found[str(tool["name"])] = str(tool["name"]) + str(tool.get("description", "")) + schema
    return found


@dataclass(frozen=True)
class Fixed:
    """coord's fixed text in one session's first request, in characters."""

    memory: dict[str, int]  # file name -> characters
    session_start: int
    instructions: int

    @property
    def total(self) -> int:
        return sum(self.memory.values()) + self.session_start + self.instructions

    def line(self) -> str:
        files = ", ".join(f"{name} {n}" for name, n in sorted(self.memory.items()))
        return (f"{self.total} chars: {files}, SessionStart {self.session_start}, "
                f"MCP instructions {self.instructions}")


def fixed_text(request: dict[str, Any]) -> Fixed:
    """coord's fixed text in a request of a session with nothing pending."""
    memory = {path.rsplit("/", 1)[-1]: len(body) for path, body in memory_files(request).items()}
    return Fixed(memory, len(hook_context(request)), len(server_instructions(request)))
