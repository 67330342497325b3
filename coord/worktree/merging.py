"""Merging a role's branch into the base branch in the main checkout: fast-forward when it can,
else a merge commit built with merge-tree first, so a conflict changes nothing and an interruption
never leaves the checkout half-merged."""

from __future__ import annotations

from coord import git
from coord.config import Config
from coord.errors import DirtyStateError, InvalidInputError, MergeConflictError, NotFoundError
from coord.repo import RepoPaths
from coord.worktree.overwrites import refuse_destroying
from coord.worktree.policy import policy_commit, require_signed
from coord.worktree.results import MergeResult
from coord.worktree.rules import agent_branch, files_summary, worktree_path
from coord.worktree.state import agent_role, entry_at, repo_lock, resolve_base

_IN_PROGRESS = ("MERGE_HEAD", "CHERRY_PICK_HEAD", "REVERT_HEAD", "rebase-merge", "rebase-apply")


def merge(paths: RepoPaths, config: Config, role: str, source: str | None = None) -> MergeResult:
    """Merge agent/<role>/active into the base branch in the main checkout; conflicts change nothing.
    source: another ref standing for that branch (its copy fetched from another machine, coord.remote)."""
    role = agent_role(config, role)
    if role == config.main_role:
        raise InvalidInputError(f"{role} is the main role and has no agent branch to merge", "name an agent role")
    with repo_lock(paths):
        return merge_locked(paths, config, role, source)


def merge_locked(paths: RepoPaths, config: Config, role: str, source: str | None = None) -> MergeResult:
    main = paths.main_root
    branch = agent_branch(role)
    tip = git.rev_parse(main, source or f"refs/heads/{branch}")
    if tip is None:
        raise NotFoundError(f"branch {branch} does not exist", f"set the role up with coord agent.setup {role}")
    base = resolve_base(paths, config)
    current = git.current_branch(main)
    if current != base:
        raise DirtyStateError(
            f"the main checkout is on {current or 'a detached HEAD'}, not the base branch {base}",
            f"run git switch {base} in {main}, then merge again",
        )
    for marker in _IN_PROGRESS:
        if (paths.common_dir / marker).exists():
            raise DirtyStateError(
                f"the main checkout has an operation in progress ({marker})",
                "finish or abort it (git merge --abort / git rebase --abort), then merge again",
            )
    dirty = git.status_lines(main, untracked=False)
    if dirty:
        raise DirtyStateError(
            f"the main checkout has uncommitted changes ({files_summary(dirty)}); coord never stashes them",
            "commit or stash them yourself, then merge again",
        )
    warnings = []
    wt = worktree_path(paths, config, role)
    if wt.is_dir() and entry_at(git.worktree_list(main), wt) is not None:
        wt_dirty = git.status_lines(wt)
        if wt_dirty:
            warnings.append(
                f"the {role} worktree has uncommitted changes ({files_summary(wt_dirty)}); they are not part "
                "of this merge"
            )
    head = git.rev_parse(main, "HEAD")
    assert head is not None
    if git.is_ancestor(main, tip, head):
        return MergeResult(role, branch, base, "up-to-date", head, warnings, head)
    again = "merge again"
    require_signed(main, tip, branch)  # merge.verifySignatures, checked as git merge would
    if git.is_ancestor(main, head, tip):
        refuse_destroying(main, head, tip, f"merging {branch}", "the main checkout", again)
        git.merge_ff_only(main, tip)  # git runs the post-merge hook itself here
        return MergeResult(role, branch, base, "fast-forward", tip, warnings, head)
    result = git.merge_tree(main, head, tip)
    if not result.clean or result.tree is None:
        files = result.conflicted_files
        raise MergeConflictError(
            f"merging {branch} into {base} would conflict in {len(files)} file(s): {', '.join(files)}; "
            "nothing was changed",
            f"resolve it on the branch (in the {role} worktree: git merge {base}), then merge again",
            files=files,
        )
    refuse_destroying(main, head, result.tree, f"merging {branch}", "the main checkout", again)
    message = f"Merge {branch} (role {role}) into {base}\n\nMerged by coord agent.merge."
    # the repository's merge hooks and commit.gpgsign, as git merge honours them (coord.worktree.policy)
    commit = policy_commit(main, result.tree, [head, tip], message, f"merging {branch}")
    # The merge commit exists before the checkout moves: the checkout only ever fast-forwards, so
    # an interruption leaves it either untouched or fully merged, never half-merged.
    git.merge_ff_only(main, commit, verify_signatures=False)  # git runs the post-merge hook itself here
    return MergeResult(role, branch, base, "merge", commit, warnings, head)
