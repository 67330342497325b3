"""README's reference tables are generated from the code; this fails when they drift."""

from __future__ import annotations

from pathlib import Path

from coord.errors import EXIT_CODES
from coord.reference import BLOCKS, refresh

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_reference_tables_match_the_code() -> None:
    text = README.read_text(encoding="utf-8")
    for name in BLOCKS:
        assert f"<!-- ref:{name} -->" in text, f"README lost its {name} block"
    assert refresh(text) == text, "README is out of date: run `inv docs` and commit README.md"


def test_refresh_replaces_only_marked_blocks() -> None:
    text = "keep\n<!-- ref:exit-codes -->\nSTALE-BODY\n<!-- /ref:exit-codes -->\nkeep too\n"
    out = refresh(text)
    assert out.startswith("keep\n") and out.endswith("keep too\n")
    assert "STALE-BODY" not in out
    for code in EXIT_CODES:
        assert f"| {code} |" in out
