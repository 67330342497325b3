"""Message types (the one source of every type name), the message model and its limits."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import StrEnum

from coord.errors import InvalidInputError

BROADCAST = "all"


class MessageType(StrEnum):
    """Every message type. Rendered into the rules and the MCP tool schema from here."""

    HEARTBEAT = "HEARTBEAT"
    SESSION_START = "SESSION_START"
    SESSION_END = "SESSION_END"
    STATUS_UPDATE = "STATUS_UPDATE"
    TASK_ASSIGNMENT = "TASK_ASSIGNMENT"
    QUESTION = "QUESTION"
    ANSWER = "ANSWER"
    BLOCKER = "BLOCKER"
    REVIEW_REQUEST = "REVIEW_REQUEST"
    MERGE_READY = "MERGE_READY"
    CONFLICT_WARNING = "CONFLICT_WARNING"
    INFO = "INFO"


MESSAGE_TYPE_HELP: dict[MessageType, str] = {
    MessageType.HEARTBEAT: "a session is alive (sent by coord at session start; lifecycle event)",
    MessageType.SESSION_START: "a session took its role (sent by coord; lifecycle event)",
    MessageType.SESSION_END: "a session ended or its worktree was torn down (sent by coord; lifecycle event)",
    MessageType.STATUS_UPDATE: "what an agent just did, is doing, and what is next",
    MessageType.TASK_ASSIGNMENT: "work handed to a role: goal, scope, done-when",
    MessageType.QUESTION: "a question that needs an ANSWER from the recipient",
    MessageType.ANSWER: "the answer to a QUESTION (quote its id)",
    MessageType.BLOCKER: "the sender cannot go on until the recipient acts",
    MessageType.REVIEW_REQUEST: "please review a branch or commit range",
    MessageType.MERGE_READY: "a branch is ready for the main role to merge",
    MessageType.CONFLICT_WARNING: "two agents' branches conflict (sent by coord's conflict radar)",
    MessageType.INFO: "anything else worth knowing; no action required",
}

# Lifecycle events go to the repository's event log, not to inboxes: nobody has to
# acknowledge that a peer is alive, and presence already answers "who is here".
LIFECYCLE_TYPES: frozenset[MessageType] = frozenset(
    {MessageType.HEARTBEAT, MessageType.SESSION_START, MessageType.SESSION_END}
)


# What agents may send: coord alone records lifecycle events (its hooks and server know when a
# session starts and ends; an agent claiming so would mislead every reader of the event log).
AGENT_TYPES: tuple[MessageType, ...] = tuple(t for t in MessageType if t not in LIFECYCLE_TYPES)


def parse_agent_type(value: object) -> MessageType:
    """A type an agent or a person may send; a lifecycle type is refused (exit 2) like an unknown one."""
    kind = parse_type(value)
    if kind in LIFECYCLE_TYPES:
        raise InvalidInputError(f"{kind.value} is sent by coord itself, not by agents",
                                f"use one of: {', '.join(t.value for t in AGENT_TYPES)}")
    return kind


def parse_type(value: object) -> MessageType:
    """A known type name (case-insensitive) or a one-line error listing the valid ones."""
    if isinstance(value, MessageType):
        return value
    if isinstance(value, str):
        try:
            return MessageType(value.strip().upper())
        except ValueError:
            pass
    shown = repr(value)[:60]
    raise InvalidInputError(
        f"unknown message type {shown}", f"use one of: {', '.join(t.value for t in MessageType)}"
    )


def check_body(body: object, max_bytes: int) -> str:
    """Bodies are text of 1..max_bytes UTF-8 bytes; anything else is refused, never altered."""
    if not isinstance(body, str):
        raise InvalidInputError("message body must be text", "send a string")
    if not body.strip():
        raise InvalidInputError("message body is empty", "say something")
    try:
        size = len(body.encode("utf-8"))
    except UnicodeEncodeError:
        raise InvalidInputError(
            "message body is not valid Unicode (lone surrogates)", "send valid UTF-8 text"
        ) from None
    if size > max_bytes:
        raise InvalidInputError(
            f"message body is {size} bytes, the limit is {max_bytes}",
            "shorten it, or put the detail in a file in the repository and send its path",
        )
    return body


@dataclass(frozen=True)
class Message:
    """A delivered message. `sender` is set by the store from the sender's identity."""

    id: str
    sender: str
    recipient: str  # a role, or BROADCAST
    type: str
    body: str
    timestamp: float

    def to_dict(self) -> dict[str, object]:
        return asdict(self)
