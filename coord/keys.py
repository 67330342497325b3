"""Every Redis key coord uses, named in one place.

All keys of one repository share the hash tag `{namespace}`, so they land in one Redis
Cluster slot and every Lua script may touch any of them.
"""

from __future__ import annotations

import re

_SAFE = re.compile(r"[^A-Za-z0-9._-]")


def clean_namespace(raw: str) -> str:
    """Namespaces become part of a hash tag: no braces, colons or spaces."""
    cleaned = _SAFE.sub("_", raw)[:80]
    return cleaned or "default"


class Keys:
    """Key names for one repository's namespace."""

    def __init__(self, namespace: str) -> None:
        self.namespace = clean_namespace(namespace)
        self.prefix = f"coord:{{{self.namespace}}}"

    @property
    def presence(self) -> str:
        """HASH role -> JSON PresenceRecord (kept after deregistration: history)."""
        return f"{self.prefix}:presence"

    def alive(self, role: str) -> str:
        """STRING session_id with TTL presence_ttl_seconds: which session holds the role."""
        return f"{self.prefix}:alive:{role}"

    def inbox(self, role: str) -> str:
        """STREAM of every message delivered to the role (history; never trimmed)."""
        return f"{self.prefix}:inbox:{role}"

    def pending(self, role: str) -> str:
        """HASH message id -> type: the role's messages not yet acknowledged."""
        return f"{self.prefix}:pending:{role}"

    def published(self, publish_id: str) -> str:
        """STRING JSON list of the inbox ids a publish got, kept PUBLISH_ID_TTL: a resend of the same
        publish id (its reply was lost) is answered from here instead of delivered again."""
        return f"{self.prefix}:published:{publish_id}"

    def repeat(self, digest: str) -> str:
        """STRING counter of identical messages (digest of sender, recipient, type, body), expiring
        repeat_window_seconds after the first: the loop guard."""
        return f"{self.prefix}:repeat:{digest}"

    def seen(self, role: str) -> str:
        """STRING: newest inbox id already shown to the role: the ONE "last seen" cursor of the per-prompt
        hook, the per-tool-call hook and the Stop hook (one live session holds a role at a time)."""
        return f"{self.prefix}:seen:{role}"

    def continued(self, role: str) -> str:
        """STRING count of Stop-hook continuations in a row (coord.delivery; reset by a new prompt)."""
        return f"{self.prefix}:continued:{role}"

    def woken(self, role: str) -> str:
        """STRING: newest inbox id the idle waker already typed a wake-up line about (coord.waker)."""
        return f"{self.prefix}:woken:{role}"

    @property
    def events(self) -> str:
        """STREAM of lifecycle events (HEARTBEAT, SESSION_START, SESSION_END), capped."""
        return f"{self.prefix}:events"

    @property
    def claims(self) -> str:
        """HASH claim pattern -> JSON claim (holder role, reason, expiry)."""
        return f"{self.prefix}:claims"

    @property
    def conflicts(self) -> str:
        """HASH pair key -> JSON conflict result, cached by both tip commits."""
        return f"{self.prefix}:conflicts"

    @property
    def warned(self) -> str:
        """SET of conflict fingerprints already announced with CONFLICT_WARNING."""
        return f"{self.prefix}:warned"

    @property
    def carried(self) -> str:
        """SET of older namespaces whose data was carried into this one (coord.carry_over)."""
        return f"{self.prefix}:carried"

    def per_role(self, role: str) -> tuple[str, str, str, str]:
        """The role's own keys, in the order coord.carry_over passes them: alive, inbox, pending, seen."""
        return (self.alive(role), self.inbox(role), self.pending(role), self.seen(role))

    def shared(self) -> tuple[str, str, str, str, str]:
        """The namespace-wide keys: presence, claims, conflicts, warned, events."""
        return (self.presence, self.claims, self.conflicts, self.warned, self.events)

    @property
    def counts(self) -> str:
        """HASH "tip..base" -> "ahead behind": commit counts cached by both commits (coord status)."""
        return f"{self.prefix}:counts"
