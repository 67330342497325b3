"""Codex CLI and Gemini CLI in coord's terms (pure): their catalogs, hook dialects, the files coord
renders for them (merged with the user's), the agents setting, COORD_ROLE, and the start lines."""

from __future__ import annotations

import json
import tomllib

import pytest

from coord import agent_cli, agent_files, dialects
from coord.catalog import codex, gemini
from coord.cli_trust import append_command, gemini_trusted_folder
from coord.codex_trust import HookTrust, parse_hook_list, project_trusted, trust_lines
from coord.config import Config, load_config
from coord.errors import ConfigError, IdentityError
from coord.identity import resolve_identity

pytestmark = pytest.mark.unit

PATCH = """*** Begin Patch
*** Add File: docs/new.md
+hello
*** Update File: src/api.py
*** Move to: src/routes.py
@@
-a
+b
*** Delete File: old.txt
*** End Patch
"""


def test_apply_patch_paths_are_read_from_the_patch_text() -> None:
    assert codex.patch_paths(PATCH) == ["docs/new.md", "src/api.py", "src/routes.py", "old.txt"]
    assert codex.edited_paths("apply_patch", {"input": PATCH}) == codex.patch_paths(PATCH)
    assert codex.edited_paths("apply_patch", PATCH)[0] == "docs/new.md"
    assert codex.edited_paths("exec_command", {"cmd": PATCH}) == []
    assert codex.edited_paths("apply_patch", {"input": "no patch here"}) == []


def test_gemini_edit_tools_name_their_file_path() -> None:
    assert gemini.edited_paths("write_file", {"file_path": "/r/a.md", "content": "x"}) == ["/r/a.md"]
    assert gemini.edited_paths("replace", {"file_path": " b.py ", "old_string": "a"}) == ["b.py"]
    assert gemini.edited_paths("read_file", {"file_path": "a.md"}) == []
    assert gemini.edited_paths("write_file", "not an object") == []


def test_gemini_timeouts_are_milliseconds_and_codex_session_end_fits_its_clamp() -> None:
    assert all(h.timeout_ms >= 1000 for h in gemini.HOOKS)
    assert next(h for h in codex.HOOKS if h.event == "SessionEnd").timeout <= codex.SESSION_END_MAX_SECONDS


def test_dialects_translate_events_to_coord_handlers() -> None:
    d = dialects.DIALECTS["gemini"]
    translated = dialects.payload_in(d, "BeforeTool", {"tool_name": "write_file", "tool_input": {"file_path": "x"}})
    assert translated is not None and translated[0] == "pre-tool-use" and translated[1][dialects.PATHS_KEY] == ["x"]
    assert dialects.payload_in(d, "BeforeAgent", {"prompt": "hi"})[0] == "user-prompt-submit"
    assert dialects.payload_in(d, "Notification", {}) is None
    c = dialects.DIALECTS["codex"]
    assert dialects.payload_in(c, "PreToolUse", {"tool_name": "apply_patch", "tool_input": {"input": PATCH}})[1][
        dialects.PATHS_KEY][0] == "docs/new.md"


def test_gemini_answers_deny_with_a_reason_and_context_under_its_own_event() -> None:
    d = dialects.DIALECTS["gemini"]
    assert dialects.answer_out(d, "BeforeAgent", {"decision": "block", "reason": "wrong role"}) == {
        "decision": "deny", "reason": "wrong role"}
    deny = {"hookSpecificOutput": {"hookEventName": "PreToolUse", "permissionDecision": "deny",
                                   "permissionDecisionReason": "claimed by backend"}}
    assert dialects.answer_out(d, "BeforeTool", deny) == {"decision": "deny", "reason": "claimed by backend"}
    ctx = {"hookSpecificOutput": {"hookEventName": "UserPromptSubmit", "additionalContext": "2 new"},
           "systemMessage": "note"}
    assert dialects.answer_out(d, "BeforeAgent", ctx) == {
        "hookSpecificOutput": {"hookEventName": "BeforeAgent", "additionalContext": "2 new"}, "systemMessage": "note"}
    assert dialects.answer_out(d, "BeforeAgent", None) is None
    assert dialects.answer_out(dialects.DIALECTS["codex"], "PreToolUse", deny) == deny  # Claude Code's shape


