"""A task's one-line usage (`coord agent.setup ROLE [--base BASE]`), read from its own argument
spec: README's task table (coord.reference), `coord help TASK` and the missing-argument line all
print this one."""

from __future__ import annotations


def task_usage(name: str, task: object) -> str:
    """`coord agent.setup ROLE [--base BASE]` for the invoke task registered as name."""
    words = [f"coord {name}"]
    arguments = task.get_arguments()  # type: ignore[attr-defined]  # invoke ships no type hints for Task
    for arg in arguments:
        if arg.positional:
            words.append(arg.name.upper())
    for arg in arguments:
        if arg.positional:
            continue
        flag = "--" + arg.name.replace("_", "-")
        words.append(f"[{flag}]" if arg.kind is bool else f"[{flag} {arg.name.upper()}]")
    return " ".join(words)
