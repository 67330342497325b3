"""Test automation. Sessions run in the current environment (after `pip install -e ".[dev]"`),
so a fresh machine pays for one install, not one per session."""

from pathlib import Path

import nox

nox.options.download_python = "never"
nox.options.default_venv_backend = "none"
nox.options.sessions = ["lint", "unit", "integration", "e2e", "e2e_clis"]
nox.options.error_on_missing_interpreters = True


@nox.session
def lint(session: nox.Session) -> None:
    """ruff over the package, tests, tasks and benchmarks; mypy --strict over coord/ (pyproject.toml)."""
    session.run("ruff", "check", ".")
    session.run("mypy")


@nox.session
def unit(session: nox.Session) -> None:
    """Pure decisions: no git, no Redis."""
    session.run("pytest", "tests/unit", *session.posargs)


@nox.session
def integration(session: nox.Session) -> None:
    """Real git in temp repositories, a real Valkey/Redis server, real MCP client sessions."""
    session.run("pytest", "tests/integration", "-n", "2", *session.posargs)


ROOT = Path(__file__).resolve().parent
CLAUDE_VERSIONS_FILE = ROOT / ".ci" / "claude-versions"


def claude_versions() -> dict[str, str]:
    """{label: version} from .ci/claude-versions, the one list .ci/run installs and e2e runs on."""
    pairs = (line.split() for line in CLAUDE_VERSIONS_FILE.read_text().splitlines())
    return {fields[0]: fields[1] for fields in pairs if len(fields) == 2 and not fields[0].startswith("#")}


CLAUDE_VERSIONS = claude_versions()


def claude_binary(version: str) -> Path:
    """Where .ci/run installs one version: .cache/claude-VERSION (npm --prefix)."""
    return ROOT / ".cache" / f"claude-{version}" / "node_modules" / ".bin" / "claude"


@nox.session
@nox.parametrize("cli", list(CLAUDE_VERSIONS), ids=list(CLAUDE_VERSIONS))
def e2e(session: nox.Session, cli: str) -> None:
    """The real Claude Code CLI (each version in .ci/claude-versions) against a scripted model.

    `nox -s e2e` runs every version; `nox -s "e2e(pinned)"` one."""
    version = CLAUDE_VERSIONS[cli]
    binary = claude_binary(version)
    if not binary.is_file():
        session.error(f"Claude Code {version} is not installed at {binary}: run bash .ci/run, or "
                      f"npm install --prefix .cache/claude-{version} @anthropic-ai/claude-code@{version}")
    # The Codex / Gemini CLI tests (marked clis) run once, in e2e_clis, not once per Claude version.
    session.run("pytest", "tests/e2e", "-m", "not clis", *session.posargs,
                env={"COORD_CLAUDE_BIN": str(binary), "COORD_CLAUDE_VERSION": version})


CLI_VERSIONS_FILE = ROOT / ".ci" / "cli-versions"


def cli_versions() -> dict[str, str]:
    """{cli: version} from .ci/cli-versions: the Codex CLI and Gemini CLI .ci/run installs."""
    pairs = (line.split() for line in CLI_VERSIONS_FILE.read_text().splitlines())
    return {fields[0]: fields[1] for fields in pairs if len(fields) == 2 and not fields[0].startswith("#")}


@nox.session
def e2e_clis(session: nox.Session) -> None:
    """The real Codex CLI and Gemini CLI (.ci/cli-versions), once, with the newest Claude Code for the
    mixed team. A missing CLI fails the session (never a skip)."""
    env = {}
    for cli, version in cli_versions().items():
        binary = ROOT / ".cache" / f"{cli}-{version}" / "node_modules" / ".bin" / cli
        if not binary.is_file():
            session.error(f"{cli} {version} is not installed at {binary}: run bash .ci/run")
        env[f"COORD_{cli.upper()}_BIN"] = str(binary)
    newest = next(iter(CLAUDE_VERSIONS.values()))
    claude = claude_binary(newest)
    if not claude.is_file():
        session.error(f"Claude Code {newest} is not installed at {claude}: run bash .ci/run")
    env.update(COORD_CLAUDE_BIN=str(claude), COORD_CLAUDE_VERSION=newest)
    session.run("pytest", "tests/e2e", "-m", "clis", *session.posargs, env=env)


@nox.session
def stress(session: nox.Session) -> None:
    """Adversarial concurrency, crash and hostile-input suite (long)."""
    session.run("pytest", "tests/stress", *session.posargs)


@nox.session
def bench(session: nox.Session) -> None:
    """Hot paths measured against baselines taken in the same run."""
    session.run("python", "benchmarks/run.py", *session.posargs)
