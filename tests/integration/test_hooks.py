"""coord-hook run the way Claude Code runs it (a process, JSON on stdin), against real git and Valkey.

Every effect is checked with an independent client (redis-py), not through coord's own store.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from coord.identity import role_email, role_name
from coord.keys import Keys
from coord.messages import MessageType
from coord.render import AGENT_COMMANDS
from tests.conftest import ValkeyProcess, free_port, git
from tests.polling import wait_for

pytestmark = pytest.mark.integration

HOOK = [sys.executable, "-m", "coord.hooks"]
FULL_TABLE = [(name, name) for name in AGENT_COMMANDS]  # what CLAUDE.md's table needs to render


class Hooks:
    """Runs coord-hook in a checkout with the test's Valkey and namespace."""

    def __init__(self, env: dict[str, str], namespace: str, url: str) -> None:
        self.env = env
        self.keys = Keys(namespace)
        self.r = redis.Redis.from_url(url, decode_responses=True)

    def run(self, event: str, cwd: Path, payload: dict[str, Any] | bytes | None = None,
            **extra: str | None) -> tuple[int, dict[str, Any] | None, str]:
        env = {**self.env, "CLAUDE_PROJECT_DIR": str(cwd)}
        for key, value in extra.items():
            if value is None:
                env.pop(key, None)
            else:
                env[key] = value
        data = payload if isinstance(payload, bytes) else json.dumps(payload or {}).encode()
        # The timeout only stops a hung hook from hanging the suite: how fast a hook is, is
        # measured by `nox -s bench` (rows 1 and 2), never asserted here.
        proc = subprocess.run([*HOOK, event], input=data, cwd=cwd, env=env, capture_output=True, timeout=60)
        out = proc.stdout.decode()
        return proc.returncode, (json.loads(out) if out.strip() else None), proc.stderr.decode()

    def presence(self, role: str) -> dict[str, Any] | None:
        raw = self.r.hget(self.keys.presence, role)
        return json.loads(raw) if raw else None

    def events(self) -> list[dict[str, str]]:
        return [fields for _id, fields in self.r.xrange(self.keys.events)]

    def publish(self, sender: str, recipient: str, kind: str, body: str, repo: Path) -> None:
        from coord.config import load_config
        from coord.repo import find_repo
        from coord.store import open_store

        paths = find_repo(repo)
        with open_store(paths, load_config(paths.main_root)) as store:
            store.publish(sender, recipient, MessageType(kind), body)


@pytest.fixture
def hooks(coord_env: dict[str, str], namespace: str, valkey: ValkeyProcess) -> Iterator[Hooks]:
    h = Hooks(coord_env, namespace, valkey.url)
    yield h
    h.r.close()


def context(out: dict[str, Any] | None) -> str:
    assert out is not None
    return out.get("hookSpecificOutput", {}).get("additionalContext", "")


def add_worktree(repo: Path, role: str) -> Path:
    """A role's worktree with its per-worktree identity, made with plain git (as agent.setup does)."""
    path = repo / ".worktrees" / role
    git(repo, "worktree", "add", "-q", "-b", f"agent/{role}/active", str(path))
    git(repo, "config", "extensions.worktreeConfig", "true")
    git(path, "config", "--worktree", "user.email", role_email(role))
    git(path, "config", "--worktree", "user.name", role_name(role))
    return path


# -- SessionStart ---------------------------------------------------------------------------


def test_session_start_registers_and_records_start_and_heartbeat(hooks: Hooks, git_repo: Path) -> None:
    code, out, err = hooks.run("session-start", git_repo, {"session_id": "s-1", "source": "startup"},
                                  CLAUDE_INSTANCE_ID="pm")
    assert code == 0, err
    text = context(out)
    assert text == "coord: you are pm (startup) on main; presence registered, each prompt is a heartbeat."
    assert "s-1" not in text  # nothing about mail when there is none, no session ids
    record = hooks.presence("pm")
    assert record is not None and record["session_id"] == "s-1" and record["status"] == "active"
    assert hooks.r.get(hooks.keys.alive("pm")) == "s-1"
    kinds = [(e["type"], e["sender"]) for e in hooks.events()]
    assert kinds == [("SESSION_START", "pm"), ("HEARTBEAT", "pm")]


