"""README's two commands: CI runs the test command exactly as README prints it."""

from __future__ import annotations

import re
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[2]


def readme_commands() -> list[str]:
    """The bash blocks under README's "The two commands", in order."""
    text = (PROJECT / "README.md").read_text(encoding="utf-8")
    section = text.split("## The two commands", 1)[1].split("\n## ", 1)[0]
    return [block.strip() for block in re.findall(r"```bash\n(.*?)```", section, re.S)]


def test_ci_runs_readme_test_command_exactly() -> None:
    _first, test = readme_commands()
    ci = [line for line in (PROJECT / ".ci" / "run").read_text().splitlines() if line.strip()]
    assert ci[-1] == test
    assert '".[dev]"' in test and "nox -s lint unit integration e2e" in test


def test_first_command_installs_runtime_dependencies_only() -> None:
    first, _test = readme_commands()
    assert "[dev]" not in first and "pip install -e" not in first
    assert "coord session.start backend" in first and "coord init" in first
