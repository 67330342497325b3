"""`inv <task>` in this repository: coord's namespace (as `coord` has it) plus `inv docs`.

`docs` goes into a namespace of this file's own: adding it to the shared coord.tasks.namespace
would change what coord renders under `inv` (CLAUDE.md's command table) and make `inv` and
`coord` write different bytes.
"""

from invoke import task

from coord.tasks import build_namespace


@task
def docs(c):
    """Regenerate README's reference tables (tasks, tools, types, settings, exit codes) from the code."""
    from pathlib import Path

    from coord.reference import refresh

    readme = Path(__file__).parent / "README.md"
    readme.write_text(refresh(readme.read_text(encoding="utf-8")), encoding="utf-8")


ns = build_namespace()
ns.add_task(docs)