def test_session_start_summarises_pending_mail(hooks: Hooks, git_repo: Path) -> None:
    hooks.publish("backend", "pm", "QUESTION", "q1", git_repo)
    hooks.publish("qa", "pm", "BLOCKER", "b1", git_repo)
    hooks.publish("qa", "all", "INFO", "i1", git_repo)
    _, out, _ = hooks.run("session-start", git_repo, {"session_id": "s-1"}, CLAUDE_INSTANCE_ID="pm")
    assert "coord: 3 message(s) pending (1 BLOCKER, 1 INFO, 1 QUESTION)" in context(out)


def test_on_a_resume_the_pending_count_is_said_once_by_the_prompt_hook(hooks: Hooks, git_repo: Path) -> None:
    hooks.run("session-start", git_repo, {"session_id": "s-1", "source": "startup"}, CLAUDE_INSTANCE_ID="pm")
    hooks.run("user-prompt-submit", git_repo, {"session_id": "s-1"}, CLAUDE_INSTANCE_ID="pm")
    hooks.publish("backend", "pm", "QUESTION", "q1", git_repo)
    hooks.run("session-end", git_repo, {"session_id": "s-1"}, CLAUDE_INSTANCE_ID="pm")
    _, start, _ = hooks.run("session-start", git_repo, {"session_id": "s-1", "source": "resume"},
                            CLAUDE_INSTANCE_ID="pm")
    _, prompt, _ = hooks.run("user-prompt-submit", git_repo, {"session_id": "s-1"}, CLAUDE_INSTANCE_ID="pm")
    assert "pending" not in context(start) and "(resume)" in context(start)
    assert context(prompt).startswith("coord mail for pm, 1 new:")


def test_a_restart_after_a_clean_exit_is_no_takeover(hooks: Hooks, git_repo: Path) -> None:
    hooks.run("session-start", git_repo, {"session_id": "s-1"}, CLAUDE_INSTANCE_ID="pm")
    hooks.run("session-end", git_repo, {"session_id": "s-1", "reason": "prompt_input_exit"}, CLAUDE_INSTANCE_ID="pm")
    _, out, _ = hooks.run("session-start", git_repo, {"session_id": "s-2"}, CLAUDE_INSTANCE_ID="pm")
    assert "took" not in context(out) and "stale" not in context(out)
    assert hooks.presence("pm")["session_id"] == "s-2"  # type: ignore[index]


def test_role_rules_reach_their_role_only(hooks: Hooks, git_repo: Path) -> None:
    from coord import render, render_disk
    from coord.catalog.claude import TOOL_NAMES
    from coord.config import Config

    files = render.render_files(render.build_context(Config(), TOOL_NAMES, FULL_TABLE), lambda p: None)
    render_disk.write(git_repo, files)
    git(git_repo, "add", "-A")
    git(git_repo, "commit", "-q", "-m", "coord init")
    tree = add_worktree(git_repo, "backend")
    _, pm, _ = hooks.run("session-start", git_repo, {"session_id": "s-pm"}, CLAUDE_INSTANCE_ID="pm")
    _, backend, _ = hooks.run("session-start", tree, {"session_id": "s-be"}, CLAUDE_INSTANCE_ID="backend")
    assert "\n## Rules for pm (the main checkout)" in context(pm) and "Mail first, every turn" in context(pm)
    assert "generated by" not in context(pm)  # the marker is for people
    assert "Rules for" not in context(backend)
    _, resumed, _ = hooks.run("session-start", git_repo, {"session_id": "s-pm", "source": "resume"},
                              CLAUDE_INSTANCE_ID="pm")
    assert "Rules for" not in context(resumed)  # the resumed conversation has them already
    _, compacted, _ = hooks.run("session-start", git_repo, {"session_id": "s-pm", "source": "compact"},
                                CLAUDE_INSTANCE_ID="pm")
    assert "Mail first, every turn" in context(compacted)


