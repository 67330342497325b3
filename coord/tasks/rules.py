"""`coord init`, `coord rules.render` and `coord doctor`: the Claude Code integration by hand."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from invoke.collection import Collection
from invoke.exceptions import Exit
from invoke.tasks import task

from coord.tasks.boundary import commands, guarded, workspace

if TYPE_CHECKING:
    from coord.repo import RepoPaths


def _render(c: object, check: bool, force: bool) -> None:
    from coord import render, render_disk

    paths, config = workspace()
    root = paths.toplevel
    if not check:
        render.record_hook_program(paths)
    files = render.plan(root, render.render_config(paths.main_root), commands=commands(c))
    if check:
        render_disk.check(root, files)
        print(f"coord: {len(files)} generated files are up to date in {root}")
        return
    changed = render_disk.write(root, files, force=force)
    secret = _record_redis_secret(paths)
    if secret:
        changed = [*changed, *secret[:-1]]
        print(f"coord: the Redis password is kept in {secret[-1]} (mode 0600, never committed)")
    if paths.is_main:
        from coord import worktree

        # The worktree folder must be ignored before the first agent.setup, so the checkout is
        # clean once the files below are committed (setup would add the line, uncommitted).
        if worktree.ensure_gitignore(paths.main_root, config.worktree_dir):
            changed.append(".gitignore")
    if not changed:
        print(f"coord: {len(files)} generated files already up to date in {root}")
        return
    for path in changed:
        print(f"{'wrote' if (root / path).exists() else 'removed'} {path}")
    print(f"coord: commit them so every worktree gets them: git add {' '.join(changed)} && git commit -m 'coord init'")


RENDER_HELP = {"check": "write nothing; exit 12 naming every file that differs",
               "force": "replace files at coord's paths that coord did not generate"}


@task(help=RENDER_HELP)
@guarded
def init(c: object, check: bool = False, force: bool = False) -> None:
    """Render the Claude Code hooks, settings, .mcp.json, rules and CLAUDE.md section into this checkout."""
    _render(c, check, force)


def _record_redis_secret(paths: RepoPaths) -> list[str]:
    """COORD_REDIS_URL with a password: keep the secret in .git/coord, the bare URL in coord.toml."""
    import os

    url = os.environ.get("COORD_REDIS_URL", "")
    if not url or not paths.is_main:
        return []
    from coord.credentials import record

    return record(paths.main_root, paths.state_dir, url)


@task(name="render", help=RENDER_HELP)
@guarded
def render_task(c: object, check: bool = False, force: bool = False) -> None:
    """Same as `coord init`: (re)render the generated Claude Code files from the templates."""
    _render(c, check, force)


@task(help={"role": "check as this role (default: CLAUDE_INSTANCE_ID, else the checkout's git identity)",
            "skip_mcp": "do not start the MCP server (faster)"})
@guarded
def doctor(c: object, role: str | None = None, skip_mcp: bool = False) -> None:
    """Check identity, checkout, Redis, generated files and the MCP server; one line each with the fix."""
    import os

    from coord import render
    from coord.doctor import report, run_checks

    results = run_checks(Path(os.getcwd()), os.environ, role=role, mcp=not skip_mcp,
                         file_checks=render.doctor_checks(commands(c)))
    print(report(results))
    failed = [r for r in results if not r.ok]
    if failed:
        raise Exit(code=failed[0].exit_code)


collection = Collection("rules", render_task)
top_level = [init, doctor]
