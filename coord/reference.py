"""Reference tables (settings, exit codes, message types, tools, tasks) built from the code.

README's marked blocks are regenerated from here (`inv docs`) and a test fails when they drift,
so the documentation can never disagree with the enums and defaults it describes.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from coord.config import ENV_PREFIX, SETTING_HELP, Config, setting_fields
from coord.errors import EXIT_CODES
from coord.messages import LIFECYCLE_TYPES, MESSAGE_TYPE_HELP, MessageType


def _row(*cells: str) -> str:
    return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"


def settings_table() -> str:
    default = Config()
    lines = [_row("setting", "environment", "default", "meaning"), _row("---", "---", "---", "---")]
    for f in setting_fields():
        value = getattr(default, f.name)
        if isinstance(value, bool):
            shown = "true" if value else "false"
        elif isinstance(value, tuple):
            shown = ", ".join(value)
        else:
            shown = "(derived)" if value is None else str(value)
        lines.append(_row(f"`{f.name}`", f"`{ENV_PREFIX}{f.name.upper()}`", shown, SETTING_HELP[f.name]))
    return "\n".join(lines)


def exit_codes_table() -> str:
    lines = [_row("code", "meaning"), _row("---", "---")]
    lines += [_row(str(code), text) for code, text in sorted(EXIT_CODES.items())]
    return "\n".join(lines)


def message_types_table() -> str:
    lines = [_row("type", "delivered to", "meaning"), _row("---", "---", "---")]
    for kind in MessageType:
        where = "event log (sent by coord only)" if kind in LIFECYCLE_TYPES else "inbox (until acknowledged)"
        lines.append(_row(f"`{kind.value}`", where, MESSAGE_TYPE_HELP[kind]))
    return "\n".join(lines)


def tasks_table() -> str:
    from coord.tasks import build_namespace
    from coord.tasks.usage import task_usage

    namespace = build_namespace()
    lines = [_row("task", "what it does"), _row("---", "---")]
    for name in sorted(namespace.task_names):
        task = namespace[name]
        doc = (task.__doc__ or "").strip().splitlines()
        lines.append(_row(f"`{task_usage(name, task)}`", doc[0] if doc else ""))
    return "\n".join(lines)


def mcp_tools_table() -> str:
    import asyncio

    from coord.mcp_server import build_server

    server = build_server()

    async def listing() -> list[tuple[str, str]]:
        from mcp.client import Client

        async with Client(server) as client:
            result = await client.list_tools()
            return [(tool.name, tool.description or "") for tool in result.tools]

    lines = [_row("tool", "what it does"), _row("---", "---")]
    for name, description in sorted(asyncio.run(listing())):
        lines.append(_row(f"`{name}`", description.strip().splitlines()[0] if description.strip() else ""))
    return "\n".join(lines)


BLOCKS: dict[str, Callable[[], str]] = {
    "settings": settings_table,
    "exit-codes": exit_codes_table,
    "message-types": message_types_table,
    "tasks": tasks_table,
    "mcp-tools": mcp_tools_table,
}

_BLOCK = re.compile(r"(<!-- ref:(?P<name>[a-z-]+) -->\n)(?P<body>.*?)(<!-- /ref:(?P=name) -->)", re.DOTALL)


def refresh(text: str, blocks: dict[str, Callable[[], str]] | None = None) -> str:
    """Replace the body of every `<!-- ref:NAME -->` block in text with its generated table."""
    blocks = BLOCKS if blocks is None else blocks

    def fill(match: re.Match[str]) -> str:
        name = match.group("name")
        if name not in blocks:
            return match.group(0)
        return f"{match.group(1)}{blocks[name]()}\n{match.group(4)}"

    return _BLOCK.sub(fill, text)