def test_session_start_in_a_worktree_takes_the_role_from_git(hooks: Hooks, git_repo: Path) -> None:
    tree = add_worktree(git_repo, "backend")
    _, out, err = hooks.run("session-start", tree, {"session_id": "s-b"}, CLAUDE_INSTANCE_ID=None)
    assert context(out).startswith("coord: you are backend (startup) on agent/backend/active;"), err
    assert hooks.presence("backend")["worktree_path"] == str(tree.resolve())  # type: ignore[index]


def test_session_start_with_a_wrong_identity_says_so_and_registers_nothing(hooks: Hooks, git_repo: Path) -> None:
    tree = add_worktree(git_repo, "backend")
    code, out, _ = hooks.run("session-start", tree, {"session_id": "s-x"}, CLAUDE_INSTANCE_ID="frontend")
    assert code == 0
    assert "belongs to backend" in context(out) and "blocks this session's prompts" in context(out)
    assert out is not None and "systemMessage" in out
    assert hooks.presence("frontend") is None and hooks.presence("backend") is None


def test_session_start_for_a_role_held_by_a_live_session_is_refused(hooks: Hooks, git_repo: Path) -> None:
    hooks.run("session-start", git_repo, {"session_id": "first"}, CLAUDE_INSTANCE_ID="pm")
    code, out, _ = hooks.run("session-start", git_repo, {"session_id": "second"}, CLAUDE_INSTANCE_ID="pm")
    assert code == 0
    assert "role pm is held by another live session first" in context(out)
    assert hooks.presence("pm")["session_id"] == "first"  # type: ignore[index]


# -- UserPromptSubmit -----------------------------------------------------------------------


def test_prompt_shows_new_messages_once_and_counts_as_a_heartbeat(hooks: Hooks, git_repo: Path) -> None:
    hooks.run("session-start", git_repo, {"session_id": "s-1"}, CLAUDE_INSTANCE_ID="pm")
    before = hooks.presence("pm")["last_heartbeat"]  # type: ignore[index]
    hooks.publish("backend", "pm", "QUESTION", "which schema?\nv2 or v3", git_repo)
    wait_for(lambda: time.time() > before, "the clock to pass the first heartbeat")
    code, out, err = hooks.run("user-prompt-submit", git_repo, {"session_id": "s-1", "prompt": "go"},
                                  CLAUDE_INSTANCE_ID="pm")
    assert code == 0, err
    text = context(out)
    assert text.startswith("coord mail for pm, 1 new:\n[")
    assert "] QUESTION from backend, " in text and " s ago: which schema?\nv2 or v3" in text
    assert hooks.presence("pm")["last_heartbeat"] > before  # type: ignore[index]
    code, out, _ = hooks.run("user-prompt-submit", git_repo, {"session_id": "s-1"}, CLAUDE_INSTANCE_ID="pm")
    assert code == 0 and out is None  # nothing new: nothing said (no nagging about seen mail)
    assert hooks.r.hlen(hooks.keys.pending("pm")) == 1  # still pending until acknowledged
    hooks.publish("qa", "pm", "INFO", "second", git_repo)
    _, out, _ = hooks.run("user-prompt-submit", git_repo, {"session_id": "s-1"}, CLAUDE_INSTANCE_ID="pm")
    assert "second" in context(out) and "which schema" not in context(out)


def test_prompt_of_a_wrong_identity_is_blocked(hooks: Hooks, git_repo: Path) -> None:
    tree = add_worktree(git_repo, "backend")
    code, out, _ = hooks.run("user-prompt-submit", tree, {"session_id": "s"}, CLAUDE_INSTANCE_ID="frontend")
    assert code == 0 and out is not None
    assert out["decision"] == "block"
    assert "belongs to backend" in out["reason"] and "start the session in the frontend worktree" in out["reason"]


