"""Merge commits that honour the repository's policy, as `git merge` would (issue 12, class 7).

coord builds merge commits with `git commit-tree` and then fast-forwards the checkout to them, so
an interruption never leaves a half-merged checkout. commit-tree alone skips what `git merge`
does on the way: the pre-merge-commit, prepare-commit-msg and commit-msg hooks, and signing
when commit.gpgsign is set. `policy_commit` runs them around commit-tree, in git's order:
- pre-merge-commit with GIT_INDEX_FILE pointing at a scratch index that holds the merge result
  (`git diff --cached`, `git write-tree` and the like see the merge; the files on disk are still
  the pre-merge ones: that is the price of never half-merging the checkout);
- prepare-commit-msg MSGFILE merge, then commit-msg MSGFILE: they may rewrite the message;
- the commit signed (`-S`) when commit.gpgsign is true, with the user's gpg.format and key.
A hook that exits non-zero, or a signature git cannot make, refuses the merge with the reason,
before any ref or file moves. post-merge needs nothing here: the fast-forward that follows
(`git merge --ff-only`) runs it, as git merge does. Hooks are found the way git finds them
(core.hooksPath included) through `git hook run`.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path

from coord import git
from coord.errors import CoordError, GitError


def _git_dir(checkout: Path) -> Path:
    return Path(git.out(checkout, "rev-parse", "--absolute-git-dir"))


def _hook(checkout: Path, name: str, args: Sequence[str], env: Mapping[str, str] | None, what: str) -> None:
    try:
        git.run(checkout, "hook", "run", "--ignore-missing", name, "--", *args, env=env)
    except GitError as exc:
        detail = exc.message.split(" failed: ", 1)[-1]
        raise CoordError(
            f"the repository's {name} hook refused {what}: {detail}; nothing was changed",
            "fix what the hook reports on the branch, then try again (git merge would refuse the same way)",
        ) from None


def signing_wanted(checkout: Path) -> bool:
    value = git.run(checkout, "config", "--type=bool", "--get", "commit.gpgsign", ok=(0, 1)).stdout.strip()
    return value == "true"


def policy_commit(
    checkout: Path, tree: str, parents: Sequence[str], message: str, what: str,
    env: Mapping[str, str] | None = None,
) -> str:
    """The merge commit of tree with parents, after the repository's hooks accepted it, signed
    when commit.gpgsign asks for it. Nothing is moved: the caller fast-forwards to the result."""
    git_dir = _git_dir(checkout)
    scratch = f"coord-{uuid.uuid4().hex}"
    index = git_dir / f"{scratch}.index"
    msg_file = git_dir / f"{scratch}.MSG"
    try:
        hook_env = dict(env or {})
        git.run(checkout, "read-tree", tree, env={**hook_env, "GIT_INDEX_FILE": str(index)})
        _hook(checkout, "pre-merge-commit", [], {**hook_env, "GIT_INDEX_FILE": str(index), "GIT_EDITOR": ":"}, what)
        msg_file.write_text(message + "\n")
        _hook(checkout, "prepare-commit-msg", [str(msg_file), "merge"], hook_env, what)
        _hook(checkout, "commit-msg", [str(msg_file)], hook_env, what)
        final = git.run(checkout, "stripspace", stdin=msg_file.read_text(errors="surrogateescape")).stdout
        if not final.strip():
            raise CoordError(f"the commit message of {what} is empty after the repository's hooks; nothing was changed",
                             "check the prepare-commit-msg and commit-msg hooks")
        sign = signing_wanted(checkout)
        try:
            return git.commit_tree(checkout, tree, parents, final.rstrip("\n"), env=env, sign=sign or None)
        except GitError as exc:
            if not sign:
                raise
            raise CoordError(
                f"commit.gpgsign is set but the merge commit of {what} could not be signed: "
                f"{exc.message.split(' failed: ', 1)[-1]}; nothing was changed",
                "fix the signing setup (user.signingkey, gpg.format, the agent holding the key), then try again",
            ) from None
    finally:
        for scratch_file in (index, msg_file):
            with contextlib.suppress(OSError):
                scratch_file.unlink()

