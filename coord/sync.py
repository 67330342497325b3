"""`agent.sync`: bring the base branch INTO an agent's branch, in the agent's own worktree.

The mirror of `agent.merge`, with the same guarantees: a refusal changes nothing. The order of
the checks is the order of what could be lost: uncommitted tracked changes refuse (exit 4; coord
never stashes); a conflict is computed with `git merge-tree --write-tree` before anything is
touched (exit 1, files listed); untracked, ignored or hidden-edit files the update would write
over or delete refuse (exit 4, named: coord.worktree.overwrites; git would overwrite ignored ones
silently). Otherwise the branch fast-forwards, or a merge commit is built with `commit-tree` under
the worktree's own identity (its user.name and user.email, so `git log` shows the agent made it),
through the repository's merge hooks and signing (coord.worktree.policy), and the worktree
fast-forwards to it: an interruption leaves it either untouched or fully synced. Untracked files
elsewhere are left alone.

The decisions (`decide_sync`, `check_caller`) are pure; `sync` gathers the facts with coord.git
and acts. Shared by the `agent.sync` task and the cockpit.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from coord import git
from coord.config import Config
from coord.errors import DirtyStateError, IdentityError, InvalidInputError, MergeConflictError, NotFoundError
from coord.identity import validate_role
from coord.repo import RepoPaths

UP_TO_DATE = "up-to-date"
FAST_FORWARD = "fast-forward"
MERGE = "merge"
IN_PROGRESS = ("MERGE_HEAD", "CHERRY_PICK_HEAD", "REVERT_HEAD", "rebase-merge", "rebase-apply")
SHOWN = 5


@dataclass(frozen=True)
class SyncFacts:
    """A worktree's state before a sync (gathered by `_facts`)."""

    role: str
    branch: str  # the role's branch
    checked_out: str | None  # the branch the worktree has checked out (None: detached)
    base: str
    head: str
    base_tip: str
    dirty: tuple[str, ...]  # porcelain lines of tracked changes
    in_progress: str | None  # a merge/rebase/cherry-pick marker in the worktree's git dir
    base_in_head: bool  # the base tip is already reachable from HEAD
    head_in_base: bool  # HEAD is reachable from the base tip: a fast-forward


@dataclass
class SyncResult:
    role: str
    path: Path
    branch: str
    base: str
    kind: str  # "up-to-date", "fast-forward" or "merge"
    previous: str  # HEAD before
    commit: str  # HEAD after
    commits: int  # commits of the base that came in
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        data = asdict(self)
        data["path"] = str(self.path)
        return data


def _summary(items: Sequence[str]) -> str:
    shown = ", ".join(i[3:] if len(i) > 3 and i[2] == " " else i for i in items[:SHOWN])
    return f"{len(items)} file(s): {shown}" + (f" and {len(items) - SHOWN} more" if len(items) > SHOWN else "")


def decide_sync(facts: SyncFacts) -> str:
    """up-to-date, fast-forward or merge; refusals raise here, before anything changes."""
    role, branch = facts.role, facts.branch
    if facts.checked_out != branch:
        raise DirtyStateError(
            f"the {role} worktree is on {facts.checked_out or 'a detached HEAD'}, not {branch}",
            f"git switch {branch} there, then sync again",
        )
    if facts.in_progress:
        raise DirtyStateError(
            f"the {role} worktree has an operation in progress ({facts.in_progress})",
            "finish or abort it (git merge --abort / git rebase --abort), then sync again",
        )
    if facts.dirty:
        raise DirtyStateError(
            f"the {role} worktree has uncommitted changes ({_summary(facts.dirty)}); nothing was changed",
            "commit them first (coord never stashes), then sync again",
        )
    if facts.base_in_head:
        return UP_TO_DATE
    return FAST_FORWARD if facts.head_in_base else MERGE


def conflict_error(role: str, branch: str, base: str, path: Path, files: Sequence[str]) -> MergeConflictError:
    return MergeConflictError(
        f"merging {base} into {branch} would conflict in {len(files)} file(s): {', '.join(files)}; "
        "nothing was changed",
        f"in {path}: git merge {base}, resolve the files, git commit",
        files=tuple(files),
    )


def check_caller(toplevel: Path, main_root: Path, worktree_dir: str, role: str) -> None:
    """An agent syncs only its own branch: from inside another role's worktree the sync is
    refused (it would commit as that role). The main checkout (a human, the main role) may sync any."""
    here = os.path.realpath(toplevel)
    if here == os.path.realpath(main_root):
        return
    own = os.path.realpath(main_root / worktree_dir / role)
    if here != own:
        raise IdentityError(
            f"this checkout ({here}) is not {role}'s worktree; an agent syncs only its own branch",
            f"run it in {own}, or from the main checkout",
        )