def test_prompt_of_a_role_outside_its_checkout_is_blocked(hooks: Hooks, git_repo: Path) -> None:
    _, out, _ = hooks.run("user-prompt-submit", git_repo, {"session_id": "s"}, CLAUDE_INSTANCE_ID="qa")
    assert out is not None and out["decision"] == "block"
    assert ".worktrees/qa" in out["reason"]


@pytest.mark.parametrize("instance", ["nobody", "../etc", "x$(id)"])
def test_prompt_of_an_unknown_or_malformed_role_is_blocked(hooks: Hooks, git_repo: Path, instance: str) -> None:
    _, out, _ = hooks.run("user-prompt-submit", git_repo, {"session_id": "s"}, CLAUDE_INSTANCE_ID=instance)
    assert out is not None and out["decision"] == "block"


def test_worktree_without_any_identity_is_blocked(hooks: Hooks, git_repo: Path) -> None:
    path = git_repo / ".worktrees" / "anon"
    git(git_repo, "worktree", "add", "-q", "-b", "anon", str(path))
    _, out, _ = hooks.run("user-prompt-submit", path, {"session_id": "s"}, CLAUDE_INSTANCE_ID=None)
    assert out is not None and out["decision"] == "block" and "no agent identity" in out["reason"]


def test_prompt_of_a_second_session_on_a_held_role_is_blocked(hooks: Hooks, git_repo: Path) -> None:
    hooks.run("session-start", git_repo, {"session_id": "first"}, CLAUDE_INSTANCE_ID="pm")
    hooks.publish("qa", "pm", "INFO", "for the first session", git_repo)
    _, out, _ = hooks.run("user-prompt-submit", git_repo, {"session_id": "second"}, CLAUDE_INSTANCE_ID="pm")
    assert out is not None and out["decision"] == "block"
    assert "held by another live session first, last heartbeat " in out["reason"]
    assert "for the first session" not in json.dumps(out)  # mail is not shown to the intruder
    _, out, _ = hooks.run("user-prompt-submit", git_repo, {"session_id": "first"}, CLAUDE_INSTANCE_ID="pm")
    assert "for the first session" in context(out)


def test_prompt_registers_a_session_whose_start_missed_redis(hooks: Hooks, git_repo: Path) -> None:
    _, out, _ = hooks.run("user-prompt-submit", git_repo, {"session_id": "late"}, CLAUDE_INSTANCE_ID="pm")
    assert out is None or "decision" not in out
    assert hooks.presence("pm")["session_id"] == "late"  # type: ignore[index]
    assert [e["type"] for e in hooks.events()] == ["SESSION_START"]


def test_a_killed_session_goes_stale_and_its_role_can_be_taken(hooks: Hooks, git_repo: Path) -> None:
    # Live phase with the default timings: a second session is refused however slow the machine
    # (with 1 s ones, a loaded machine let the first session go stale before the check).
    hooks.run("session-start", git_repo, {"session_id": "killed"}, CLAUDE_INSTANCE_ID="pm")
    _, out, _ = hooks.run("user-prompt-submit", git_repo, {"session_id": "next"}, CLAUDE_INSTANCE_ID="pm")
    assert out is not None and out["decision"] == "block"
    # Then no SessionEnd and no heartbeat: its last heartbeat ages past stale_seconds (2 s below)
    # and its liveness key lapses (shortened here rather than waited for: a 300 s TTL).
    fast = {"COORD_STALE_SECONDS": "2", "COORD_PRESENCE_TTL_SECONDS": "2", "COORD_HEARTBEAT_SECONDS": "1"}
    wait_for(lambda: time.time() - hooks.presence("pm")["last_heartbeat"] >= 2,  # type: ignore[index]
             "the killed session's last heartbeat to be 2 s old")
    hooks.r.pexpire(hooks.keys.alive("pm"), 1)
    wait_for(lambda: hooks.r.get(hooks.keys.alive("pm")) is None, "the liveness key to lapse")
    _, out, _ = hooks.run("session-start", git_repo, {"session_id": "next"}, CLAUDE_INSTANCE_ID="pm", **fast)
    assert "coord: took pm over from a session silent for " in context(out) and "(it had gone stale)" in context(out)
    assert hooks.presence("pm")["session_id"] == "next"  # type: ignore[index]


