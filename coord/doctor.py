"""`coord doctor`: the checks the hooks make automatically, run by hand, one line each with the fix.

For agents whose CLI has no hooks, and for troubleshooting a session that misbehaves. Each check
is independent where it can be (a Redis outage does not hide a drifted settings file), and the
exit code is the first failure's, so scripts can tell "Redis down" (5) from "files drifted" (12).
"""

from __future__ import annotations

import functools
import os
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from coord.errors import CoordError, EnvironmentProblemError

if TYPE_CHECKING:
    from coord.config import Config
    from coord.repo import RepoPaths

MCP_TIMEOUT = 60.0  # seconds for `coord mcp` to start and list its tools (a cold mcp import is ~1 s)
CLOCK_NOTE_SECONDS = 5.0  # a local clock further than this from the Redis server's is reported


@dataclass(frozen=True)
class Check:
    """One line of the report."""

    name: str
    ok: bool
    detail: str
    exit_code: int = 0  # the failure's exit code (coord.errors.EXIT_CODES); 0 when ok

    def line(self) -> str:
        return f"{'ok  ' if self.ok else 'FAIL'}  {self.name:<10} {self.detail}"


def passed(name: str, detail: str) -> Check:
    return Check(name, True, detail)


def failed(name: str, exc: CoordError) -> Check:
    return Check(name, False, exc.line().removeprefix("coord: "), exc.exit_code)


def report(checks: list[Check]) -> str:
    lines = [c.line() for c in checks]
    bad = sum(1 for c in checks if not c.ok)
    summary = f"{len(checks) - bad} ok, {bad} failed" if bad else f"all {len(checks)} ok"
    lines.append(f"coord doctor: {summary}")
    return "\n".join(lines)


def _attempt(name: str, fn: Callable[[], str]) -> Check:
    try:
        return passed(name, fn())
    except CoordError as exc:
        return failed(name, exc)


def list_mcp_tools(cwd: Path, environ: Mapping[str, str], timeout: float = MCP_TIMEOUT) -> list[str]:
    """Start `coord mcp` over stdio as Claude Code would, and return the tool names it lists."""
    import anyio
    from mcp import StdioServerParameters
    from mcp.client import Client
    from mcp.client.stdio import stdio_client

    command = shutil.which("coord", path=environ.get("PATH"))
    if command is None:
        raise EnvironmentProblemError("`coord` is not on PATH, so Claude Code cannot start the MCP server",
                                      "install coord in the environment claude runs in")
    params = StdioServerParameters(command=command, args=["mcp"], env=dict(environ), cwd=str(cwd))

    async def listing() -> list[str]:
        with anyio.fail_after(timeout), open(os.devnull, "w") as quiet:
            async with Client(stdio_client(params, errlog=quiet)) as client:
                result = await client.list_tools()
                return [tool.name for tool in result.tools]

    try:
        return anyio.run(listing)
    except TimeoutError:
        raise CoordError(f"`coord mcp` did not list its tools within {timeout:.0f} s",
                         "run `coord mcp` by hand and read its stderr") from None
    except Exception as exc:  # the client's own errors: a crashed or silent server
        raise CoordError(f"`coord mcp` failed to start or answer ({type(exc).__name__}: {str(exc)[:160]})",
                         "run `coord mcp` by hand and read its stderr") from None


FileCheck = tuple[str, Callable[["RepoPaths"], str]]  # a named check of the checkout; raises CoordError


