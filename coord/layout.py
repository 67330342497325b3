"""Which git layouts coord supports, decided up front, so that an unsupported one is refused with
one line before anything is created.

coord puts agent worktrees under the main checkout, its state under the git common directory, and
finds the main checkout as the parent of that directory (the hooks must find it on every prompt by
reading files, without starting git). That holds for an ordinary repository (`<checkout>/.git` is
the common directory) and for its linked worktrees. It does not hold, and git itself
(`git worktree list`, 2.39) then names the git directory as the main worktree, for:

- a submodule: the common directory is `<superproject>/.git/modules/<name>`; worktrees, the
  .gitignore line and coord's state would land inside the superproject's .git;
- `git init/clone --separate-git-dir`: the common directory lies elsewhere, and a worktree would be
  created inside it;
- a bare repository with `git worktree add` checkouts: there is no main checkout at all;
- `core.worktree` set: the checkout is not where the git directory says.

Those are refused (EnvironmentProblemError, exit 9) with what to do instead. Sparse checkouts and
shallow clones are supported: they change which files a checkout has and how much history is
local, not where anything is.

Pure: layout_problem takes the facts; repo.find_repo reads them (a few small files).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from coord.errors import EnvironmentProblemError


@dataclass(frozen=True)
class LayoutFacts:
    """What the files say about one checkout's repository (paths already resolved)."""

    toplevel: Path  # the checkout the command runs in
    git_dir: Path  # its own git directory
    common_dir: Path  # the shared git directory
    config: dict[str, str]  # the common directory's config (lowercased section.key -> value)
    git_dir_exists: bool = True  # the .git file's target is there (not a worktree git has forgotten)


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("true", "yes", "on", "1")


def layout_problem(facts: LayoutFacts) -> EnvironmentProblemError | None:
    """The refusal for a layout coord cannot work in, or None when it can."""
    common = facts.common_dir
    if not facts.git_dir_exists:
        return EnvironmentProblemError(
            f"{facts.toplevel}/.git points to {facts.git_dir}, which is not there: git no longer knows this "
            "worktree (pruned after a move by hand, or its repository moved)",
            f"if the repository moved: git worktree repair {facts.toplevel}, run in its main checkout; otherwise "
            "copy your files out and set the role up again (coord agent.setup ROLE)",
        )
    is_main = facts.git_dir == common
    in_modules = any(
        common.parts[i] == ".git" and common.parts[i + 1] == "modules" for i in range(len(common.parts) - 1)
    )
    if in_modules:
        return EnvironmentProblemError(
            f"{facts.toplevel} is a git submodule (its git directory is {common}); coord runs only in a "
            "repository's own checkout",
            "run coord in the superproject, or in a separate clone of this repository",
        )
    if _truthy(facts.config.get("core.bare")):
        return EnvironmentProblemError(
            f"{common} is a bare repository (core.bare = true), so there is no main checkout for agent "
            "worktrees to hang from",
            "run coord in a non-bare clone: git clone <this repository> <folder>",
        )
    if facts.config.get("core.worktree"):
        return EnvironmentProblemError(
            f"core.worktree is set in {common / 'config'}, so the checkout is not where the git directory "
            "says; coord does not support it",
            "run coord in an ordinary clone (git clone <this repository> <folder>)",
        )
    if common.name != ".git" or (is_main and facts.toplevel != common.parent):
        return EnvironmentProblemError(
            f"the git directory {common} is separate from the checkout (--separate-git-dir, or a .git that "
            "points elsewhere); coord needs <checkout>/.git",
            f"move {common} to {facts.toplevel}/.git in place of the .git file, or use an ordinary clone",
        )
    return None


def check_layout(facts: LayoutFacts) -> None:
    """Raise the refusal for an unsupported layout."""
    problem = layout_problem(facts)
    if problem is not None:
        raise problem


def check_shallow_namespace(common_dir: Path, shared_server: bool) -> None:
    """A shallow clone lacks the project's first commit, from which the team's namespace is derived
    (coord.namespace) when no namespace is set: on a shared server it would land in keys of its own, unseen by the team.
    Alone on its embedded server it is harmless (the choice is cached per clone). ConfigError, exit 8."""
    if shared_server and (common_dir / "shallow").is_file():
        from coord.errors import ConfigError

        raise ConfigError(
            "this is a shallow clone, so it lacks the project's first commit, from which the team's namespace "
            "on the shared server is derived",
            "git fetch --unshallow, or set namespace in coord.toml to the one the team uses (coord redis.status "
            "in a full clone shows it)",
        )