# -- SessionEnd -----------------------------------------------------------------------------


def test_session_end_marks_the_role_inactive_and_keeps_history(hooks: Hooks, git_repo: Path) -> None:
    hooks.run("session-start", git_repo, {"session_id": "s-1"}, CLAUDE_INSTANCE_ID="pm")
    registered = hooks.presence("pm")["registered_at"]  # type: ignore[index]
    code, out, err = hooks.run("session-end", git_repo, {"session_id": "s-1", "reason": "prompt_input_exit"},
                                        CLAUDE_INSTANCE_ID="pm")
    assert code == 0 and out is None, err
    record = hooks.presence("pm")
    assert record is not None and record["status"] == "inactive" and record["registered_at"] == registered
    assert hooks.r.get(hooks.keys.alive("pm")) is None
    end = hooks.events()[-1]
    assert end["type"] == "SESSION_END" and "prompt_input_exit" in end["body"]


def test_session_end_of_another_session_leaves_the_holder_alone(hooks: Hooks, git_repo: Path) -> None:
    hooks.run("session-start", git_repo, {"session_id": "holder"}, CLAUDE_INSTANCE_ID="pm")
    code, _, _ = hooks.run("session-end", git_repo, {"session_id": "intruder"}, CLAUDE_INSTANCE_ID="pm")
    assert code == 0
    assert hooks.presence("pm")["status"] == "active"  # type: ignore[index]
    assert "SESSION_END" not in [e["type"] for e in hooks.events()]


# -- Redis down and hostile input -----------------------------------------------------------


@pytest.mark.parametrize("event", ["session-start", "user-prompt-submit", "session-end"])
def test_redis_down_is_one_warning_fast_and_the_session_goes_on(hooks: Hooks, git_repo: Path, event: str) -> None:
    dead = f"redis://127.0.0.1:{free_port()}/0"
    code, out, err = hooks.run(event, git_repo, {"session_id": "s"}, CLAUDE_INSTANCE_ID="pm",
                                        COORD_REDIS_URL=dead)
    assert code == 0 and "Traceback" not in err
    if event == "session-end":
        assert out is None
    else:
        assert out is not None and "decision" not in out
        assert "cannot be reached" in out["systemMessage"] or "127.0.0.1" in out["systemMessage"]
        assert "your work goes on" in out["systemMessage"]