def run_checks(start: Path, environ: Mapping[str, str], role: str | None = None, mcp: bool = True,
               file_checks: Sequence[FileCheck] = ()) -> list[Check]:
    """Every check, in the order a session depends on them. file_checks: the generated files'
    checks (coord.render.doctor_checks), passed in by the caller so doctor does not import render."""
    from coord.actor import email_from_files, resolve_role
    from coord.config import load_config
    from coord.identity import INSTANCE_ENV, check_checkout
    from coord.repo import find_repo

    env = dict(environ)
    if role:
        env[INSTANCE_ENV] = role
    checks: list[Check] = []
    try:
        paths = find_repo(start)
    except CoordError as exc:
        return [failed("repository", exc)]
    where = "main checkout" if paths.is_main else f"worktree of {paths.main_root}"
    checks.append(passed("repository", f"{paths.toplevel} ({where})"))
    try:
        config = load_config(paths.main_root, env)
    except CoordError as exc:
        return [*checks, failed("config", exc)]
    checks.append(passed("config", f"roles {', '.join(config.roles)}; main role {config.main_role}"))

    found_role: str | None = None
    try:
        identity = resolve_role(paths, config, env, email_from_files(paths.git_dir, paths.common_dir))
        found_role = identity.role
        checks.append(passed("identity", f"role {identity.role} (from {identity.source})"))
        check_checkout(identity.role, str(paths.toplevel), str(paths.main_root), config.main_role, config.worktree_dir)
        checks.append(passed("checkout", f"{paths.toplevel} is {identity.role}'s checkout"))
    except CoordError as exc:
        checks.append(failed("identity" if found_role is None else "checkout", exc))

    missing = [name for name in ("coord", "coord-hook") if shutil.which(name, path=env.get("PATH")) is None]
    if missing:
        checks.append(failed("commands", EnvironmentProblemError(
            f"{' and '.join(missing)} not on PATH: the hooks and the MCP server cannot run",
            "install coord (pip install coord) in the environment claude runs in")))
    else:
        checks.append(passed("commands", "coord and coord-hook are on PATH"))

    checks.append(_attempt("redis", lambda: _redis(paths, config, found_role, env)))
    for name, check in file_checks:
        checks.append(_attempt(name, functools.partial(check, paths)))
    if {"codex", "gemini"} & set(config.agents):
        from coord import cli_trust

        if "codex" in config.agents:
            checks.append(_attempt("codex", lambda: cli_trust.codex_check(paths.toplevel, env)))
        if "gemini" in config.agents:
            checks.append(_attempt("gemini", lambda: cli_trust.gemini_check(paths.toplevel, env)))
    if mcp:
        checks.append(_attempt("mcp", lambda: _mcp(env)))
    return checks


def clock_note(offset: float, limit: float = CLOCK_NOTE_SECONDS) -> str:
    """How far this machine's clock is from the server's, when it matters to a human: coord decides
    on the server's clock, but commit dates and logs use this one."""
    if abs(offset) <= limit:
        return ""
    side = "ahead of" if offset > 0 else "behind"
    return (f"; this machine's clock is {abs(offset):.1f} s {side} the Redis server's (coord uses the "
            "server's; commit dates and logs use this one: sync it with NTP)")


def _redis(paths: RepoPaths, config: Config, role: str | None, env: Mapping[str, str]) -> str:
    import time

    from coord.store import open_store

    with open_store(paths, config, start_server=False) as store:
        seconds = store.ping()
        detail = f"reachable at {store.url} ({seconds * 1000:.1f} ms)"
        before = time.time()
        server = store.server_time()
        detail += clock_note((before + time.time()) / 2 - server)
        if role:
            mine = next((v for v in store.presence() if v.role == role), None)
            if mine is not None:
                holder = mine.session_id or "-"
                if holder == env.get("CLAUDE_CODE_SESSION_ID"):
                    holder += ", this session"
                detail += f"; role {role} is {mine.status.value}"
                if mine.session_id:
                    detail += f" (session {holder}, last heartbeat {mine.age} ago)"
    return detail


def _mcp(env: Mapping[str, str]) -> str:
    import tempfile

    from coord.catalog.claude import TOOL_NAMES

    # The probe must not take a role: started outside any repository and without an instance id,
    # the server cannot resolve an identity, so it lists its tools but registers nothing (a probe
    # that registered would hold the role against the real session for stale_seconds).
    hidden = ("CLAUDE_INSTANCE_ID", "CLAUDE_CODE_SESSION_ID", "CLAUDE_PROJECT_DIR", "COORD_SESSION_ID")
    probe_env = {k: v for k, v in env.items() if k not in hidden}
    with tempfile.TemporaryDirectory(prefix="coord-doctor-") as outside:
        names = list_mcp_tools(Path(outside), probe_env)
    expected = list(TOOL_NAMES)
    missing = [n for n in expected if n not in names]
    if missing:
        raise CoordError(f"`coord mcp` lacks tools {', '.join(missing)}", "reinstall coord, then re-run coord init")
    return f"`coord mcp` started and listed {len(names)} tools"


if __name__ == "__main__":  # pragma: no cover - manual use
    print(report(run_checks(Path(os.getcwd()), os.environ)))
