"""The end-to-end suite without the Claude Code CLI fails instead of skipping every test and
passing; with a CLI it collects the end-to-end tests. Real pytest, in processes, run as each
`nox -s e2e(...)` session runs it (nox itself refuses a version whose binary is not installed)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from tests.integration.test_worktree_support import clean_env

PROJECT = Path(__file__).resolve().parents[2]


def nox_e2e_collect(claude_bin: str) -> subprocess.CompletedProcess[str]:
    pytest_bin = shutil.which("pytest")
    assert pytest_bin, "pytest is not installed (pip install -e '.[dev]')"
    env = clean_env(COORD_CLAUDE_BIN=claude_bin)
    return subprocess.run([pytest_bin, "tests/e2e", "--collect-only", "-q", "-p", "no:cacheprovider"], cwd=PROJECT,
                          env=env, capture_output=True, text=True, timeout=300)


def test_nox_e2e_fails_when_the_claude_cli_is_missing(tmp_path: Path) -> None:
    proc = nox_e2e_collect(str(tmp_path / "no-claude-here"))
    assert proc.returncode != 0
    assert "the Claude Code CLI was not found" in proc.stdout + proc.stderr
    assert "passed" not in proc.stdout and "skipped" not in proc.stdout


def test_nox_e2e_collects_when_a_cli_is_there(tmp_path: Path) -> None:
    stand_in = tmp_path / "claude"
    stand_in.write_text("#!/bin/sh\necho 2.1.197\n")
    stand_in.chmod(0o755)
    proc = nox_e2e_collect(str(stand_in))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "test_claude_code.py::" in proc.stdout


def test_codex_and_gemini_tests_fail_when_their_cli_is_missing(tmp_path: Path) -> None:
    """`nox -s e2e_clis` with a CLI missing: the tests fail naming it, nothing passes or skips."""
    stand_in = tmp_path / "claude"
    stand_in.write_text("#!/bin/sh\necho 2.1.332\n")
    stand_in.chmod(0o755)
    pytest_bin = shutil.which("pytest")
    assert pytest_bin
    env = clean_env(COORD_CLAUDE_BIN=str(stand_in), COORD_CODEX_BIN=str(tmp_path / "no-codex-here"),
                    COORD_GEMINI_BIN=str(tmp_path / "no-gemini-here"))
    proc = subprocess.run([pytest_bin, "tests/e2e/test_codex.py", "-m", "clis", "-k", "wrong_identity", "-q",
                           "-p", "no:cacheprovider", "-p", "no:randomly"], cwd=PROJECT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0, proc.stdout
    assert "codex CLI not found" in proc.stdout, proc.stdout[-2000:]
    assert " passed" not in proc.stdout and "skipped" not in proc.stdout
