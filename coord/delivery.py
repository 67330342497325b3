"""The team loop's hooks: new mail between tool calls, unseen actionable mail at Stop, and activity.

Claude Code runs these hooks on every tool call (PostToolUse, PostToolUseFailure), at the end of
every turn (Stop) and when its CLI waits for a human (Notification). Two transports reach the same
code here: the `coord_hook` tool of the session's already running coord MCP server (Claude Code's
`"type": "mcp_tool"` hook: no process start per tool call) and the `coord-hook` command (the
fallback, `hook_transport = "command"`). Both call `answer()`, which makes ONE Redis round trip
(coord.scripts.LOOP) and shares the "last seen" cursor with the per-prompt hook, so a message is
put in front of the agent once, whichever hook sees it first.

The decisions (which types are actionable for whom, what the texts say, how an event maps to a
mode) are pure functions at the top; `answer()` is the thin adapter over the store. Stdlib only at
import time: this runs on the hot path.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from coord import texts
from coord.messages import Message, MessageType
from coord.presence import Activity

if TYPE_CHECKING:
    from coord.store import Store

LOOP_LIMIT = 20  # messages one hook shows at most (the per-prompt hook's TURN_LIMIT)

# Mail that asks the recipient to act: it keeps a stopping agent going and wakes an idle one.
# INFO and STATUS_UPDATE never do; MERGE_READY only for the main role (who merges).
ACTIONABLE: frozenset[MessageType] = frozenset({
    MessageType.TASK_ASSIGNMENT, MessageType.QUESTION, MessageType.ANSWER, MessageType.BLOCKER,
    MessageType.REVIEW_REQUEST, MessageType.CONFLICT_WARNING,
})

# Claude Code's event name -> the LOOP script's mode.
MODES: dict[str, str] = {
    "PostToolUse": "tool",
    "PostToolUseFailure": "tool",
    "Stop": "stop",
    "Notification": "notify",
}


# ---------------------------------------------------------------------------------------------
# Pure: decisions and texts.


def actionable_types(role: str, main_role: str) -> frozenset[str]:
    """The types that make mail actionable for role."""
    kinds = set(ACTIONABLE)
    if role == main_role:
        kinds.add(MessageType.MERGE_READY)
    return frozenset(k.value for k in kinds)


def is_true(value: object) -> bool:
    """stop_hook_active as a command hook gets it (JSON true) or as the mcp_tool hook's ${...}
    substitution gives it (the text "true")."""
    if isinstance(value, bool):
        return value
    return isinstance(value, str) and value.strip().lower() in ("true", "1", "yes")


def notification_activity(kind: object) -> str:
    """Notification kinds: a permission or idle prompt means the CLI waits for its human."""
    return Activity.NEEDS_INPUT.value


def stop_reason(role: str, messages: Sequence[Message], more: int, pending: int, continued: int,
                keep_going_max: int) -> str:
    """Why a stop was blocked: the actionable mail, so the agent handles it before it stops."""
    head = (f"coord: mail that needs action arrived for {role} before this turn ended (continuation "
            f"{continued} of at most {keep_going_max} in a row). Handle it, then acknowledge it.")
    body = texts.format_mail(role, messages, more, pending)
    return f"{head}\n{body}"


def context_output(event: str, text: str) -> dict[str, Any] | None:
    """hookSpecificOutput.additionalContext for the event, or None (zero characters) when no text."""
    if not text:
        return None
    return {"hookSpecificOutput": {"hookEventName": event, "additionalContext": text}}


# ---------------------------------------------------------------------------------------------
# The store call (one round trip) and the answer both transports give.


@dataclass(frozen=True)
class LoopResult:
    """What LOOP did. state: 'other' (the role is not this session's: nothing done), 'show' (tool:
    messages are new mail, now seen), 'block' (stop: actionable mail, now seen), 'pass'."""

    state: str
    pending: int = 0
    more: int = 0
    continued: int = 0
    messages: list[Message] = field(default_factory=list)


def run_loop(store: Store, role: str, session_id: str, mode: str, event: str, stop_active: bool = False,
             activity: str = "", limit: int = LOOP_LIMIT) -> LoopResult:
    """The LOOP script for one hook event of the session holding role."""
    from coord.resp import items
    from coord.resp import number as resp_number
    from coord.scripts import LOOP
    from coord.store_checks import check_session_id
    from coord.store_results import message_from_row

    check_session_id(session_id)
    config = store.config
    k = store.keys
    reply = items(store.run_script(
        LOOP,
        [k.presence, k.alive(role), k.inbox(role), k.pending(role), k.seen(role), k.continued(role)],
        [role, session_id, store.now_arg(), config.presence_ttl_seconds, limit, mode, event,
         "1" if stop_active else "0", config.keep_going_max,
         ",".join(sorted(actionable_types(role, config.main_role))), activity, config.heartbeat_seconds],
    ))
    if str(reply[0]) == "other":
        return LoopResult("other")
    return LoopResult(
        state=str(reply[0]),
        pending=int(resp_number(reply[1])),
        more=int(resp_number(reply[2])),
        continued=int(resp_number(reply[3])),
        messages=[message_from_row(items(r)) for r in reply[4:]],
    )


def answer(store: Store, role: str, session_id: str, event: str,
           hook_input: Mapping[str, Any]) -> dict[str, Any] | None:
    """The hook's JSON answer for a team-loop event (None: say nothing at all).

    PostToolUse / PostToolUseFailure: the mail not seen yet as additionalContext. Stop: blocked with
    the unseen mail as the reason when any of it is actionable and the run of continuations is under
    keep_going_max. Notification: activity needs_input, no output. Unknown events: nothing."""
    mode = MODES.get(event)
    if mode is None:
        return None
    activity, said = "", event
    if mode == "notify":
        kind = hook_input.get("notification_type")
        activity = notification_activity(kind)
        said = f"{event}:{kind}" if isinstance(kind, str) and kind else event  # the waker tells idle from permission
    result = run_loop(store, role, session_id, mode, said, is_true(hook_input.get("stop_hook_active")), activity)
    if result.state == "show":
        text = texts.format_mail(role, result.messages, result.more, result.pending)
        return context_output(event, text)
    if result.state == "block":
        reason = stop_reason(role, result.messages, result.more, result.pending, result.continued,
                             store.config.keep_going_max)
        return {"decision": "block", "reason": reason}
    return None
