"""`inv <task>` in this repository: the same namespace as the `coord` console script."""

from coord.tasks import namespace

ns = namespace
