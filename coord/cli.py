"""The `coord` console script: the same tasks as `inv` here, usable in any git repository."""

from __future__ import annotations

from invoke import Program
from invoke.exceptions import Exit, ParseError

from coord import __version__
from coord.tasks import namespace

USAGE_EXIT_CODE = 2  # coord.errors.InvalidInputError's code; invoke would use 1, coord's merge-conflict code


class CoordProgram(Program):
    """invoke exits 1 on a command-line parse error (a missing ROLE, an unknown flag); coord
    reserves 1 for merge conflicts, so parse errors leave with the usage code instead."""

    def parse_core(self, argv):  # type: ignore[no-untyped-def]
        try:
            return super().parse_core(argv)
        except ParseError as exc:
            raise Exit(f"coord: {exc} (see coord --help)", code=USAGE_EXIT_CODE) from None

    def parse_tasks(self) -> None:
        try:
            super().parse_tasks()
        except ParseError as exc:
            task = exc.context.name if getattr(exc, "context", None) is not None else None
            hint = f"coord --help {task}" if task else "coord --help"
            raise Exit(f"coord: {exc} (see {hint})", code=USAGE_EXIT_CODE) from None


program = CoordProgram(namespace=namespace, binary="coord", name="coord", version=__version__)


def main() -> None:
    """Console-script entry point."""
    program.run()


if __name__ == "__main__":
    main()
