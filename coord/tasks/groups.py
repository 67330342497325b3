"""How `coord --help` groups the tasks: one table of name patterns, first match wins.

Data, not code, so a new task lands in its group by its name alone (`team.up` goes to team
without touching this file); a test fails when a task matches no group.
"""

from __future__ import annotations

from fnmatch import fnmatchcase

OTHER = "other"

# (group, what its tasks are for, task-name patterns), in the order `coord --help` shows them.
GROUPS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("setup", "set up a repository and its agents",
     ("init", "session.*", "agent.setup", "doctor", "agent.teardown", "agent.restore", "rules.*")),
    ("team", "who is working, and where", ("team.*", "status", "watch", "presence", "agent.list")),
    ("mail", "messages between roles", ("msg.*",)),
    ("merge", "collisions, claims and merging", ("agent.conflicts", "agent.claims", "agent.merge", "agent.sync",
      "agent.push", "agent.guard",
                                                 "agent.precommit", "merge.*")),
    ("server", "the coordination server", ("redis.*", "mcp")),
)


def _place(task_name: str) -> tuple[str, int]:
    """(group, index of the first matching pattern); (OTHER, 0) when none matches."""
    for group, _about, patterns in GROUPS:
        for index, pattern in enumerate(patterns):
            if fnmatchcase(task_name, pattern):
                return group, index
    return OTHER, 0


def group_of(task_name: str) -> str:
    """The group a task is listed under (OTHER when no pattern matches it)."""
    return _place(task_name)[0]


def grouped(task_names: list[str]) -> list[tuple[str, str, list[str]]]:
    """(group, about, task names) for every group that has a task, in GROUPS order, then OTHER
    if anything matched nothing; within a group, in the order of the patterns (the order a
    newcomer uses them: init before session.start), then by name."""
    buckets: dict[str, list[str]] = {}
    for name in task_names:
        buckets.setdefault(group_of(name), []).append(name)
    about = {group: text for group, text, _patterns in GROUPS}
    order = [group for group, _text, _patterns in GROUPS] + [OTHER]
    return [(g, about.get(g, "tasks not in a group yet"), sorted(buckets[g], key=lambda n: (_place(n)[1], n)))
            for g in order if g in buckets]
