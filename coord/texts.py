"""The words coord puts in an agent's context: hook texts and their small numbers, defined once.

Every character here is paid on every request of every agent, so the texts are short, plain facts:
relative ages ("42 s ago", "29 min left"), short ids, no internal keys, nothing about other
sessions but what the reader must act on. Pure (values in, text out) and cheap to import: the
per-prompt hook imports it.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Protocol

from coord.catalog.claude import ACK_TOOL, CHECK_TOOL
from coord.presence import age_parts

MAIL_CAP = 2000  # characters of mail text per prompt (or tool call); beyond it, one summary line
MIN_BODY = 120  # a cut body keeps at least this much when it is the first message shown
SHORT_ID = 8  # characters of a session id or commit id an agent needs to tell them apart


class Mail(Protocol):
    """What the mail formatter reads of a message (coord.messages.Message has it)."""

    @property
    def id(self) -> str: ...
    @property
    def sender(self) -> str: ...
    @property
    def recipient(self) -> str: ...
    @property
    def type(self) -> str: ...
    @property
    def body(self) -> str: ...
    @property
    def timestamp(self) -> float: ...


def span(seconds: float) -> str:
    """A duration in the largest unit that keeps it readable: '42 s', '29 min', '3 h', '2 d'."""
    count, unit = age_parts(seconds)
    return f"{count} {('s', 'min', 'h', 'd')[unit]}"


def ago(seconds: float) -> str:
    return f"{span(seconds)} ago"


def left(seconds: float) -> str:
    return "expired" if seconds <= 0 else f"{span(seconds)} left"


def short(identifier: str | None) -> str:
    """A session or commit id cut to what tells it apart; '' for none."""
    return (identifier or "")[:SHORT_ID]


# -- refusals ---------------------------------------------------------------------------------
def held(role: str, holder: str | None, age: float | None, stale_seconds: int, host: str = "") -> tuple[str, str]:
    """(what, fix) of the one "role held" refusal, used by the store and by the prompt hook alike."""
    where = f" on {host}" if host else ""
    seen = f", last heartbeat {ago(age)}" if age is not None else ""
    who = f"session {short(holder)}" if holder else "a session"
    return (f"role {role} is held by another live {who}{where}{seen}",
            f"end that session, or wait until it is stale ({stale_seconds} s without a heartbeat), "
            "or start this one as another role: coord session.start ROLE")


def blocked(line: str) -> str:
    """Why every prompt of this session is blocked, in one line (line: the error's own line)."""
    return f"{line}. coord blocks this session's prompts until then; `coord doctor` checks it."


def unreachable(line: str) -> str:
    return f"{line}. Coordination is off for now (presence and mail not checked); your work goes on."


# -- SessionStart -----------------------------------------------------------------------------
def start_context(role: str, source: str, branch: str | None, pending: int, by_type: Mapping[str, int],
                  stale_takeover: float | None = None, rules: str = "", resumed: bool = False) -> str:
    """Who this session is, a takeover of a stale session (a clean restart is no news), mail waiting
    (not on a resume: the prompt hook shows new mail, so the count is said once), then the role's rules."""
    on = f" on {branch}" if branch else ""
    lines = [f"coord: you are {role} ({source}){on}; presence registered, each prompt is a heartbeat."]
    if stale_takeover is not None:
        lines.append(f"coord: took {role} over from a session silent for {span(stale_takeover)} (it had gone stale).")
    if pending and not resumed:
        kinds = ", ".join(f"{n} {t}" for t, n in sorted(by_type.items()))
        lines.append(f"coord: {pending} message(s) pending ({kinds}): {CHECK_TOOL} lists them.")
    text = "\n".join(lines)
    return f"{text}\n{rules}" if rules else text


# -- mail, per prompt (and per tool call) -------------------------------------------------------
def _title(m: Mail, now: float) -> str:
    to_all = " to all" if m.recipient == "all" else ""
    return f"[{m.id}] {m.type} from {m.sender}{to_all}, {ago(now - m.timestamp)}:"


def _summary(rest: Sequence[Mail], more: int) -> str:
    """One line for the messages beyond the cap: how many, of which types and senders."""
    kinds: dict[str, int] = {}
    for m in rest:
        kinds[f"{m.type} from {m.sender}"] = kinds.get(f"{m.type} from {m.sender}", 0) + 1
    if not kinds:
        return f"+{more} more not shown: {CHECK_TOOL}."
    listed = ", ".join(f"{n} {k}" for k, n in kinds.items()) + (f", {more} more" if more else "")
    return f"+{len(rest) + more} not shown ({listed}): {CHECK_TOOL}."


def format_mail(role: str, messages: Sequence[Mail], more: int, pending: int, now: float | None = None,
                cap: int = MAIL_CAP) -> str:
    """New mail as plain facts, oldest first, within cap characters: a body that does not fit is cut
    (the rest: CHECK_TOOL), the messages after it are one summary line. '' when nothing is new."""
    if not messages and not more:
        return ""
    now = time.time() if now is None else now
    new = len(messages) + more
    older = pending - new
    head = f"coord mail for {role}, {new} new" + (f" ({older} older still pending)" if older > 0 else "") + ":"
    foot = f"{ACK_TOOL} once handled."
    parts = [head]
    used = len(head) + len(foot) + 2
    shown = 0
    for m in messages:
        title = _title(m, now)
        body = m.body.strip()
        room = cap - used - len(title) - 2 - 60  # keep room for the summary line
        if room < len(body):
            if shown:
                break
            room = max(room, MIN_BODY)
            body = f"{body[:room]} [cut: {len(body) - room} more chars, {CHECK_TOOL}]"
        parts.append(f"{title} {body}")
        used += len(title) + len(body) + 2
        shown += 1
    rest = list(messages[shown:])
    if rest or more:
        parts.append(_summary(rest, more))
    parts.append(foot)
    return "\n".join(parts)