@pytest.mark.parametrize("event", ["session-start", "user-prompt-submit", "session-end"])
def test_redis_down_costs_the_hook_one_short_connection_attempt(hooks: Hooks, git_repo: Path, event: str,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """A dead Redis is refused at once on loopback, and nothing retries: the hook makes one
    connection attempt, with its own short timeout (how long that takes is row 1 of the bench)."""
    from coord import hooks as hook_module

    environ = {**hooks.env, "CLAUDE_PROJECT_DIR": str(git_repo), "CLAUDE_INSTANCE_ID": "pm",
               "COORD_REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"}
    attempts: list[float] = []
    real_connect = socket.create_connection

    def counted(*args: Any, **kwargs: Any) -> Any:
        attempts.append(kwargs.get("timeout", args[1] if len(args) > 1 else None))
        return real_connect(*args, **kwargs)

    monkeypatch.setattr(socket, "create_connection", counted)
    out = hook_module.run(event, {"session_id": "s"}, environ)
    assert out is None or "decision" not in out
    # Bounded by construction: one connection attempt, with the hook's short socket timeout.
    assert attempts == [hook_module.STORE_TIMEOUT]


def test_embedded_server_not_running_does_not_slow_a_prompt(hooks: Hooks, git_repo: Path) -> None:
    code, out, err = hooks.run("user-prompt-submit", git_repo, {"session_id": "s"}, CLAUDE_INSTANCE_ID="pm",
                                        COORD_REDIS_URL=None)
    assert code == 0 and "Traceback" not in err
    assert out is not None and "decision" not in out and "systemMessage" in out
    from coord import embedded
    from coord.repo import find_repo

    assert embedded.read_state(find_repo(git_repo)) is None  # a prompt never starts a server


HOSTILE = {
    "empty": b"", "garbage": b"garbage", "list": b"[]", "object": b"{}", "null-id": b'{"session_id": null}',
    "binary": b"\x00\xff" * 100, "huge": b'{"session_id": "' + b"a" * 5_000_000 + b'"}',
    "control-id": b'{"session_id": "a\\u0000b\\nc"}',
}


@pytest.mark.parametrize("stdin", list(HOSTILE.values()), ids=list(HOSTILE))
@pytest.mark.parametrize("event", ["session-start", "user-prompt-submit", "session-end", "unknown-event"])
def test_hostile_input_exits_zero_quickly_without_traceback(hooks: Hooks, git_repo: Path, stdin: bytes,
                                                            event: str) -> None:
    code, out, err = hooks.run(event, git_repo, stdin, CLAUDE_INSTANCE_ID="pm")
    assert code == 0
    assert "Traceback" not in err
    assert out is None or "decision" not in out  # never blocks on bad input


def test_outside_a_repository_the_hook_stays_out_of_the_way(hooks: Hooks, tmp_path: Path) -> None:
    outside = tmp_path / "plain"
    outside.mkdir()
    code, out, err = hooks.run("user-prompt-submit", outside, {"session_id": "s", "cwd": str(outside)})
    assert code == 0 and "Traceback" not in err
    assert out is None or "decision" not in out


def test_without_coord_the_launcher_tells_the_session_once_and_stays_quiet_otherwise(tmp_path: Path) -> None:
    from coord import render, render_disk
    from coord.catalog.claude import HOOKS, LAUNCHER, MCP_ARG, TOOL_NAMES
    from coord.config import Config

    files = render.render_files(render.build_context(Config(), TOOL_NAMES, FULL_TABLE), lambda p: None)
    render_disk.write(tmp_path, files)
    told = []
    for arg in [h.arg for h in HOOKS] + [MCP_ARG]:
        proc = subprocess.run(["sh", str(tmp_path / LAUNCHER), arg], input=b"{}", env={"PATH": "/usr/bin:/bin"},
                              capture_output=True, timeout=10, cwd=tmp_path)
        hook = next((h for h in HOOKS if h.arg == arg), None)
        if hook is not None and hook.tells_missing:
            out = json.loads(proc.stdout)
            assert proc.returncode == 0 and out["systemMessage"] == render.MISSING_NOTICE, proc
            notice = {"hookEventName": hook.event, "additionalContext": render.MISSING_NOTICE}
            assert out["hookSpecificOutput"] == notice
            told.append(arg)
        elif arg == MCP_ARG or (hook is not None and hook.required):  # the MCP server, a worktree coord must make
            assert proc.returncode == 1 and proc.stdout == b"" and b"coord is not installed" in proc.stderr, arg
        else:  # every prompt and tool call: not a word, never blocked
            assert (proc.returncode, proc.stdout, proc.stderr) == (0, b"", b""), arg
    assert told == ["session-start"]


def test_committed_launcher_hands_stdin_to_coord_hook(hooks: Hooks, git_repo: Path, tmp_path: Path) -> None:
    from coord import render, render_disk
    from coord.catalog.claude import LAUNCHER, TOOL_NAMES
    from coord.config import Config

    files = render.render_files(render.build_context(Config(), TOOL_NAMES, FULL_TABLE), lambda p: None)
    render_disk.write(git_repo, files)
    shim = tmp_path / "bin"
    shim.mkdir()
    (shim / "coord-hook").write_text(f"#!/bin/sh\nexec {sys.executable} -m coord.hooks \"$@\"\n")
    (shim / "coord-hook").chmod(0o755)
    env = {**hooks.env, "PATH": f"{shim}:{os.environ['PATH']}", "CLAUDE_PROJECT_DIR": str(git_repo),
           "CLAUDE_INSTANCE_ID": "pm"}
    proc = subprocess.run([str(git_repo / LAUNCHER), "session-start"],
                          input=json.dumps({"session_id": "via-script"}).encode(), env=env, capture_output=True,
                          timeout=30, cwd=git_repo)
    assert proc.returncode == 0, proc.stderr
    assert "coord: you are pm" in json.loads(proc.stdout)["hookSpecificOutput"]["additionalContext"]
    assert hooks.presence("pm")["session_id"] == "via-script"  # type: ignore[index]


# -- the team loop as commands (hook_transport = "command") ------------------------------------


def test_post_tool_use_shows_new_mail_once_and_prints_nothing_otherwise(hooks: Hooks, git_repo: Path) -> None:
    hooks.run("session-start", git_repo, {"session_id": "s-1"}, CLAUDE_INSTANCE_ID="pm")
    code, out, err = hooks.run("post-tool-use", git_repo, {"session_id": "s-1", "tool_name": "Read"},
                               CLAUDE_INSTANCE_ID="pm")
    assert (code, out) == (0, None), err
    hooks.publish("qa", "pm", "BLOCKER", "main is red", git_repo)
    code, out, err = hooks.run("post-tool-use-failure", git_repo, {"session_id": "s-1"}, CLAUDE_INSTANCE_ID="pm")
    assert code == 0, err
    assert out is not None and out["hookSpecificOutput"]["hookEventName"] == "PostToolUseFailure"
    assert "BLOCKER from qa" in context(out) and "main is red" in context(out)
    assert hooks.run("post-tool-use", git_repo, {"session_id": "s-1"}, CLAUDE_INSTANCE_ID="pm")[1] is None
    _, turn, _ = hooks.run("user-prompt-submit", git_repo, {"session_id": "s-1", "prompt": "go"},
                           CLAUDE_INSTANCE_ID="pm")
    assert turn is None or "main is red" not in context(turn)  # one cursor: the prompt hook does not repeat it
    assert hooks.presence("pm")["activity"] == "working"  # type: ignore[index]


def test_stop_command_blocks_once_for_actionable_mail_then_lets_the_agent_stop(hooks: Hooks, git_repo: Path) -> None:
    hooks.run("session-start", git_repo, {"session_id": "s-1"}, CLAUDE_INSTANCE_ID="pm")
    hooks.publish("backend", "pm", "MERGE_READY", "agent/backend/active is ready", git_repo)
    code, out, err = hooks.run("stop", git_repo, {"session_id": "s-1", "stop_hook_active": False},
                               CLAUDE_INSTANCE_ID="pm")
    assert code == 0 and out is not None and out["decision"] == "block", err
    assert "agent/backend/active is ready" in out["reason"]
    code, out, _ = hooks.run("stop", git_repo, {"session_id": "s-1", "stop_hook_active": True},
                             CLAUDE_INSTANCE_ID="pm")
    assert (code, out) == (0, None)
    assert hooks.presence("pm")["activity"] == "idle"  # type: ignore[index]
    hooks.run("notification", git_repo, {"session_id": "s-1", "notification_type": "permission_prompt"},
              CLAUDE_INSTANCE_ID="pm")
    record = hooks.presence("pm")
    assert record is not None and (record["activity"], record["activity_event"]) == \
        ("needs_input", "Notification:permission_prompt")


def test_team_loop_commands_are_silent_when_redis_is_down_or_the_session_is_not_coordinated(
        hooks: Hooks, git_repo: Path, tmp_path: Path) -> None:
    dead = f"redis://127.0.0.1:{free_port()}/0"
    for event in ("post-tool-use", "stop", "notification"):
        code, out, err = hooks.run(event, git_repo, {"session_id": "s-1"}, CLAUDE_INSTANCE_ID="pm",
                                   COORD_REDIS_URL=dead)
        assert (code, out, err) == (0, None, ""), event  # never a warning per tool call
        outside = tmp_path / "not-a-repo"
        outside.mkdir(exist_ok=True)
        assert hooks.run(event, outside, {"session_id": "s-1"})[:2] == (0, None)
