"""The store's checks on what callers pass (session ids, limits, publish ids) and the refusals it
words (a loop, an ended session, a held role), with the small values a call makes up (this host's
name, a publish id, a repeat digest). Split from coord.store; stdlib only at import time."""

from __future__ import annotations

import math
import re

from coord.config import Config
from coord.errors import IdentityError, InvalidInputError, SessionEndedError

MAX_LIMIT = 1000  # most messages one check/turn returns, and most ids one ack takes
MAX_SESSION_ID = 200
_PUBLISH_ID = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


# -- checks and refusals -----------------------------------------------------------------
def check_session_id(session_id: object) -> str:
    """Session ids are opaque printable strings; refuse anything that could garble a record."""
    if not isinstance(session_id, str) or not session_id.strip():
        raise InvalidInputError("session id is empty", "pass the Claude Code session id (CLAUDE_CODE_SESSION_ID)")
    if len(session_id) > MAX_SESSION_ID or _CONTROL.search(session_id) or not _encodable(session_id):
        raise InvalidInputError(
            "session id is too long or has control characters", f"use at most {MAX_SESSION_ID} printable characters"
        )
    return session_id


def _encodable(text: str) -> bool:
    """Lone surrogates (JSON "\\ud800") cannot be sent to Redis as UTF-8."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def this_host() -> str:
    """This machine's name as presence shows it (the `host` setting, COORD_HOST, overrides it)."""
    import socket

    return socket.gethostname() or "localhost"


def check_limit(limit: object, name: str = "limit") -> int:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise InvalidInputError(f"{name} must be a whole number from 1 to {MAX_LIMIT}", f"got {limit!r}")
    return limit


def new_publish_id() -> str:
    """A fresh publish id: random, so two clients never share one."""
    import secrets

    return secrets.token_hex(12)


def check_publish_id(publish_id: object) -> str:
    if not isinstance(publish_id, str) or not _PUBLISH_ID.fullmatch(publish_id):
        raise InvalidInputError(
            f"publish id must be 1 to 64 letters, digits or ._:- , got {publish_id!r}",
            "omit it (one is generated), or resend the id of the publish whose reply was lost",
        )
    return publish_id


def repeat_digest(sender: str, recipient: str, type: str, body: str) -> str:
    """What makes two messages 'the same' for the loop guard."""
    import hashlib

    return hashlib.sha1("\0".join((sender, recipient, type, body)).encode("utf-8")).hexdigest()


def loop_error(sender: str, recipient: str, type: str, count: int, ms_left: int, config: Config) -> InvalidInputError:
    wait = max(1, math.ceil(ms_left / 1000)) if ms_left > 0 else config.repeat_window_seconds
    return InvalidInputError(
        f"refused as a loop: {sender} already sent this same {type} to {recipient} {count} times in "
        f"{config.repeat_window_seconds}s (repeat_limit {config.repeat_limit})",
        f"do not resend it; change the message, or wait {wait}s",
    )


def ended_error(role: str, session_id: str) -> SessionEndedError:
    return SessionEndedError(
        f"session {session_id} of role {role} has ended", "start a new session, or register explicitly to resume"
    )


def held_error(role: str, holder: str, age: float | None, stale_seconds: int, host: str = "") -> IdentityError:
    """The one "role held" refusal (coord.texts.held: the prompt hook says it in the same words)."""
    from coord import texts

    return IdentityError(*texts.held(role, holder, age, stale_seconds, host))
