"""`inv <task>` in this repository: the same namespace as the `coord` console script."""

from invoke import task

from coord.tasks import namespace

ns = namespace


@task
def docs(c):
    """Regenerate README's reference tables (tasks, tools, types, settings, exit codes) from the code."""
    from pathlib import Path

    from coord.reference import refresh

    readme = Path(__file__).parent / "README.md"
    readme.write_text(refresh(readme.read_text(encoding="utf-8")), encoding="utf-8")


ns.add_task(docs)
