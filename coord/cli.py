"""The `coord` console script: the same tasks as `inv` here, usable in any git repository."""

from __future__ import annotations

from invoke import Program

from coord import __version__
from coord.tasks import namespace

program = Program(namespace=namespace, binary="coord", name="coord", version=__version__)


def main() -> None:
    """Console-script entry point."""
    program.run()
