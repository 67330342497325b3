"""The optional git pre-commit guard (`coord agent.guard`): a hook that runs `coord agent.precommit`,
so commits touching another live role's claimed paths fail. One hook for every worktree (git's
hooks folder is shared); a pre-commit hook coord did not write is never replaced."""

from __future__ import annotations

import os
from pathlib import Path

from coord import git
from coord.errors import CoordError, EnvironmentProblemError
from coord.repo import RepoPaths

GUARD_MARK = "coord pre-commit guard"  # in coord's hook; a hook without it is someone else's


def hooks_dir(checkout: Path) -> Path:
    """The folder git runs this checkout's hooks from (core.hooksPath honoured, as git resolves
    it: a relative one against the checkout's own top folder)."""
    rel = git.out(checkout, "rev-parse", "--git-path", "hooks")
    return (checkout / os.path.expanduser(rel)).resolve()


def hook_path(paths: RepoPaths) -> Path:
    """Where git looks for the pre-commit hook, if that is ONE place for every worktree.

    It is not when core.hooksPath is relative (git resolves it in each worktree's own checkout, so
    a hook written into the main checkout's folder guards the main checkout only), or when a
    worktree sets its own core.hooksPath: refused (exit 9) naming it, rather than claiming a guard
    that most commits never run."""
    main = paths.main_root
    configured = git.config_get(main, "core.hooksPath")
    if configured and not os.path.isabs(os.path.expanduser(configured)):
        raise EnvironmentProblemError(
            f"core.hooksPath is relative ({configured}): git runs each worktree's hooks from that folder in its own "
            "checkout, so one installed guard cannot cover every worktree",
            f'make it absolute (git config core.hooksPath "{main / configured}"), or have your committed '
            f"{configured}/pre-commit run `coord agent.precommit`",
        )
    target = hooks_dir(main)
    for entry in git.worktree_list(main):
        if entry.prunable or not entry.path.is_dir() or entry.path.resolve() == main:
            continue
        other = hooks_dir(entry.path)
        if other != target:
            raise EnvironmentProblemError(
                f"the worktree {entry.path} runs its hooks from {other}, not {target}: one installed guard "
                "cannot cover every worktree",
                "unset core.hooksPath in that worktree's config (git config --worktree --unset core.hooksPath)",
            )
    return target / "pre-commit"


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
    # Through a name of its own, then renamed: a commit running meanwhile sees the old hook or the
    # whole new one, and two installs at once never write into one file.
    tmp = target.with_name(f".{target.name}.{os.getpid()}.{os.urandom(4).hex()}.coord-tmp")
    try:
        tmp.write_text(template.render(mark=GUARD_MARK), encoding="utf-8")
        tmp.chmod(0o755)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def remove(paths: RepoPaths) -> Path | None:
    """Remove coord's pre-commit hook; returns its path, or None when none was installed. From the
    main checkout's hooks folder, whatever the layout (a guard installed before hook_path refused
    that layout can still be taken out)."""
    target = hooks_dir(paths.main_root) / "pre-commit"
    if _current(target) is None:
        return None
    target.unlink()
    return target
