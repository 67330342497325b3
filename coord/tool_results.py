"""What the coord MCP tools return: typed, small, readable results (pure: store values in, dicts out).

An agent reads every field of a tool result, so each says what it needs in plain words and small
numbers: relative ages ("42 s ago", "29 min left"), short commit ids, no internal keys or publish
ids, no other session's id, and no field at all rather than a null. The TypedDicts are the tools'
return annotations, so the mcp SDK declares them as output schemas and programs still get typed
structured content.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NotRequired

from typing_extensions import TypedDict  # pydantic needs it (not typing's) on Python < 3.12 for output schemas

from coord import texts


class Role(TypedDict):
    role: str
    status: str  # active, stale, inactive, absent (or unknown)
    last_seen: NotRequired[str]  # "42 s ago"
    activity: NotRequired[str]  # working, idle or needs_input (a live session's, from its hooks)
    host: NotRequired[str]


class Presence(TypedDict):
    you: str
    roles: list[Role]
    note: NotRequired[str]  # why this session does not hold its role (another live session does)


class Mail(TypedDict):
    id: str
    type: str
    sender: str
    sent: str  # "3 min ago"
    body: str
    to_all: NotRequired[bool]


class Inbox(TypedDict):
    pending: int
    messages: list[Mail]


class Summary(TypedDict):
    pending: int
    by_type: dict[str, int]
    newest: list[Mail]


class Sent(TypedDict):
    type: str
    to: str
    ids: dict[str, str]  # recipient role -> message id
    note: NotRequired[str]


class Acked(TypedDict):
    acknowledged: int
    not_pending: NotRequired[list[str]]


class Pair(TypedDict):
    other: str  # the other role, or "base (BRANCH)"
    status: str  # conflict, touch, clean (or error)
    files: NotRequired[list[str]]
    commits: NotRequired[str]  # "yours abc12345, theirs def67890"
    error: NotRequired[str]


class Conflicts(TypedDict):
    you: str
    pairs: list[Pair]
    note: NotRequired[str]


class ClaimRow(TypedDict):
    pattern: str
    role: str
    reason: str
    status: str
    left: str  # "29 min left"


class Claims(TypedDict):
    claims: list[ClaimRow]


class Claimed(TypedDict):
    claimed: list[str]
    left: str
    dropped: NotRequired[list[str]]  # your lapsed or expired claims removed on the way


class Released(TypedDict):
    released: list[str]
    not_held: NotRequired[list[str]]


def presence(you: str, views: Iterable[Any], here: str = "", refusal: str | None = None) -> Presence:
    """Every role's status and how long ago it was seen (coord.store_results.PresenceView rows); the host
    only of a role on another machine than this one (here)."""
    rows: list[Role] = []
    for v in views:
        row: Role = {"role": v.role, "status": v.status.value}
        if v.seconds_since_heartbeat is not None:
            row["last_seen"] = texts.ago(v.seconds_since_heartbeat)
        if v.status.value == "active" and v.activity:
            row["activity"] = v.activity
        if v.host and v.host != here:
            row["host"] = v.host
        rows.append(row)
    result: Presence = {"you": you, "roles": rows}
    if refusal:
        result["note"] = refusal
    return result


def mail(m: Any, now: float) -> Mail:
    """One message (coord.messages.Message) as an agent reads it."""
    row: Mail = {"id": m.id, "type": m.type, "sender": m.sender, "sent": texts.ago(now - m.timestamp),
                 "body": m.body}
    if m.recipient == "all":
        row["to_all"] = True
    return row


def inbox(messages: Sequence[Any], total: int, now: float) -> Inbox:
    return {"pending": total, "messages": [mail(m, now) for m in messages]}


def summary(count: int, by_type: Mapping[str, int], recent: Sequence[Any], now: float) -> Summary:
    return {"pending": count, "by_type": dict(by_type), "newest": [mail(m, now) for m in recent]}


def sent(kind: str, to: str, ids: Mapping[str, str], waiting: Sequence[str], duplicate: bool) -> Sent:
    row: Sent = {"type": kind, "to": to, "ids": dict(ids)}
    notes = []
    if duplicate:
        notes.append("already delivered by an earlier identical call; not sent again")
    if waiting:
        names = ", ".join(waiting)
        notes.append(f"{names} {'has' if len(waiting) == 1 else 'have'} no live session: it waits in the inbox")
    if notes:
        row["note"] = "; ".join(notes)
    return row


def acked(acknowledged: Sequence[str], unknown: Sequence[str]) -> Acked:
    row: Acked = {"acknowledged": len(acknowledged)}
    if unknown:
        row["not_pending"] = list(unknown)
    return row


def conflicts(you: str, results: Iterable[Any], store_error: str | None) -> Conflicts:
    """Your pairs (coord.conflicts.PairResult) from your side: the other role, the status, the files."""
    pairs: list[Pair] = []
    for r in results:
        mine, theirs = (r.pair.a, r.pair.b) if r.pair.a.role == you else (r.pair.b, r.pair.a)
        other = f"base ({theirs.branch})" if getattr(theirs, "base", False) else theirs.role
        row: Pair = {"other": other, "status": r.status}
        files = list(r.conflicted) if r.status == "conflict" else list(r.touched)
        if files:
            row["files"] = files
        row["commits"] = f"yours {texts.short(mine.tip)}, theirs {texts.short(theirs.tip)}"
        if r.error:
            row["error"] = r.error
        pairs.append(row)
    result: Conflicts = {"you": you, "pairs": pairs}
    if store_error:
        result["note"] = f"not cached: {store_error}"
    return result


def claims(rows: Iterable[Any], live_roles: Iterable[str], now: float) -> Claims:
    """Every claim (coord.claims.Claim) with its status and time left."""
    from coord.claims import claim_status

    live = set(live_roles)
    return {"claims": [{"pattern": c.pattern, "role": c.role, "reason": c.reason,
                        "status": claim_status(c, live, now), "left": texts.left(c.expires_at - now)}
                       for c in rows]}


def claimed(granted: Sequence[Any], dropped: Sequence[str]) -> Claimed:
    left = texts.left(granted[0].expires_at - granted[0].claimed_at) if granted else "expired"
    row: Claimed = {"claimed": [c.pattern for c in granted], "left": left}
    if dropped:
        row["dropped"] = list(dropped)
    return row


def released(done: Sequence[str], not_held: Sequence[str]) -> Released:
    row: Released = {"released": list(done)}
    if not_held:
        row["not_held"] = list(not_held)
    return row


def strip_titles(schema: Any) -> None:
    """Remove, in place, the titles pydantic puts in a JSON schema ("get_presenceArguments", "Limit"):
    the CLI sends each tool's schema to the model with every request that offers the tool, and the
    titles say nothing the names do not. A property that is itself named "title" is kept."""
    if isinstance(schema, dict):
        schema.pop("title", None)
        for key, value in schema.items():
            if key == "properties" and isinstance(value, dict):
                for prop in value.values():
                    strip_titles(prop)
            else:
                strip_titles(value)
    elif isinstance(schema, list):
        for item in schema:
            strip_titles(item)