# --- effects -------------------------------------------------------------------------------------


def _agent_worktree(paths: RepoPaths, config: Config, role: str) -> tuple[Path, git.WorktreeEntry]:
    path = paths.main_root / config.worktree_dir / role
    for entry in git.worktree_list(paths.main_root):
        if os.path.realpath(entry.path) == os.path.realpath(path):
            if not path.is_dir():
                break
            return path, entry
    raise NotFoundError(f"role {role} has no worktree at {path}", f"set it up with coord agent.setup {role}")


def _git_dir(worktree: Path) -> Path:
    return Path(git.out(worktree, "rev-parse", "--absolute-git-dir"))


def _identity(worktree: Path, role: str) -> dict[str, str]:
    """The worktree's own user.name/email as author and committer of the merge commit."""
    name = git.config_get(worktree, "user.name", scope="worktree")
    email = git.config_get(worktree, "user.email", scope="worktree")
    if not name or not email:
        raise IdentityError(
            f"the {role} worktree has no git identity of its own, so a merge commit would not be the agent's",
            f"repair it with coord agent.setup {role}",
        )
    return {"GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email,
            "GIT_COMMITTER_NAME": name, "GIT_COMMITTER_EMAIL": email}


def _facts(paths: RepoPaths, config: Config, role: str, path: Path, entry: git.WorktreeEntry) -> SyncFacts:
    from coord.worktree import agent_branch, resolve_base

    base = resolve_base(paths, config)
    base_tip = git.rev_parse(paths.main_root, f"refs/heads/{base}") or git.rev_parse(paths.main_root, base)
    if base_tip is None:
        raise NotFoundError(f"base branch {base!r} does not exist", "fix base_branch in coord.toml")
    head = git.rev_parse(path, "HEAD")
    if head is None:
        raise NotFoundError(f"the {role} worktree has no commit", f"repair it with coord agent.setup {role}")
    git_dir = _git_dir(path)
    marker = next((m for m in IN_PROGRESS if (git_dir / m).exists()), None)
    return SyncFacts(
        role=role, branch=agent_branch(role), checked_out=entry.branch, base=base, head=head, base_tip=base_tip,
        dirty=tuple(git.status_lines(path, untracked=False)), in_progress=marker,
        base_in_head=git.is_ancestor(path, base_tip, head), head_in_base=git.is_ancestor(path, head, base_tip),
    )


def _refuse_overwrites(role: str, path: Path, head: str, target: str) -> None:
    from coord.worktree.overwrites import refuse_destroying

    refuse_destroying(path, head, target, "syncing", f"the {role} worktree", "sync again")


def sync(paths: RepoPaths, config: Config, role: str) -> SyncResult:
    """Merge the base branch into agent/<role>/active in the role's worktree (see the module doc)."""
    from coord.worktree import repo_lock

    role = validate_role(role, config.roles)
    if role == config.main_role:
        raise InvalidInputError(
            f"{role} is the main role: it works on the base branch itself",
            "name an agent role: coord agent.sync --role ROLE",
        )
    with repo_lock(paths):
        path, entry = _agent_worktree(paths, config, role)
        facts = _facts(paths, config, role, path, entry)
        kind = decide_sync(facts)
        result = SyncResult(role, path, facts.branch, facts.base, kind, facts.head, facts.head, 0)
        if kind == UP_TO_DATE:
            return result
        result.commits = git.ahead_behind(path, facts.base_tip, facts.head)[0]
        from coord.worktree.policy import policy_commit, require_signed

        require_signed(path, facts.base_tip, facts.base)  # merge.verifySignatures, as git merge checks it
        if kind == FAST_FORWARD:
            _refuse_overwrites(role, path, facts.head, facts.base_tip)
            git.merge_ff_only(path, facts.base_tip)
            result.commit = facts.base_tip
            return result
        merged = git.merge_tree(path, facts.head, facts.base_tip)
        if not merged.clean or merged.tree is None:
            raise conflict_error(role, facts.branch, facts.base, path, merged.conflicted_files)
        identity = _identity(path, role)
        _refuse_overwrites(role, path, facts.head, merged.tree)
        message = f"Merge {facts.base} into {facts.branch}\n\nSynced by coord agent.sync."
        # the repository's merge hooks and commit.gpgsign, as git merge honours them
        commit = policy_commit(path, merged.tree, [facts.head, facts.base_tip], message, "the sync", env=identity)
        # The commit exists before the worktree moves: it only ever fast-forwards to it.
        git.merge_ff_only(path, commit, verify_signatures=False)  # git runs the post-merge hook itself here
        result.commit = commit
        return result
