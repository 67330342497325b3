"""The optional git pre-commit guard (`coord agent.guard`): a hook that runs `coord agent.precommit`,
so commits touching another live role's claimed paths fail. One hook for every worktree (git's
hooks folder is shared); a pre-commit hook coord did not write is never replaced."""

from __future__ import annotations

from pathlib import Path

from coord import git
from coord.errors import CoordError
from coord.repo import RepoPaths

GUARD_MARK = "coord pre-commit guard"  # in coord's hook; a hook without it is someone else's


def hook_path(paths: RepoPaths) -> Path:
    """Where git looks for the pre-commit hook (core.hooksPath honoured)."""
    rel = git.out(paths.main_root, "rev-parse", "--git-path", "hooks")
    return (paths.main_root / rel).resolve() / "pre-commit"


def _current(target: Path) -> str | None:
    current = target.read_text(encoding="utf-8", errors="replace") if target.is_file() else None
    if current is not None and GUARD_MARK not in current:
        raise CoordError(
            f"{target} exists and is not coord's", "merge it by hand: have it run `coord agent.precommit` too"
        )
    return current


def install(paths: RepoPaths) -> Path:
    """Write coord's pre-commit hook (executable); returns its path."""
    import importlib.resources

    import jinja2

    target = hook_path(paths)
    _current(target)
    text = importlib.resources.files("coord.templates").joinpath("git-pre-commit.sh.j2").read_text(encoding="utf-8")
    template = jinja2.Template(text, keep_trailing_newline=True, undefined=jinja2.StrictUndefined)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(template.render(mark=GUARD_MARK), encoding="utf-8")
    target.chmod(0o755)
    return target


def remove(paths: RepoPaths) -> Path | None:
    """Remove coord's pre-commit hook; returns its path, or None when none was installed."""
    target = hook_path(paths)
    if _current(target) is None:
        return None
    target.unlink()
    return target