def test_codex_files_merge_with_the_users_and_rerender_identically() -> None:
    user_toml = 'model = "o4"\n\n[mcp_servers.docs]\ncommand = "docs-mcp"\n'
    section = agent_files.codex_section("generated")
    merged = agent_files.merge_toml_section(user_toml, section, ".codex/config.toml")
    data = tomllib.loads(merged)
    assert data["model"] == "o4" and data["mcp_servers"]["docs"]["command"] == "docs-mcp"
    coord = data["mcp_servers"]["coord"]
    assert coord["args"] == ["mcp"] and coord["required"] is True and coord["env"] == {"COORD_PRESENCE": "hooks"}
    assert "COORD_ROLE" in coord["env_vars"]
    assert agent_files.merge_toml_section(merged, section, ".codex/config.toml") == merged
    with pytest.raises(Exception, match="outside coord's section"):
        agent_files.merge_toml_section('[mcp_servers.coord]\ncommand = "x"\n', section, ".codex/config.toml")

    user_hooks = json.dumps({"hooks": {"Stop": [{"hooks": [{"type": "command", "command": "notify"}]}],
                                       "SessionStart": [{"hooks": [{"type": "command", "command": "mine"}]}]}})
    once = agent_files.codex_hooks(user_hooks)
    assert agent_files.codex_hooks(once) == once
    hooks = json.loads(once)["hooks"]
    assert hooks["Stop"][0]["hooks"][0]["command"] == "notify"
    starts = [h["command"] for g in hooks["SessionStart"] for h in g["hooks"]]
    assert starts[0] == "mine" and codex.LAUNCHER_PATH in starts[1] and len(starts) == 2
    assert hooks["PreToolUse"][0]["matcher"] == "^(apply_patch)$"


def test_gemini_settings_keep_the_users_keys_and_use_milliseconds() -> None:
    user = json.dumps({"theme": "dark", "mcpServers": {"other": {"command": "x"}},
                       "hooks": {"AfterAgent": [{"hooks": [{"type": "command", "command": "ding"}]}]}})
    once = agent_files.gemini_settings(user)
    assert agent_files.gemini_settings(once) == once
    data = json.loads(once)
    assert data["theme"] == "dark" and data["mcpServers"]["other"] == {"command": "x"}
    server = data["mcpServers"]["coord"]
    assert server["trust"] is True and server["env"]["COORD_PRESENCE"] == "hooks"
    assert data["hooks"]["AfterAgent"][0]["hooks"][0]["command"] == "ding"
    before_agent = data["hooks"]["BeforeAgent"][0]["hooks"][0]
    assert before_agent["timeout"] == 10_000 and "gemini BeforeAgent" in before_agent["command"]


def test_agent_files_only_for_the_configured_clis() -> None:
    def launcher(agent: str) -> str:
        return f"#!/bin/sh\n# {agent}\n"

    assert agent_files.agent_files(("claude",), lambda _p: None, launcher, "g") == []
    paths = [p for p, _c, _m in agent_files.agent_files(("claude", "codex", "gemini"), lambda _p: None, launcher, "g")]
    assert paths == [codex.CONFIG_PATH, codex.HOOKS_PATH, codex.LAUNCHER_PATH, gemini.SETTINGS_PATH,
                     gemini.LAUNCHER_PATH]


def test_agents_setting_is_checked(tmp_path) -> None:
    assert Config().agents == ("claude",)
    assert load_config(None, {"COORD_AGENTS": "claude,codex"}).agents == ("claude", "codex")
    (tmp_path / "coord.toml").write_text('agents = ["gemini", "codex", "gemini"]\n')
    assert load_config(tmp_path, {}).agents == ("gemini", "codex")
    for bad in ('agents = ["cursor"]\n', "agents = []\n", 'agents = "claude"\n'.replace('"claude"', "3")):
        (tmp_path / "coord.toml").write_text(bad)
        with pytest.raises(ConfigError):
            load_config(tmp_path, {})


