"""The task namespace shared by `inv` (tasks.py) and the `coord` console script.

One module per collection; each ends with `collection` (its invoke Collection) and
`top_level` (tasks that sit at the root, such as `coord presence`).
"""

from __future__ import annotations

from invoke import Collection

from coord.tasks import agent, msg, redis, rules, session, team

MODULES = (agent, session, redis, msg, rules, team)


def build_namespace() -> Collection:
    """A fresh root Collection holding every collection and top-level task."""
    root = Collection()
    for module in MODULES:
        root.add_collection(module.collection)
        for task in module.top_level:
            root.add_task(task)
    return root


namespace = build_namespace()
