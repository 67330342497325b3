"""Rendering decisions: what the generated files say, and how they merge into the user's files."""

from __future__ import annotations

import json
import re

import pytest

from coord import render
from coord.catalog.claude import HOOKS, TOOL_NAMES
from coord.config import Config
from coord.errors import CoordError
from coord.identity import INSTANCE_ENV
from coord.messages import MESSAGE_TYPE_HELP, MessageType

COMMANDS = [("init", "Render the files"), ("doctor", "Check everything")]


def rendered(config: Config | None = None, existing: dict[str, str] | None = None) -> dict[str, render.RenderedFile]:
    context = render.build_context(config or Config(), TOOL_NAMES, COMMANDS)
    files = render.render_files(context, lambda path: (existing or {}).get(path))
    return {f.path: f for f in files}


def test_every_expected_file_is_rendered_once() -> None:
    files = rendered()
    expected = {
        ".claude/settings.json", ".mcp.json", "CLAUDE.md",
        *(f".claude/rules/{name}" for name in ("pm-cli.md", "orchestrator.md", "coordination-protocol.md")),
        *(f".claude/hooks/{hook.script}" for hook in HOOKS),
    }
    assert set(files) == expected


@pytest.mark.parametrize("transport", ["mcp_tool", "command"])
def test_settings_wire_every_hook_to_its_committed_script_and_approve_the_server(transport: str) -> None:
    from dataclasses import replace

    from coord.catalog.claude import mcp_tool_hook

    settings = json.loads(rendered(replace(Config(), hook_transport=transport))[".claude/settings.json"].content)
    assert settings["enabledMcpjsonServers"] == ["coord"]
    assert settings["permissions"]["allow"] == [f"mcp__coord__{name}" for name in TOOL_NAMES]
    assert set(settings["hooks"]) == {hook.event for hook in HOOKS}
    for hook in HOOKS:
        (group,) = settings["hooks"][hook.event]
        assert group.get("matcher") == hook.matcher
        (entry,) = group["hooks"]
        if hook.via_mcp and transport == "mcp_tool":
            assert entry == mcp_tool_hook(hook)
            assert entry["server"] == "coord" and entry["tool"] == "coord_hook"
            continue
        assert entry == {"type": "command", "command": f'"$CLAUDE_PROJECT_DIR"/.claude/hooks/{hook.script}',
                         "timeout": hook.timeout}
    via_mcp = {h.event for h in HOOKS if h.via_mcp}
    assert via_mcp == {"PostToolUse", "PostToolUseFailure", "Stop", "Notification"}
    assert settings["hooks"]["SessionEnd"][0]["hooks"][0]["timeout"] > 1.5  # above the default budget
    assert "startup" in settings["hooks"]["SessionStart"][0]["matcher"]


def test_switching_the_hook_transport_replaces_coords_entries_and_keeps_the_users() -> None:
    from dataclasses import replace

    users = {"type": "command", "command": "echo mine"}
    first = rendered(replace(Config(), hook_transport="mcp_tool"))[".claude/settings.json"].content
    data = json.loads(first)
    data["hooks"]["PostToolUse"][0]["hooks"].append(users)
    again = rendered(replace(Config(), hook_transport="command"),
                     {".claude/settings.json": json.dumps(data)})[".claude/settings.json"].content
    entries = [h for g in json.loads(again)["hooks"]["PostToolUse"] for h in g["hooks"]]
    assert users in entries
    assert [h["type"] for h in entries if h != users] == ["command"]


def test_the_agents_tool_list_leaves_out_the_hooks_own_tool() -> None:
    rules = rendered()[".claude/rules/coordination-protocol.md"].content
    assert "coord_check_messages" in rules and "coord_hook" not in rules


def test_mcp_json_starts_coord_mcp_and_passes_the_instance_id_through() -> None:
    data = json.loads(rendered()[".mcp.json"].content)
    assert data["mcpServers"]["coord"] == {
        "command": "coord", "args": ["mcp"], "env": {INSTANCE_ENV: "${CLAUDE_INSTANCE_ID:-}"},
    }


def test_hook_scripts_exec_coord_hook_and_never_block_when_it_is_missing() -> None:
    for hook in HOOKS:
        script = rendered()[f".claude/hooks/{hook.script}"]
        assert script.mode == 0o755
        assert script.content.startswith("#!/bin/sh\n")
        assert f"exec coord-hook {hook.arg}\n" in script.content
        assert script.content.rstrip().endswith("exit 1" if hook.required else "exit 0")


