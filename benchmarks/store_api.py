"""Thin helpers over coord.store's public API, shared by the rows (one place to follow it)."""

from __future__ import annotations

from typing import Any


def publish(store: Any, sender: str, recipient: str, type_name: str, body: str) -> Any:
    from coord.messages import parse_type

    return store.publish(sender, recipient, parse_type(type_name), body)


def message_ids(result: Any) -> list[str]:
    """Ids of the messages in a check() result (a list, or an object with .messages)."""
    messages = getattr(result, "messages", result)
    ids: list[str] = []
    for m in messages:
        ids.append(str(m["id"]) if isinstance(m, dict) else str(m.id))
    return ids


def read_all(store: Any, role: str, limit: int = 1000) -> list[str]:
    """Every pending message id of a role (check() in pages), as a reader would fetch them."""
    return message_ids(store.check(role, limit))


def ack_all(store: Any, role: str) -> int:
    """Acknowledge everything pending for a role; returns how many."""
    total = 0
    for _ in range(1000):
        ids = read_all(store, role)
        if not ids:
            return total
        store.ack(role, ids)
        total += len(ids)
    raise RuntimeError(f"could not drain the pending messages of {role}")
