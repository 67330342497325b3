"""Rendering decisions: what the generated files say, and how they merge into the user's files."""

from __future__ import annotations

import json
import re

import pytest

from coord import render
from coord.catalog.claude import HOOKS, LAUNCHER, TOOL_NAMES
from coord.config import Config
from coord.errors import CoordError
from coord.identity import INSTANCE_ENV
from coord.messages import AGENT_TYPES, LIFECYCLE_TYPES, MESSAGE_TYPE_HELP
from coord.render_disk import RenderedFile
from coord.render_merge import SECTION_BEGIN, SECTION_END, merge_section

COMMANDS = [(name, f"Does {name} | things") for name in ("init", "mcp", "agent.precommit", *render.AGENT_COMMANDS)]


def rendered(config: Config | None = None, existing: dict[str, str] | None = None) -> dict[str, RenderedFile]:
    context = render.build_context(config or Config(), TOOL_NAMES, COMMANDS)
    files = render.render_files(context, lambda path: (existing or {}).get(path))
    return {f.path: f for f in files}


def test_every_expected_file_is_rendered_once() -> None:
    files = rendered()
    expected = {
        ".claude/settings.json", ".mcp.json", "CLAUDE.md",
        ".claude/rules/coordination-protocol.md",  # the only rules file: Claude Code loads it into every session
        ".claude/coord/pm-cli.md", ".claude/coord/orchestrator.md",  # read by SessionStart for their role
        LAUNCHER,
    }
    assert set(files) == expected


