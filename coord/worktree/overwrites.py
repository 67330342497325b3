"""Which files a checkout update would destroy: asked before `agent.merge` (main checkout) and
`agent.sync` (agent worktree) move anything, so a refusal changes nothing.

git's own fast-forward refuses to overwrite untracked files, but overwrites ignored ones silently
(they are "expendable" to git: a user's .env, a local database, a build the user still needs),
deletes untracked files inside a folder that becomes a file, and trusts assume-unchanged /
skip-worktree bits over the disk. coord names every such path and refuses (exit 4) instead:
- a path the update adds that exists on disk untracked or ignored (a file, a symlink, or a
  folder holding untracked or ignored files);
- a path the update adds beneath something on disk that is an untracked or ignored file;
- a tracked path the update changes or deletes whose index entry hides local edits
  (assume-unchanged or skip-worktree) and whose file on disk differs from the commit.
Tracked changes git can see are refused earlier by the callers (uncommitted changes, exit 4).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterable
from pathlib import Path

from coord import git
from coord.errors import DirtyStateError

SHOWN = 5


def parents_of(rel: str) -> list[str]:
    """a/b/c -> [a, a/b]: the folders an added path needs."""
    parts = rel.split("/")
    return ["/".join(parts[:i]) for i in range(1, len(parts))]


def blocked_by_added(
    added: Iterable[str], tracked: Callable[[str], bool], kind: Callable[[str], str | None],
    untracked_under: Callable[[str], list[str]],
) -> list[str]:
    """The pure rule for paths the update adds. kind(p): None (absent), "dir" or "file" (anything
    else on disk); tracked(p): p is in the current commit; untracked_under(p): untracked or
    ignored files inside folder p."""
    blocked: set[str] = set()
    for rel in added:
        what = kind(rel)
        if what == "file":
            blocked.add(rel)
        elif what == "dir":
            blocked.update(untracked_under(rel))
        for folder in parents_of(rel):
            if kind(folder) == "file" and not tracked(folder):
                blocked.add(folder)
    return sorted(blocked)


def _kinds(root: Path) -> Callable[[str], str | None]:
    """kind() for blocked_by_added: one lstat per path, folders asked once (os.path, not pathlib:
    a merge may add thousands of files)."""
    top = str(root)
    seen: dict[str, str | None] = {}

    def kind(rel: str) -> str | None:
        if rel not in seen:
            try:
                mode = os.lstat(os.path.join(top, rel)).st_mode
            except OSError:
                seen[rel] = None
            else:
                seen[rel] = "dir" if stat.S_ISDIR(mode) else "file"
        return seen[rel]

    return kind


def destroyed(checkout: Path, head: str, target: str) -> list[str]:
    """Paths in checkout that moving it from commit head to target (a commit or tree) would
    overwrite or delete although they are not committed; [] when the update is safe."""
    diff = git.run(checkout, "diff", "--name-status", "--no-renames", "-z", head, target,
                   errors="surrogateescape").stdout.split("\0")
    added: list[str] = []
    changed: list[str] = []
    for status, rel in zip(diff[0::2], diff[1::2], strict=False):
        if not rel:
            continue
        (added if status == "A" else changed).append(rel)
    in_head = set()
    kind = _kinds(checkout)
    # only folders need asking (an added path is by definition not in head), and only those that
    # exist on disk as something other than a folder
    folders = sorted({f for f in {f for rel in added for f in parents_of(rel)} if kind(f) == "file"})
    if folders:
        listed = git.run(checkout, "ls-tree", "-z", "--name-only", head, "--", *folders,
                         errors="surrogateescape").stdout
        in_head = {p for p in listed.split("\0") if p}

    def untracked_under(rel: str) -> list[str]:
        text = git.run(checkout, "ls-files", "-z", "--others", "--", f"{rel}/", errors="surrogateescape").stdout
        return [p for p in text.split("\0") if p]

    blocked = blocked_by_added(added, in_head.__contains__, kind, untracked_under)
    blocked += _hidden_edits(checkout, head, changed)
    return sorted(set(blocked))


def _hidden_edits(checkout: Path, head: str, changed: list[str]) -> list[str]:
    """Changed paths whose assume-unchanged / skip-worktree bit hides a local edit from git."""
    if not changed:
        return []
    text = git.run(checkout, "ls-files", "-v", "-z", "--", *changed, errors="surrogateescape").stdout
    hidden = [e[2:] for e in text.split("\0") if len(e) > 2 and (e[0].islower() or e[0] == "S")]
    hidden = [rel for rel in hidden if os.path.isfile(checkout / rel)]
    if not hidden:
        return []
    on_disk = git.run(checkout, "hash-object", "--stdin-paths", stdin="\n".join(hidden) + "\n").stdout.split()
    blocked = []
    for rel, sha in zip(hidden, on_disk, strict=False):
        committed = git.run(checkout, "rev-parse", "--verify", "--quiet", f"{head}:{rel}", ok=(0, 1, 128)).stdout
        if sha != committed.strip():
            blocked.append(rel)
    return blocked


def refuse_destroying(checkout: Path, head: str, target: str, what: str, where: str, again: str) -> None:
    """Raise DirtyStateError (exit 4) naming the files `what` would destroy in `where`; nothing changed."""
    blocked = destroyed(checkout, head, target)
    if blocked:
        shown = ", ".join(blocked[:SHOWN]) + (f" and {len(blocked) - SHOWN} more" if len(blocked) > SHOWN else "")
        raise DirtyStateError(
            f"{what} would overwrite or delete {len(blocked)} uncommitted (untracked, ignored or hidden) file(s) "
            f"in {where}: {shown}; nothing was changed",
            f"move them away or commit them, then {again}",
        )
