"""README's first command, run as written on a fresh HOME: coord installed into its own virtual
environment from this clone (runtime dependencies only, from the package registry), linked onto
PATH, then `coord init`, a commit and `coord session.start backend` in a new repository with no
Redis running. The checkout is clean afterwards."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.conftest import git, make_repo
from tests.unit.test_readme_commands import PROJECT, readme_commands


def test_readme_first_command_on_a_fresh_home(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    repo = make_repo(tmp_path / "your repo")
    first, _test = readme_commands()
    assert "/path/to/your/repo" in first
    script = first.replace("/path/to/your/repo", f"'{repo}'")
    env = {"HOME": str(home), "LANG": "C.UTF-8", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    for name in ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_CERT", "SSL_CERT_FILE", "HTTPS_PROXY", "https_proxy"):
        if name in os.environ:
            env[name] = os.environ[name]
    python = os.path.realpath(subprocess.run(["python3", "-c", "import sys; print(sys.executable)"],
                                             capture_output=True, text=True, check=True).stdout.strip())
    # The machine's python3 (3.11+) and git, and ~/.local/bin: none of this test's virtual environment.
    env["PATH"] = f"{home}/.local/bin:{os.path.dirname(python)}:/usr/bin:/bin"
    try:
        proc = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=PROJECT, env=env,
                              capture_output=True, text=True, timeout=900)
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
        assert "  cd .worktrees/backend && CLAUDE_INSTANCE_ID=backend claude" in proc.stdout.splitlines()
        assert "Traceback" not in proc.stderr and "warning" not in proc.stderr
        linked = home / ".local" / "bin" / "coord"
        assert linked.is_symlink() and os.path.realpath(linked).startswith(str(home / ".coord"))
        installed = subprocess.run([str(home / ".coord" / "bin" / "pip"), "list", "--format=freeze"],
                                   capture_output=True, text=True, env=env, check=True).stdout.lower()
        for dev_only in ("pytest", "nox", "ruff", "hypothesis", "fakeredis"):
            assert f"{dev_only}==" not in installed
        assert git(repo, "status", "--porcelain").stdout == ""
        assert git(repo / ".worktrees" / "backend", "status", "--porcelain").stdout == ""
    finally:
        subprocess.run([str(home / ".local" / "bin" / "coord"), "redis.down"], cwd=repo, env=env,
                       capture_output=True, timeout=60)
