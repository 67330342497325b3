"""The task namespace shared by `inv` (tasks.py) and the `coord` console script.

One module per collection; each ends with `collection` (its invoke Collection) and
`top_level` (tasks that sit at the root, such as `coord presence`).

The command table CLAUDE.md shows is computed here, once, from the namespace as built, and
handed to the tasks through invoke's config (boundary.commands): rendering never imports the
namespace, and a program that adds tasks of its own to a copy (tasks.py's `docs`) renders the
same bytes as `coord`.
"""

from __future__ import annotations

from invoke.collection import Collection

from coord.tasks import agent, msg, redis, rules, session
from coord.tasks.boundary import COMMANDS_KEY

MODULES = (agent, session, redis, msg, rules)


def command_table(collection: Collection) -> list[tuple[str, str]]:
    """Every task of collection and the first line of its docstring, sorted by name."""
    rows = []
    for name in sorted(collection.task_names):
        doc = (collection[name].__doc__ or "").strip().splitlines()
        rows.append((name, doc[0] if doc else ""))
    return rows


def build_namespace() -> Collection:
    """A fresh root Collection holding every collection and top-level task, configured with its
    own command table."""
    root = Collection()
    for module in MODULES:
        root.add_collection(module.collection)
        for task in module.top_level:
            root.add_task(task)
    root.configure({COMMANDS_KEY: command_table(root)})
    return root


namespace = build_namespace()
