"""Setting a role up: its worktree on agent/<role>/active, its own git identity, the worktree
folder ignored, and the files .worktreeinclude names copied in. Idempotent: run again, it repairs."""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path, PurePosixPath

from coord import git
from coord.config import Config
from coord.errors import ConfigError, CoordError, DirtyStateError, InvalidInputError, NotFoundError
from coord.identity import role_email, role_name
from coord.repo import RepoPaths
from coord.worktree.results import SetupResult
from coord.worktree.rules import (
    GITIGNORE,
    INCLUDE_FILE,
    agent_branch,
    branch_name_clashes,
    gitignore_with_entry,
    include_candidates,
    placement_problem,
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
    if path.is_file():
        text: str | None = path.read_text(encoding="utf-8")
    else:
        # Absent from the checkout but tracked (a sparse checkout that leaves it out): start from the
        # committed text, or writing the one line would read as deleting every rule the user has.
        shown = git.run(main_root, "show", f":{GITIGNORE}", ok=(0, 128))
        text = shown.stdout if shown.code == 0 else None
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


def check_worktree_folder(paths: RepoPaths, config: Config, role: str) -> None:
    """The worktree folder must be coord's to ignore and must lead where it says (refused before
    anything is written): not a folder git tracks (ignoring it would hide the files in it from
    `git status`), and no symbolic link on the way to <worktree_dir>/<role> (git would record the
    link's target, the session's checkout would not be where its role says, and a link to a
    directory is not matched by the `/.worktrees/` ignore line)."""
    main = paths.main_root
    folder = config.worktree_dir.strip("/")
    parts = PurePosixPath(folder).parts
    prefixes = ["/".join(parts[:i]) for i in range(1, len(parts))]  # a tracked FILE on the way also blocks it
    listed = git.run(main, "ls-files", "-z", "--", *(f":(top,literal){p}" for p in (folder, *prefixes))).stdout
    tracked = [p for p in listed.split("\0") if p == folder or p.startswith(folder + "/") or p in prefixes]
    if tracked:
        shown = ", ".join(tracked[:3]) + (f" and {len(tracked) - 3} more" if len(tracked) > 3 else "")
        raise ConfigError(
            f"worktree_dir {folder!r} holds files git tracks ({shown}); coord adds it to .gitignore, "
            "which would hide new files there",
            'set worktree_dir to a folder git does not track, e.g. worktree_dir = ".worktrees"',
        )
    here = main
    for part in (*PurePosixPath(folder).parts, role):
        here = here / part
        if here.exists() and not here.is_dir() and not here.is_symlink() and here.name != role:
            raise DirtyStateError(
                f"{here} is a file, where coord's worktree folder {folder} must be a folder",
                "move the file away (it may be yours), or set worktree_dir",
            )
        if here.is_symlink():
            raise ConfigError(
                f"{here} is a symbolic link (to {os.readlink(here)}); agent worktrees must be real folders "
                f"inside {main}",
                "remove the link (move what it points to away if you need it), or set worktree_dir",
            )


def _start_commit(paths: RepoPaths, config: Config, base: str | None) -> tuple[str, str]:
    """The base ref's name and commit a new branch starts from (NotFoundError when none)."""
    base_name = resolve_base(paths, config, base)
    start = git.rev_parse(paths.main_root, base_name)
    if start is None:
        if git.rev_parse(paths.main_root, "HEAD") is None:
            raise NotFoundError(
                "this repository has no commit yet, so there is nothing to branch an agent from",
                "make a first commit (git commit --allow-empty -m init), then set up again",
            )
        raise NotFoundError(
            f"base {base_name!r} is not a commit, branch or tag in this repository",
            "pass --base with an existing ref, or fix base_branch in coord.toml",
        )
    return base_name, start


def setup(paths: RepoPaths, config: Config, role: str, base: str | None = None) -> SetupResult:
    """Create (or repair) the role's worktree on agent/<role>/active with the role's own identity.

    Every refusal comes before the first write (.gitignore, extensions.worktreeConfig, the
    worktree): a refused setup leaves the repository exactly as it was."""
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
    check_worktree_folder(paths, config, role)  # read-only, so before the lock (whose file it would create)
    with repo_lock(paths):
        # Facts and refusals first.
        entries = git.worktree_list(main)
        moved = placement_problem(role, path, [(e.path, e.branch) for e in entries if not e.prunable])
        if moved is not None:
            raise moved
        entry = entry_at(entries, path)
        prune = False
        if entry is not None and (entry.prunable or not path.is_dir()):
            if entry.locked:
                raise DirtyStateError(
                    f"the {role} worktree is registered and locked but its folder {path} is gone",
                    "git worktree unlock <path> && git worktree prune, then set up again",
                )
            prune, entry = True, None
        start: tuple[str, str] | None = None
        if entry is None:
            if path.exists() and (not path.is_dir() or any(path.iterdir())):
                raise DirtyStateError(
                    f"{path} exists and is not a git worktree; coord will not overwrite it",
                    "move it away (it may hold work), then set up again",
                )
            if git.branch_exists(main, branch):
                holder = next((e for e in entries if e.branch == branch), None)
                if holder is not None and not same_path(holder.path, path) and not (prune and holder.prunable):
                    raise DirtyStateError(
                        f"branch {branch} is checked out in {holder.path}",
                        "switch that checkout to another branch (or `git worktree move` it back to "
                        f"{path}), then set up again",
                    )
            else:
                start = _start_commit(paths, config, base)
                clashes = branch_name_clashes(role, git.out(main, "for-each-ref", "--format=%(refname)",
                                                            "refs/heads/agent").splitlines())
                if clashes:
                    raise DirtyStateError(
                        f"the branch {clashes[0]} keeps git from creating {branch} (one branch name cannot be "
                        "both a branch and a folder of branches)",
                        f"rename it: git branch -m {clashes[0]} <another name>",
                    )
        # Then the writes, undone if the worktree cannot be made.
        config_added = ensure_worktree_config(main)
        gitignore = main / GITIGNORE
        before = gitignore.read_bytes() if gitignore.is_file() else None
        result.gitignore_added = ensure_gitignore(main, config.worktree_dir)
        try:
            if prune:
                git.worktree_prune(main)
                result.repaired.append("forgot a worktree record whose folder was gone")
            if entry is None and start is None:
                git.worktree_add(main, path, branch)
                result.reused_branch = True
                result.notes.append(f"reused the existing branch {branch} (not reset)")
                if base is not None:
                    result.notes.append(f"--base {base} ignored: the branch already exists")
            elif entry is None and start is not None:
                git.worktree_add(main, path, branch, start=start[1])
                result.notes.append(f"branch {branch} created from {start[0]} ({start[1][:8]})")
        except BaseException:
            _undo(main, config_added, gitignore if result.gitignore_added else None, before)
            raise
        if entry is None:
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


def _undo(main: Path, config_added: bool, gitignore: Path | None, before: bytes | None) -> None:
    """Take back this setup's own edits when its worktree could not be made."""
    with contextlib.suppress(CoordError, OSError):
        if gitignore is not None:
            if before is None:
                gitignore.unlink()
            else:
                gitignore.write_bytes(before)
        if config_added:
            git.run(main, "config", "--local", "--unset", "extensions.worktreeConfig", ok=(0, 5))