def test_worktree_hooks_follow_own_claude_worktrees() -> None:
    from dataclasses import replace

    worktree_events = {h.event for h in HOOKS if h.setting == "own_claude_worktrees"}
    assert worktree_events == {"WorktreeCreate", "WorktreeRemove"}
    on = json.loads(rendered()[".claude/settings.json"].content)["hooks"]
    assert worktree_events <= set(on)
    off = rendered(replace(Config(), own_claude_worktrees=False))
    assert not worktree_events & set(json.loads(off[".claude/settings.json"].content)["hooks"])
    assert not any("worktree-" in path for path in off)


def test_adhoc_agents_of_this_machine_never_reach_the_rendered_files() -> None:
    from coord.claude_worktree import with_role

    assert rendered(with_role(Config(), "agent-a19d1fe46fafc5e6e")) == rendered()


def test_no_file_holds_an_absolute_path_of_this_machine() -> None:
    for f in rendered().values():
        assert not re.search(r"(/home/|/root/|/tmp/|/work/|/Users/|[A-Z]:\\\\)", f.content), f.path


def test_rules_cover_every_message_type_tool_and_exit_code() -> None:
    protocol = rendered()[".claude/rules/coordination-protocol.md"].content
    for kind in MessageType:
        assert f"`{kind.value}`" in protocol
        assert MESSAGE_TYPE_HELP[kind] in protocol
    for name in TOOL_NAMES:
        assert (name in protocol) is (name != "coord_hook")  # the hooks' own tool is not the agents'
    from coord.errors import EXIT_CODES

    for code, meaning in EXIT_CODES.items():
        assert f"| {code} | {meaning} |" in protocol


def test_required_sections_are_present() -> None:
    files = rendered()
    pm = files[".claude/rules/pm-cli.md"].content
    assert "## Message Check at Every Turn (mandatory)" in pm
    assert "## Presence Check Before Delegation (mandatory)" in pm
    assert pm.count("Example exchange") == 2
    orchestrator = files[".claude/rules/orchestrator.md"].content
    assert "STATUS_UPDATE after every operation (mandatory)" in orchestrator
    protocol = files[".claude/rules/coordination-protocol.md"].content
    for heading in ("## Message types", "## Heartbeat protocol", "## Presence rules", "## Common scenarios",
                    "## Troubleshooting"):
        assert heading in protocol
    for trouble in ("Redis", "stale agent", "role taken", "identity refused", "MCP server not connected"):
        assert trouble in protocol


def test_values_come_from_the_config_not_from_the_templates() -> None:
    config = Config(roles=("lead", "api", "web"), main_role="lead", worktree_dir="trees",
                    stale_seconds=91, heartbeat_seconds=17, presence_ttl_seconds=123)
    files = rendered(config)
    protocol = files[".claude/rules/coordination-protocol.md"].content
    assert "91 s" in protocol and "17 s" in protocol and "123 s" in protocol
    assert "300 s" not in protocol and "60 s" not in protocol
    assert "(lead, api, web)" in protocol
    assert "`trees/<role>`" in protocol
    pm = files[".claude/rules/pm-cli.md"].content
    assert "role is `lead`" in pm
    for default_role in ("backend", "frontend", "devops", "qa"):
        assert default_role not in pm
    section = files["CLAUDE.md"].content
    assert "trees/ROLE" in section and "`lead` works in the main checkout" in section


def test_commands_table_lists_every_command_given() -> None:
    section = rendered()["CLAUDE.md"].content
    for name, doc in COMMANDS:
        assert f"| `coord {name}` | {doc} |" in section


def test_a_template_naming_a_missing_tool_fails_to_render() -> None:
    context = render.build_context(Config(), tuple(n for n in TOOL_NAMES if n != "coord_ack_messages"), COMMANDS)
    with pytest.raises(CoordError, match="coord_ack_messages"):
        render.render_files(context, lambda path: None)


# -- merging into the user's files ------------------------------------------------------


