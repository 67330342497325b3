"""Test automation. Sessions run in the current environment (after `pip install -e ".[dev]"`),
so a fresh machine pays for one install, not one per session."""

import nox

nox.options.download_python = "never"
nox.options.default_venv_backend = "none"
nox.options.sessions = ["lint", "unit", "integration", "e2e"]
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


@nox.session
def e2e(session: nox.Session) -> None:
    """The real Claude Code CLI driven by a scripted model on loopback."""
    session.run("pytest", "tests/e2e", *session.posargs)


@nox.session
def stress(session: nox.Session) -> None:
    """Adversarial concurrency, crash and hostile-input suite (long)."""
    session.run("pytest", "tests/stress", *session.posargs)


@nox.session
def bench(session: nox.Session) -> None:
    """Hot paths measured against baselines taken in the same run."""
    session.run("python", "benchmarks/run.py", *session.posargs)
