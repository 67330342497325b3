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
- merge.verifySignatures: the incoming tip must carry a good signature (require_signed).
A hook that exits non-zero, or a signature git cannot make, refuses the merge with the reason,
before any ref or file moves. post-merge needs nothing here: the fast-forward that follows
(`git merge --ff-only`) runs it, as git merge does. Hooks are found the way git finds them
(core.hooksPath included) through `git hook run`.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path

from coord import git
from coord.errors import CoordError, GitError

HOOKS = ("pre-merge-commit", "prepare-commit-msg", "commit-msg")


def _locate(checkout: Path) -> tuple[Path, set[str]]:
    """The checkout's git dir, and which merge hooks exist (found as git finds them: core.hooksPath
    included; one git call, so a repository without hooks pays no more)."""
    git_dir, hooks = git.out(checkout, "rev-parse", "--absolute-git-dir", "--git-path", "hooks").splitlines()[:2]
    folder = checkout / hooks  # relative: to the checkout's top, where git runs hooks
    present = {name for name in HOOKS if (folder / name).is_file() and os.access(folder / name, os.X_OK)}
    return Path(git_dir), present


def _hook(checkout: Path, name: str, args: Sequence[str], env: Mapping[str, str] | None, what: str) -> None:
    try:
        git.run(checkout, "hook", "run", "--ignore-missing", name, "--", *args, env=env)
    except GitError as exc:
        detail = exc.message.split(" failed: ", 1)[-1]
        raise CoordError(
            f"the repository's {name} hook refused {what}: {detail}; nothing was changed",
            "fix what the hook reports on the branch, then try again (git merge would refuse the same way)",
        ) from None


def require_signed(checkout: Path, tip: str, what: str) -> bool:
    """merge.verifySignatures, as git merge checks it: the incoming tip must carry a good
    signature, else the merge is refused with git's reason. Returns whether the setting is on."""
    value = git.run(checkout, "config", "--type=bool", "--get", "merge.verifySignatures", ok=(0, 1)).stdout.strip()
    if value != "true":
        return False
    checked = git.run(checkout, "verify-commit", tip, ok=(0, 1, 128))
    if checked.code != 0:
        lines = [ln.strip() for ln in (checked.stderr or checked.stdout).splitlines() if ln.strip()]
        raise CoordError(
            f"merge.verifySignatures is set and {tip[:8]} (the tip of {what}) has no good signature"
            f"{': ' + lines[-1] if lines else ''}; nothing was changed",
            "sign the branch's commits (or unset merge.verifySignatures), then try again",
        )
    return True


def signing_wanted(checkout: Path) -> bool:
    value = git.run(checkout, "config", "--type=bool", "--get", "commit.gpgsign", ok=(0, 1)).stdout.strip()
    return value == "true"


def policy_commit(
    checkout: Path, tree: str, parents: Sequence[str], message: str, what: str,
    env: Mapping[str, str] | None = None,
) -> str:
    """The merge commit of tree with parents, after the repository's hooks accepted it, signed
    when commit.gpgsign asks for it. Nothing is moved: the caller fast-forwards to the result."""
    git_dir, present = _locate(checkout)
    scratch = f"coord-{uuid.uuid4().hex}"
    index = git_dir / f"{scratch}.index"
    msg_file = git_dir / f"{scratch}.MSG"
    try:
        hook_env = dict(env or {})
        final = message
        if "pre-merge-commit" in present:
            git.run(checkout, "read-tree", tree, env={**hook_env, "GIT_INDEX_FILE": str(index)})
            _hook(checkout, "pre-merge-commit", [], {**hook_env, "GIT_INDEX_FILE": str(index), "GIT_EDITOR": ":"},
                  what)
        if present & {"prepare-commit-msg", "commit-msg"}:
            msg_file.write_text(message + "\n")
            if "prepare-commit-msg" in present:
                _hook(checkout, "prepare-commit-msg", [str(msg_file), "merge"], hook_env, what)
            if "commit-msg" in present:
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