@pytest.mark.parametrize("transport", ["mcp_tool", "command"])
def test_settings_wire_every_hook_to_its_committed_script_and_approve_the_server(transport: str) -> None:
    from dataclasses import replace

    from coord.catalog.claude import mcp_tool_hook

    settings = json.loads(rendered(replace(Config(), hook_transport=transport))[".claude/settings.json"].content)
    assert settings["enabledMcpjsonServers"] == ["coord"]
    assert settings["permissions"]["allow"] == ["mcp__coord"]  # one entry for every coord tool
    assert set(settings["hooks"]) == {hook.event for hook in HOOKS}
    for hook in HOOKS:
        (group,) = settings["hooks"][hook.event]
        assert group.get("matcher") == hook.matcher
        (entry,) = group["hooks"]
        if hook.via_mcp and transport == "mcp_tool":
            assert entry == mcp_tool_hook(hook)
            assert entry["server"] == "coord" and entry["tool"] == "coord_hook"
            continue
        assert entry == {"type": "command", "command": f'"$CLAUDE_PROJECT_DIR"/{LAUNCHER} {hook.arg}',
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


def test_mcp_json_starts_coord_through_the_launcher_and_passes_the_instance_id_through() -> None:
    data = json.loads(rendered()[".mcp.json"].content)
    assert data["mcpServers"]["coord"] == {
        "command": "sh", "args": [LAUNCHER, "mcp"], "env": {INSTANCE_ENV: "${CLAUDE_INSTANCE_ID:-}"},
    }


def test_one_launcher_for_every_event_driven_by_the_hook_specs() -> None:
    script = rendered()[LAUNCHER]
    assert script.mode == 0o755 and script.content.startswith("#!/bin/sh\n")
    assert 'exec "$bin" "$@"' in script.content and 'exec coord-hook "$@"' in script.content
    assert not [f for f in rendered() if f.startswith(".claude/hooks/") and f != LAUNCHER]
    required = [h.arg for h in HOOKS if h.required]
    tells = [h.arg for h in HOOKS if h.tells_missing]
    assert required == ["worktree-create"] and tells == ["session-start"]
    for arg in required:
        assert re.search(rf"^  {arg}\).*exit 1 ;;$", script.content, re.M)
    for arg in tells:
        line = next(ln for ln in script.content.splitlines() if ln.startswith(f"  {arg})"))
        notice = json.loads(line[line.index("'") + 1: line.rindex("'")])
        assert notice["systemMessage"] == render.MISSING_NOTICE
        assert notice["hookSpecificOutput"]["additionalContext"] == render.MISSING_NOTICE
    assert script.content.rstrip().endswith("exit 0")  # every other event: quiet, never blocks


def test_worktree_hooks_follow_own_claude_worktrees() -> None:
    from dataclasses import replace

    worktree_events = {h.event for h in HOOKS if h.setting == "own_claude_worktrees"}
    assert worktree_events == {"WorktreeCreate", "WorktreeRemove"}
    on = json.loads(rendered()[".claude/settings.json"].content)["hooks"]
    assert worktree_events <= set(on)
    off = rendered(replace(Config(), own_claude_worktrees=False))
    assert not worktree_events & set(json.loads(off[".claude/settings.json"].content)["hooks"])
    assert "worktree-create)" not in off[LAUNCHER].content


def test_adhoc_agents_of_this_machine_never_reach_the_rendered_files() -> None:
    from coord.claude_worktree import with_role

    assert rendered(with_role(Config(), "agent-a19d1fe46fafc5e6e")) == rendered()


def test_no_file_holds_an_absolute_path_of_this_machine() -> None:
    for f in rendered().values():
        assert not re.search(r"(/home/|/root/|/tmp/|/work/|/Users/|[A-Z]:\\\\)", f.content), f.path


def test_rules_cover_every_type_an_agent_sends_and_every_tool() -> None:
    protocol = rendered()[".claude/rules/coordination-protocol.md"].content
    for kind in AGENT_TYPES:
        assert f"`{kind.value}` {MESSAGE_TYPE_HELP[kind]}" in protocol
    for kind in LIFECYCLE_TYPES:  # coord's own: agents never send them
        assert kind.value not in protocol
    for name in TOOL_NAMES:
        assert (name in protocol) is (name != "coord_hook")  # the hooks' own tool is not the agents'


def test_required_sections_are_present() -> None:
    files = rendered()
    pm = files[".claude/coord/pm-cli.md"].content
    assert "Mail first, every turn" in pm and "Presence before delegation" in pm
    orchestrator = files[".claude/coord/orchestrator.md"].content
    assert "STATUS_UPDATE after every operation" in orchestrator
    protocol = files[".claude/rules/coordination-protocol.md"].content
    for heading in ("## Mail", "## Presence", "## Branches", "## Conflicts and claims", "## When something is off"):
        assert heading in protocol
    for trouble in ("Redis unreachable", "role held", "coord doctor"):
        assert trouble in protocol


def test_role_rules_carry_no_top_level_heading() -> None:
    """They are appended to the SessionStart context, where a '# ' heading would read as the CLI's own."""
    for name in (".claude/coord/pm-cli.md", ".claude/coord/orchestrator.md"):
        assert not re.search(r"^# ", rendered()[name].content, re.M), name


def test_values_come_from_the_config_not_from_the_templates() -> None:
    config = Config(roles=("lead", "api", "web"), main_role="lead", worktree_dir="trees",
                    stale_seconds=91, heartbeat_seconds=17, presence_ttl_seconds=123)
    files = rendered(config)
    protocol = files[".claude/rules/coordination-protocol.md"].content
    assert "91 s" in protocol and "17 s" in protocol
    assert "300 s" not in protocol and "60 s" not in protocol and "180 s" not in protocol
    assert "`MERGE_READY` to `lead`" in protocol
    pm = files[".claude/coord/pm-cli.md"].content
    assert "Rules for lead" in pm and "api, web" in pm
    for default_role in ("backend", "frontend", "devops", "qa"):
        assert default_role not in pm
    section = files["CLAUDE.md"].content
    assert "(lead, api, web)" in section and "`trees/<role>`" in section and "`lead` in the main checkout" in section


def test_commands_table_lists_the_agents_commands_only() -> None:
    section = rendered()["CLAUDE.md"].content
    for name in render.AGENT_COMMANDS:
        assert f"| `coord {name}` | Does {name} \\| things |" in section
    for internal in ("init", "mcp", "agent.precommit"):
        assert f"| `coord {internal}` |" not in section


def test_a_command_table_without_an_agent_command_fails_to_render() -> None:
    with pytest.raises(CoordError, match=r"agent\.sync"):
        render.build_context(Config(), TOOL_NAMES, [c for c in COMMANDS if c[0] != "agent.sync"])


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
    assert "mcp__coord__coord_old_tool" not in data["permissions"]["allow"]  # per-tool entries of old renders
    assert data["permissions"]["allow"].count("mcp__coord") == 1
    user_pre = USER_SETTINGS["hooks"]["PreToolUse"]  # the user's PreToolUse entries stay, coord's follow them
    assert data["hooks"]["PreToolUse"][: len(user_pre)] == user_pre
    assert [g["matcher"] for g in data["hooks"]["PreToolUse"][len(user_pre):]] == ["Edit|Write|MultiEdit|NotebookEdit"]
    assert "SubagentStop" not in data["hooks"]  # only coord's (old) hook was there
    commands = [h["command"] for g in data["hooks"]["SessionStart"] for h in g["hooks"]]
    assert commands == ["echo mine", f'"$CLAUDE_PROJECT_DIR"/{LAUNCHER} session-start']


def test_merges_are_idempotent() -> None:
    first = rendered(existing={".claude/settings.json": json.dumps(USER_SETTINGS), ".mcp.json": "{}",
                               "CLAUDE.md": "# Mine\n"})
    again = rendered(existing={path: f.content for path, f in first.items()})
    assert {p: f.content for p, f in again.items()} == {p: f.content for p, f in first.items()}


def test_mcp_merge_keeps_other_servers() -> None:
    mine = {"mcpServers": {"github": {"command": "gh-mcp"}, "coord": {"command": "old"}}, "extra": 1}
    data = json.loads(rendered(existing={".mcp.json": json.dumps(mine)})[".mcp.json"].content)
    assert data["mcpServers"]["github"] == {"command": "gh-mcp"}
    assert data["mcpServers"]["coord"]["args"] == [LAUNCHER, "mcp"]
    assert data["extra"] == 1


@pytest.mark.parametrize("path", [".claude/settings.json", ".mcp.json"])
@pytest.mark.parametrize("text", ["{not json", "[1, 2]"])
def test_broken_json_is_refused_not_overwritten(path: str, text: str) -> None:
    with pytest.raises(CoordError, match=re.escape(path)) as info:
        rendered(existing={path: text})
    assert "\n" not in info.value.line()


def test_claude_md_section_is_created_appended_and_replaced_in_place() -> None:
    section = "## coord\nhello\n"
    assert merge_section(None, section) == f"{SECTION_BEGIN}\n## coord\nhello\n{SECTION_END}\n"
    appended = merge_section("# Project\n\nmy notes\n", section)
    assert appended.startswith("# Project\n\nmy notes\n\n" + SECTION_BEGIN)
    user = f"# Project\nbefore\n{SECTION_BEGIN}\nold text\n{SECTION_END}\nafter\n"
    replaced = merge_section(user, section)
    assert replaced == f"# Project\nbefore\n{SECTION_BEGIN}\n## coord\nhello\n{SECTION_END}\nafter\n"
    assert merge_section(replaced, section) == replaced


@pytest.mark.parametrize("text", [
    f"{SECTION_BEGIN}\nno end\n",
    f"{SECTION_END}\n{SECTION_BEGIN}\n",
    f"{SECTION_BEGIN}\n{SECTION_END}\n{SECTION_BEGIN}\n{SECTION_END}\n",
])
def test_claude_md_with_broken_markers_is_refused(text: str) -> None:
    with pytest.raises(CoordError, match="markers"):
        merge_section(text, "x")