def test_coord_role_is_the_agent_neutral_identity() -> None:
    roles = ("pm", "qa", "docs")
    assert resolve_identity({"COORD_ROLE": "qa"}, None, roles).source == "COORD_ROLE"
    assert resolve_identity({"CLAUDE_INSTANCE_ID": "qa"}, None, roles).source == "CLAUDE_INSTANCE_ID"
    assert resolve_identity({"COORD_ROLE": "qa", "CLAUDE_INSTANCE_ID": "qa"}, None, roles).role == "qa"
    with pytest.raises(IdentityError, match="two identities"):
        resolve_identity({"COORD_ROLE": "qa", "CLAUDE_INSTANCE_ID": "docs"}, None, roles)
    with pytest.raises(IdentityError, match="belongs to docs"):
        resolve_identity({"COORD_ROLE": "qa"}, "docs@coord.invalid", roles)


def test_session_start_lines_and_agent_choice() -> None:
    config = Config(roles=("pm", "qa", "docs"), agents=("claude", "codex"),
                    agent_command_by_role=(("qa", "codex --model o4"),))
    assert agent_cli.choose_agent(config, "qa", None) == "codex"
    assert agent_cli.choose_agent(config, "docs", None) == "claude"
    with pytest.raises(ConfigError, match="not in this project's agents") as refused:
        agent_cli.choose_agent(config, "docs", "gemini")
    assert 'add "gemini" to agents' in refused.value.line()
    assert agent_cli.start_line("codex", "qa") == "COORD_ROLE=qa codex"
    assert agent_cli.start_line("claude", "pm") == "CLAUDE_INSTANCE_ID=pm claude"
    assert agent_cli.identity_env("gemini", "docs") == {"COORD_ROLE": "docs"}


def test_codex_trust_lines_parse_back_and_are_recognised(tmp_path) -> None:
    hook = HookTrust("/r/.codex/hooks.json:session_start:0:0", "sessionStart", 'sh "x/.codex/coord-hook.sh"',
                     "sha256:ab", "untrusted")
    text = trust_lines([tmp_path], [hook])
    data = tomllib.loads(text)
    assert data["hooks"]["state"][hook.key]["trusted_hash"] == "sha256:ab"
    assert project_trusted(text, tmp_path) and not project_trusted(text, tmp_path / "other")
    assert hook.is_coord and not hook.runs
    rows = parse_hook_list({"data": [{"hooks": [{"key": "k", "eventName": "stop", "command": "c",
                                                  "currentHash": "h", "trustStatus": "trusted"}]}]})
    assert rows == [HookTrust("k", "stop", "c", "h", "trusted")] and rows[0].runs
    assert append_command(text, tmp_path / "config.toml").startswith("printf '%s\\n' ")


def test_gemini_trusted_folders(tmp_path) -> None:
    repo = tmp_path / "repo"
    assert gemini_trusted_folder({str(repo): "TRUST_FOLDER"}, repo / ".worktrees" / "qa")
    assert gemini_trusted_folder({str(repo / "x"): "TRUST_PARENT"}, repo)
    assert not gemini_trusted_folder({str(repo): "DO_NOT_TRUST"}, repo)
    assert not gemini_trusted_folder({str(tmp_path / "else"): "TRUST_FOLDER"}, repo)


def test_the_hook_entry_point_knows_every_dialect_and_claude_hooks_do_not_load_them() -> None:
    import ast
    import subprocess
    import sys
    from pathlib import Path

    source = (Path(dialects.__file__).parent / "hooks.py").read_text()
    named = next(node for node in ast.walk(ast.parse(source))
                 if isinstance(node, ast.Compare) and isinstance(node.comparators[0], ast.Tuple)
                 and any(isinstance(e, ast.Constant) and e.value == "codex" for e in node.comparators[0].elts))
    assert {e.value for e in named.comparators[0].elts} == set(dialects.DIALECTS)  # type: ignore[attr-defined]
    loaded = subprocess.run([sys.executable, "-c", "import sys, coord.hooks; print('coord.dialects' in sys.modules)"],
                            capture_output=True, text=True, check=True).stdout.strip()
    assert loaded == "False"