USER_SETTINGS = {
    "model": "opus",
    "enabledMcpjsonServers": ["github"],
    "permissions": {"allow": ["Bash(npm test)", "mcp__coord__coord_old_tool"], "deny": ["Read(.env)"]},
    "hooks": {
        "PreToolUse": [{"matcher": "Bash", "hooks": [{"type": "command", "command": "lint.sh"}]}],
        "SessionStart": [
            {"hooks": [{"type": "command", "command": "echo mine"},
                       {"type": "command", "command": '"$CLAUDE_PROJECT_DIR"/.claude/hooks/coord-old.sh'}]},
        ],
        "SubagentStop": [
            {"hooks": [{"type": "command", "command": '"$CLAUDE_PROJECT_DIR"/.claude/hooks/coord-gone.sh'}]},
        ],
    },
}


def test_settings_merge_keeps_the_users_entries_and_replaces_coords() -> None:
    text = rendered(existing={".claude/settings.json": json.dumps(USER_SETTINGS)})[".claude/settings.json"].content
    data = json.loads(text)
    assert data["model"] == "opus"
    assert data["enabledMcpjsonServers"] == ["github", "coord"]
    assert data["permissions"]["deny"] == ["Read(.env)"]
    assert "Bash(npm test)" in data["permissions"]["allow"]
    assert "mcp__coord__coord_old_tool" not in data["permissions"]["allow"]  # a tool coord no longer has
    assert all(f"mcp__coord__{n}" in data["permissions"]["allow"] for n in TOOL_NAMES)
    user_pre = USER_SETTINGS["hooks"]["PreToolUse"]  # the user's PreToolUse entries stay, coord's follow them
    assert data["hooks"]["PreToolUse"][: len(user_pre)] == user_pre
    assert [g["matcher"] for g in data["hooks"]["PreToolUse"][len(user_pre):]] == ["Edit|Write|MultiEdit|NotebookEdit"]
    assert "SubagentStop" not in data["hooks"]  # only coord's (old) hook was there
    commands = [h["command"] for g in data["hooks"]["SessionStart"] for h in g["hooks"]]
    assert commands == ["echo mine", '"$CLAUDE_PROJECT_DIR"/.claude/hooks/coord-session-start.sh']


def test_merges_are_idempotent() -> None:
    first = rendered(existing={".claude/settings.json": json.dumps(USER_SETTINGS), ".mcp.json": "{}",
                               "CLAUDE.md": "# Mine\n"})
    again = rendered(existing={path: f.content for path, f in first.items()})
    assert {p: f.content for p, f in again.items()} == {p: f.content for p, f in first.items()}


def test_mcp_merge_keeps_other_servers() -> None:
    mine = {"mcpServers": {"github": {"command": "gh-mcp"}, "coord": {"command": "old"}}, "extra": 1}
    data = json.loads(rendered(existing={".mcp.json": json.dumps(mine)})[".mcp.json"].content)
    assert data["mcpServers"]["github"] == {"command": "gh-mcp"}
    assert data["mcpServers"]["coord"]["args"] == ["mcp"]
    assert data["extra"] == 1


@pytest.mark.parametrize("path", [".claude/settings.json", ".mcp.json"])
@pytest.mark.parametrize("text", ["{not json", "[1, 2]"])
def test_broken_json_is_refused_not_overwritten(path: str, text: str) -> None:
    with pytest.raises(CoordError, match=re.escape(path)) as info:
        rendered(existing={path: text})
    assert "\n" not in info.value.line()


def test_claude_md_section_is_created_appended_and_replaced_in_place() -> None:
    section = "## coord\nhello\n"
    assert render.merge_section(None, section) == f"{render.SECTION_BEGIN}\n## coord\nhello\n{render.SECTION_END}\n"
    appended = render.merge_section("# Project\n\nmy notes\n", section)
    assert appended.startswith("# Project\n\nmy notes\n\n" + render.SECTION_BEGIN)
    user = f"# Project\nbefore\n{render.SECTION_BEGIN}\nold text\n{render.SECTION_END}\nafter\n"
    replaced = render.merge_section(user, section)
    assert replaced == f"# Project\nbefore\n{render.SECTION_BEGIN}\n## coord\nhello\n{render.SECTION_END}\nafter\n"
    assert render.merge_section(replaced, section) == replaced


@pytest.mark.parametrize("text", [
    f"{render.SECTION_BEGIN}\nno end\n",
    f"{render.SECTION_END}\n{render.SECTION_BEGIN}\n",
    f"{render.SECTION_BEGIN}\n{render.SECTION_END}\n{render.SECTION_BEGIN}\n{render.SECTION_END}\n",
])
def test_claude_md_with_broken_markers_is_refused(text: str) -> None:
    with pytest.raises(CoordError, match="markers"):
        render.merge_section(text, "x")
