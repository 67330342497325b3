"""Setting a role up: its worktree on agent/<role>/active, its own git identity, the worktree
folder ignored, and the files .worktreeinclude names copied in. Idempotent: run again, it repairs."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from coord import git
from coord.config import Config
from coord.errors import DirtyStateError, InvalidInputError, NotFoundError
from coord.identity import role_email, role_name
from coord.repo import RepoPaths
from coord.worktree.results import SetupResult
from coord.worktree.rules import (
    GITIGNORE,
    INCLUDE_FILE,
    agent_branch,
    gitignore_with_entry,
    include_candidates,
    worktree_path,
)
from coord.worktree.state import agent_role, entry_at, repo_lock, resolve_base, same_path


def ensure_worktree_config(main_root: Path) -> bool:
    """Per-worktree config (the role identity) needs extensions.worktreeConfig; git 2.39 honours it
    with repositoryformatversion 0 (checked), so the format version is left alone."""
    if (git.config_get(main_root, "extensions.worktreeConfig", scope="local") or "").lower() == "true":
        return False
    git.config_set(main_root, "extensions.worktreeConfig", "true", scope="local")
    return True


def ensure_identity(worktree: Path, role: str) -> list[str]:
    """Write the role's user.name/user.email into THIS worktree's config only; returns what changed."""
    if (worktree / ".git").is_dir():
        # The main checkout reads .git/config.worktree too: an identity there would rename the human.
        raise InvalidInputError(f"{worktree} is the main checkout, not an agent worktree", "name an agent role")
    changed = []
    for key, want in (("user.name", role_name(role)), ("user.email", role_email(role))):
        if git.config_get(worktree, key, scope="worktree") != want:
            git.config_set(worktree, key, want, scope="worktree")
            changed.append(key)
    return changed


def ensure_gitignore(main_root: Path, worktree_dir: str) -> bool:
    """Add the worktree folder to the main checkout's .gitignore once (left uncommitted for the user)."""
    path = main_root / GITIGNORE
    text = path.read_text(encoding="utf-8") if path.is_file() else None
    new = gitignore_with_entry(text, worktree_dir)
    if new is None:
        return False
    path.write_text(new, encoding="utf-8")
    return True


def copy_includes(main_root: Path, worktree: Path, worktree_dir: str) -> list[str]:
    """Copy the gitignored files named by .worktreeinclude; never overwrite what the worktree has."""
    include = main_root / INCLUDE_FILE
    if not include.is_file():
        return []
    listed = git.untracked_ignored(main_root, exclude_from=include)
    if not listed:
        return []
    ignored_out = git.run(main_root, "check-ignore", "-z", "--stdin", ok=(0, 1), stdin="\0".join(listed) + "\0")
    ignored = [p for p in ignored_out.stdout.split("\0") if p]
    copied = []
    for rel in include_candidates(listed, ignored, worktree_dir):
        source = main_root / rel
        target = worktree / rel
        if target.exists() or target.is_symlink():
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_symlink():
            os.symlink(os.readlink(source), target)
        elif source.is_file():
            shutil.copy2(source, target)
        else:
            continue
        copied.append(rel)
    return copied


def setup(paths: RepoPaths, config: Config, role: str, base: str | None = None) -> SetupResult:
    """Create (or repair) the role's worktree on agent/<role>/active with the role's own identity."""
    role = agent_role(config, role)
    if role == config.main_role:
        return SetupResult(
            role=role,
            path=paths.main_root,
            branch=git.current_branch(paths.main_root) or "HEAD",
            created=False,
            is_main=True,
            notes=[f"{role} is the main role: it works in the main checkout, no worktree needed"],
        )
    if base is not None and (not base or base.startswith("-")):
        raise InvalidInputError(f"invalid base ref {base!r}", "name a branch, tag or commit")
    main = paths.main_root
    path = worktree_path(paths, config, role)
    branch = agent_branch(role)
    result = SetupResult(role=role, path=path, branch=branch, created=False)
    with repo_lock(paths):
        ensure_worktree_config(main)
        result.gitignore_added = ensure_gitignore(main, config.worktree_dir)
        entries = git.worktree_list(main)
        entry = entry_at(entries, path)
        if entry is not None and (entry.prunable or not path.is_dir()):
            if entry.locked:
                raise DirtyStateError(
                    f"the {role} worktree is registered and locked but its folder {path} is gone",
                    "git worktree unlock <path> && git worktree prune, then set up again",
                )
            git.worktree_prune(main)
            result.repaired.append("forgot a worktree record whose folder was gone")
            entry = None
        if entry is None:
            if path.exists() and (not path.is_dir() or any(path.iterdir())):
                raise DirtyStateError(
                    f"{path} exists and is not a git worktree; coord will not overwrite it",
                    "move it away (it may hold work), then set up again",
                )
            if git.branch_exists(main, branch):
                holder = next((e for e in entries if e.branch == branch), None)
                if holder is not None and not same_path(holder.path, path):
                    raise DirtyStateError(
                        f"branch {branch} is checked out in {holder.path}",
                        "switch that checkout to another branch, then set up again",
                    )
                git.worktree_add(main, path, branch)
                result.reused_branch = True
                result.notes.append(f"reused the existing branch {branch} (not reset)")
                if base is not None:
                    result.notes.append(f"--base {base} ignored: the branch already exists")
            else:
                base_name = resolve_base(paths, config, base)
                start = git.rev_parse(main, base_name)
                if start is None:
                    raise NotFoundError(
                        f"base {base_name!r} is not a commit, branch or tag in this repository",
                        "pass --base with an existing ref, or fix base_branch in coord.toml",
                    )
                git.worktree_add(main, path, branch, start=start)
                result.notes.append(f"branch {branch} created from {base_name} ({start[:8]})")
            result.created = True
        elif entry.branch != branch:
            result.notes.append(f"the worktree is on {entry.branch or 'a detached HEAD'}, not {branch} (left as is)")
        changed = ensure_identity(path, role)
        result.copied = copy_includes(main, path, config.worktree_dir)
    if not result.created:
        if changed:
            result.repaired.append(f"identity ({', '.join(changed)})")
        if result.copied:
            result.repaired.append(f"include files ({', '.join(result.copied)})")
    return result
