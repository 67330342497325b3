"""The real Codex CLI and Gemini CLI in real worktrees, each against its scripted model on loopback
(tests/e2e/codex_model.py, gemini_model.py) and the test's real Valkey.

The repository has `agents = ["claude", "codex", "gemini"]` in coord.toml and coord's files for all
three committed. Each CLI gets a throwaway home with trust set up EXPLICITLY, the way a user
accepting its prompts would leave it:
- Codex: $CODEX_HOME/config.toml holds the scripted provider, `[projects."<checkout>"] trust_level =
  "trusted"` and, for coord's hooks in that checkout, `[hooks.state."<key>"] trusted_hash` with the
  hash Codex's own app-server reports (coord.codex_trust, the lines `coord doctor` prints).
- Gemini CLI: $HOME/.gemini/settings.json selects API-key auth; GEMINI_CLI_TRUST_WORKSPACE=true
  trusts the folder for a headless run; project hooks then run (Gemini prints a warning naming them).

Missing CLIs fail the tests (never skip): COORD_CODEX_BIN / COORD_GEMINI_BIN (set by `nox -s
e2e_clis` from .ci/cli-versions), else the copies .ci/run installs under .cache/.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from coord import codex_trust
from coord.catalog.codex import HOOKS as CODEX_HOOKS
from tests.conftest import git
from tests.e2e.conftest import Workspace
from tests.e2e.loopback import LoopbackModel

ROOT = Path(__file__).resolve().parents[2]
CLI_TIMEOUT = 240  # seconds for one headless run on a loaded machine
CODEX_MODEL = "gpt-5.5"  # a model Codex has metadata for: it then offers apply_patch (and defers MCP tools)
GEMINI_KEY = "scripted-gemini-key"


def cli_versions() -> dict[str, str]:
    """{cli: version} from .ci/cli-versions (one "cli version" a line)."""
    pairs = (line.split() for line in (ROOT / ".ci" / "cli-versions").read_text().splitlines())
    return {f[0]: f[1] for f in pairs if len(f) == 2 and not f[0].startswith("#")}


def find_cli(name: str) -> str:
    """COORD_<NAME>_BIN, else .cache/<name>-<version>/node_modules/.bin/<name>; pytest.fail if missing."""
    configured = os.environ.get(f"COORD_{name.upper()}_BIN")
    version = cli_versions().get(name, "?")
    path = configured or str(ROOT / ".cache" / f"{name}-{version}" / "node_modules" / ".bin" / name)
    if not os.access(path, os.X_OK):
        pytest.fail(f"{name} CLI not found at {path}: run `bash .ci/run` (installs it), "
                    f"or set COORD_{name.upper()}_BIN")
    return path


@pytest.fixture(scope="session")
def codex_bin() -> str:
    return find_cli("codex")


@pytest.fixture(scope="session")
def gemini_bin() -> str:
    return find_cli("gemini")


@dataclass
class CliRun:
    code: int
    stdout: str
    stderr: str


class Agents:
    """A Workspace whose repository also renders and commits the Codex and Gemini CLI files."""

    def __init__(self, ws: Workspace, codex: str, gemini: str) -> None:
        self.ws = ws
        self.codex_bin = codex
        self.gemini_bin = gemini
        (ws.repo / "coord.toml").write_text('roles = ["pm", "backend", "frontend", "qa", "docs"]\n'
                                            'agents = ["claude", "codex", "gemini"]\n')
        done = ws.coord(ws.repo, "init")
        assert done.returncode == 0, done.stdout + done.stderr
        git(ws.repo, "add", "-A")
        git(ws.repo, "commit", "-q", "-m", "coord init: codex and gemini")
        self.codex_home = ws.home / "codex-home"
        self.codex_home.mkdir()
        self.trust_lines: dict[Path, str] = {}
        (ws.home / ".gemini").mkdir()
        (ws.home / ".gemini" / "settings.json").write_text(
            json.dumps({"security": {"auth": {"selectedType": "gemini-api-key"}}}))

    def worktree(self, role: str) -> Path:
        done = self.ws.coord(self.ws.repo, "session.start", role)
        assert done.returncode == 0, done.stdout + done.stderr
        return self.ws.repo / ".worktrees" / role

    # -- Codex ----------------------------------------------------------------------------
    def base_env(self) -> dict[str, str]:
        """The workspace's environment with this interpreter's bin/ first: the CLIs start `coord mcp`
        and the hooks run `coord-hook` from PATH, as on a user's machine after the install."""
        env = self.ws.base_env()
        env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
        return env

    def codex_env(self, role: str | None) -> dict[str, str]:
        env = {k: v for k, v in self.base_env().items() if not k.startswith(("CODEX_", "OPENAI_"))}
        env.update(CODEX_HOME=str(self.codex_home), SCRIPTED_KEY="sk-scripted")
        if role is not None:
            env["COORD_ROLE"] = role
        return env

    def write_codex_config(self, model_url: str) -> None:
        provider = "\n".join([
            f'model = "{CODEX_MODEL}"', 'model_provider = "scripted"', "",
            "[model_providers.scripted]", 'name = "scripted"', f'base_url = "{model_url}/v1"',
            'env_key = "SCRIPTED_KEY"', 'wire_api = "responses"', "stream_max_retries = 0", "request_max_retries = 0",
            "",
        ])
        (self.codex_home / "config.toml").write_text(provider + "\n" + "\n".join(self.trust_lines.values()))

    def trust_codex(self, cwd: Path) -> None:
        """Trust the checkout and coord's hooks in it, with the hashes Codex reports for them."""
        if cwd in self.trust_lines:
            return
        self.trust_lines[cwd] = codex_trust.trust_lines([cwd], [])
        self.write_codex_config("http://127.0.0.1:9")
        hooks = [h for h in codex_trust.list_hooks(self.codex_bin, cwd, self.codex_env(None)) if h.is_coord]
        assert len(hooks) == len(CODEX_HOOKS), hooks
        self.trust_lines[cwd] = codex_trust.trust_lines([cwd], hooks)

    def codex(self, cwd: Path, prompt: str, model: LoopbackModel, role: str | None) -> CliRun:
        self.trust_codex(cwd)
        self.write_codex_config(model.url)
        proc = subprocess.run([self.codex_bin, "exec", "--skip-git-repo-check", prompt], cwd=cwd,
                              env=self.codex_env(role), capture_output=True, text=True, timeout=CLI_TIMEOUT,
                              stdin=subprocess.DEVNULL)
        return CliRun(proc.returncode, proc.stdout, proc.stderr)

    # -- Gemini CLI -------------------------------------------------------------------------
    def gemini_env(self, model_url: str, role: str | None) -> dict[str, str]:
        env = {k: v for k, v in self.base_env().items() if not k.startswith(("GEMINI_", "GOOGLE_"))}
        env.update(GEMINI_API_KEY=GEMINI_KEY, GOOGLE_GEMINI_BASE_URL=model_url, GEMINI_CLI_TRUST_WORKSPACE="true",
                   NO_COLOR="1")
        if role is not None:
            env["COORD_ROLE"] = role
        return env

    def gemini(self, cwd: Path, prompt: str, model: LoopbackModel, role: str | None) -> CliRun:
        # auto_edit: a headless run offers the edit tools (write_file, replace) only when edits are
        # approved; coord's BeforeTool hook decides before that approval anyway.
        proc = subprocess.run([self.gemini_bin, "--approval-mode", "auto_edit", "-p", prompt], cwd=cwd,
                              env=self.gemini_env(model.url, role), capture_output=True, text=True,
                              timeout=CLI_TIMEOUT, stdin=subprocess.DEVNULL)
        return CliRun(proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture
def agents(workspace: Workspace, codex_bin: str, gemini_bin: str) -> Agents:
    return Agents(workspace, codex_bin, gemini_bin)
