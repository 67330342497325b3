"""What a backup holds beyond tracked and untracked files, and how restore brings it back.

A teardown --abandon must save everything an agent has, or refuse naming what it cannot save:
- the checkout's files through a copy of its own index (`git add -A --sparse`): sparse checkouts
  keep their skip-worktree entries as committed instead of failing (exit 7) or recording
  deletions; files present outside the sparse definition are saved too;
- nested git repositories (a vendored checkout with its own `.git`, a submodule whose repository
  lives in this worktree's git dir, a checkout linked to a repository elsewhere): each gets a snapshot
  commit in its own object store (its HEAD and every ref tip as parents, its uncommitted and
  untracked files as the tree), pushed into this repository and kept reachable as an extra
  parent of the backup commit; its HEAD, refs and config travel in the backup's metadata;
- an operation in progress (rebase, am, merge, cherry-pick, revert, bisect): the commits it
  names (ORIG_HEAD, MERGE_HEAD, onto, ...) are kept reachable, and restore puts the branch back
  at its own tip (a rebase moves the branch only at its end), not at a half-rebased HEAD;
- ignored files the agent created or changed (not the copies setup made, identical to the main
  checkout's): saved by whole top-level group (`.env`, `build/`), smallest first, up to
  IGNORED_MAX_FILES / IGNORED_MAX_BYTES; the groups left out (`node_modules/`, `.venv/`) are named.
The metadata is one JSON line at the end of the backup commit's message (META_PREFIX), so a
backup stays one ref that `git log` can read.
"""

from __future__ import annotations

import contextlib
import filecmp
import json
import os
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from coord import git
from coord.errors import DirtyStateError

META_PREFIX = "coord-backup: "
IGNORED_MAX_FILES = 10_000
IGNORED_MAX_BYTES = 100 * 1024 * 1024
NESTED_MAX_DEPTH = 4
TMP_REF = "refs/coord/tmp"

# marker in the git dir -> the operation in progress
OPERATIONS = (
    ("rebase-merge", "rebase"), ("rebase-apply/applying", "am"), ("rebase-apply", "rebase"),
    ("MERGE_HEAD", "merge"), ("CHERRY_PICK_HEAD", "cherry-pick"), ("REVERT_HEAD", "revert"),
    ("BISECT_LOG", "bisect"),
)
# files in the git dir naming commits an operation still needs
KEPT_HEADS = (
    "MERGE_HEAD", "CHERRY_PICK_HEAD", "REVERT_HEAD", "ORIG_HEAD", "REBASE_HEAD", "rebase-merge/orig-head",
    "rebase-merge/onto", "rebase-apply/orig-head", "rebase-apply/onto",
)


@dataclass
class Capture:
    """One checkout captured: the tree, commits to keep reachable, metadata, what was left out."""

    tree: str
    keep: list[str] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)
    unsaved: list[str] = field(default_factory=list)  # ignored groups over the limit, described (named, not saved)
    saved_ignored: int = 0


def git_dir_of(checkout: Path) -> Path:
    return Path(git.out(checkout, "rev-parse", "--absolute-git-dir"))


def operation_in(git_dir: Path) -> str | None:
    return next((name for marker, name in OPERATIONS if (git_dir / marker).exists()), None)


def _heads_kept(checkout: Path, git_dir: Path) -> list[str]:
    found = []
    for name in KEPT_HEADS:
        try:
            text = (git_dir / name).read_text().split()
        except OSError:
            continue
        for sha in text[:1] if name != "MERGE_HEAD" else text:  # MERGE_HEAD: one line per merged head
            if git.rev_parse(checkout, sha) is not None:
                found.append(sha)
    return found


def nested_repos(checkout: Path) -> list[str]:
    """Folders inside the checkout that are git repositories of their own (untracked or ignored;
    git lists them as `dir/`), repository-relative without the slash."""
    # no exclude rules: untracked and ignored alike; git stops at a nested repository (`dir/`)
    text = git.run(checkout, "ls-files", "-z", "--others", "--directory", "--no-empty-directory",
                   errors="surrogateescape").stdout
    found = set()
    for entry in text.split("\0"):
        if entry.endswith("/") and os.path.lexists(checkout / entry / ".git"):
            found.add(entry.rstrip("/"))
        elif entry.endswith("/"):
            # an untracked or ignored folder may hold repositories deeper down
            found.update(_repos_below(checkout, entry.rstrip("/")))
    return sorted(found)


def submodules(checkout: Path) -> list[str]:
    """Tracked gitlinks whose folder holds a checkout (an initialized submodule): its repository
    often lives in this worktree's own git dir (modules/), which the removal deletes."""
    text = git.run(checkout, "ls-files", "-s", "-z", errors="surrogateescape").stdout
    found = []
    for entry in text.split("\0"):
        info, _, rel = entry.partition("\t")
        if info.startswith("160000 ") and rel and os.path.lexists(checkout / rel / ".git"):
            found.append(rel)
    return sorted(set(found))


def _repos_below(checkout: Path, rel: str) -> list[str]:
    found = []
    for top, dirs, _files in os.walk(checkout / rel):
        if ".git" in dirs or os.path.isfile(os.path.join(top, ".git")):
            found.append(os.path.relpath(top, checkout))
            dirs[:] = []
    return found


def _own_ignored(checkout: Path, main_root: Path | None, nested: list[str]) -> list[str]:
    """Ignored files (not folders of nested repositories), less copies identical to the main checkout's."""
    text = git.run(checkout, "ls-files", "-z", "--others", "--ignored", "--exclude-standard",
                   errors="surrogateescape").stdout
    inside = tuple(f"{n}/" for n in nested)
    files = []
    for rel in text.split("\0"):
        if not rel or rel.endswith("/") or rel.startswith(inside):
            continue
        if main_root is not None:
            theirs = main_root / rel
            try:
                if theirs.is_file() and not theirs.is_symlink() and filecmp.cmp(theirs, checkout / rel, shallow=False):
                    continue  # a copy made at setup (.worktreeinclude), unchanged: not the agent's work
            except OSError:
                pass
        files.append(rel)
    return sorted(files)


def own_ignored_or_nested(checkout: Path, main_root: Path) -> bool:
    """Would removing this checkout delete ignored files of the agent's or a nested repository?"""
    nested = nested_repos(checkout)
    return bool(nested) or bool(_own_ignored(checkout, main_root, nested))


def choose_ignored(sizes: dict[str, int], max_files: int, max_bytes: int) -> tuple[list[str], list[str]]:
    """Which ignored files a backup holds: whole top-level groups (`.env`, `build/`, `.venv/`: half
    a dependency folder is of no use), the smallest groups first, within the limits. Returns the
    files to save and one description per group left out, to name to the user."""
    groups: dict[str, list[str]] = {}
    for rel in sorted(sizes):
        head, sep, _ = rel.partition("/")
        groups.setdefault(head + sep, []).append(rel)
    ranked = sorted(groups, key=lambda g: (sum(sizes[r] for r in groups[g]), len(groups[g]), g))
    saved: list[str] = []
    left: list[str] = []
    total = 0
    for group in ranked:
        files = groups[group]
        size = sum(sizes[r] for r in files)
        if len(saved) + len(files) <= max_files and total + size <= max_bytes:
            saved += files
            total += size
        else:
            left.append(f"{group} ({len(files):,} file{'' if len(files) == 1 else 's'}, {size / 1e6:.1f} MB)")
    return sorted(saved), sorted(left)


def _budget(checkout: Path, files: list[str]) -> tuple[list[str], list[str]]:
    sizes = {}
    top = str(checkout)
    for rel in files:
        try:
            sizes[rel] = os.lstat(os.path.join(top, rel)).st_size
        except OSError:
            continue
    return choose_ignored(sizes, IGNORED_MAX_FILES, IGNORED_MAX_BYTES)


def capture(checkout: Path, scratch: Path, main_root: Path | None = None, depth: int = 0) -> Capture:
    """The tree of everything in checkout and what keeps it whole (see the module doc). The
    checkout and its index are left as they were. Refuses (exit 4, nothing changed) what it cannot save."""
    git_dir = git_dir_of(checkout)
    index = scratch / f"index-{uuid.uuid4().hex}"
    if (git_dir / "index").exists():
        shutil.copyfile(git_dir / "index", index)
    head = git.rev_parse(checkout, "HEAD")
    env = {"GIT_INDEX_FILE": str(index)}
    if head is not None and not index.exists():
        git.run(checkout, "read-tree", "HEAD", env=env)
    untracked_nested = nested_repos(checkout)
    nested = sorted(set(untracked_nested) | set(submodules(checkout)))
    for rel in nested:
        if git.run(checkout / rel, "rev-parse", "--absolute-git-dir", ok=(0, 128)).code != 0:
            raise DirtyStateError(
                f"{checkout / rel} has a .git that git cannot open (a broken link to its repository?); "
                "a backup cannot hold it; nothing was changed",
                "repair it or move it out of the worktree, then tear down again",
            )
    if nested and depth >= NESTED_MAX_DEPTH:
        raise DirtyStateError(
            f"git repositories nested more than {NESTED_MAX_DEPTH} deep under {checkout}; nothing was changed",
            "move them out of the worktree, then tear down again",
        )
    ignored_nested = set()
    if untracked_nested:  # excluding an ignored path is an error to git add ("paths are ignored")
        listed = git.run(checkout, "check-ignore", "-z", "--stdin", stdin="\0".join(untracked_nested),
                         ok=(0, 1)).stdout
        ignored_nested = set(listed.split("\0"))
    # untracked nested repositories stay out of the tree (no gitlink to a commit the tree cannot
    # hold); a submodule's gitlink is recorded at its current HEAD, as git add records it
    excludes = [f":(exclude,literal){rel}" for rel in untracked_nested if rel not in ignored_nested]
    git.run(checkout, "add", "-A", "--sparse", "--", ".", *excludes, env=env)
    result = Capture(tree="")
    ignored = _own_ignored(checkout, main_root, nested)
    saved, result.unsaved = _budget(checkout, ignored)
    if saved:
        git.run(checkout, "add", "-f", "--sparse", "--pathspec-from-file=-", "--pathspec-file-nul",
                env={**env, "GIT_LITERAL_PATHSPECS": "1"}, stdin="\0".join(saved))
    result.saved_ignored = len(saved)
    result.tree = git.out(checkout, "write-tree", env=env)
    index.unlink(missing_ok=True)
    operation = operation_in(git_dir)
    if operation:
        result.meta["operation"] = operation
        result.keep += _heads_kept(checkout, git_dir)
    sparse = git.config_get(checkout, "core.sparseCheckout")
    if sparse == "true" and (git_dir / "info" / "sparse-checkout").is_file():
        result.meta["sparse"] = (git_dir / "info" / "sparse-checkout").read_text(errors="replace").splitlines()
        result.meta["sparse_cone"] = git.config_get(checkout, "core.sparseCheckoutCone") == "true"
    records = []
    for rel in nested:
        record, unsaved = _capture_nested(checkout / rel, scratch, depth + 1)
        record["path"] = rel
        records.append(record)
        result.keep.append(record["commit"])
        result.unsaved += [f"{rel}/{u}" for u in unsaved]
    if records:
        result.meta["nested"] = records
    result.keep = list(dict.fromkeys(result.keep))
    return result


def _capture_nested(repo: Path, scratch: Path, depth: int) -> tuple[dict[str, Any], list[str]]:
    """A snapshot commit inside the nested repository (its HEAD and every ref as parents), pushed
    into the outer repository under a temporary ref (dropped once the backup commit holds it)."""
    inner = capture(repo, scratch, None, depth)
    pushed = import_nested(repo, repo, inner.meta)  # its own nested snapshots, into its object store
    head = git.rev_parse(repo, "HEAD")
    head_ref = git.run(repo, "symbolic-ref", "--quiet", "HEAD", ok=(0, 1)).stdout.strip() or None
    refs: dict[str, str] = {}
    for line in git.out(repo, "for-each-ref", "--format=%(refname) %(objectname) %(*objectname)").splitlines():
        name, sha, peeled = [*line.split(), ""][:3]
        refs[name] = peeled or sha
    parents = list(dict.fromkeys([p for p in [head, *refs.values(), *inner.keep] if p]))
    parents = [p for p in parents if git.run(repo, "cat-file", "-t", p, ok=(0, 1, 128)).stdout.strip() == "commit"]
    commit = git.commit_tree(repo, inner.tree, parents, "coord backup of a nested repository", env=_identity(),
                             sign=False)
    drop_refs(repo, pushed)
    record: dict[str, Any] = {"commit": commit, "head": head, "head_ref": head_ref, "refs": refs, **inner.meta}
    if (repo / ".git").is_dir():
        with contextlib.suppress(OSError):
            record["config"] = (repo / ".git" / "config").read_text(errors="replace")
    else:  # its config may say where its work tree is (core.worktree): keep only remotes and branches
        text = git.run(repo, "config", "--local", "-z", "--get-regexp", r"^(remote|branch)\.", ok=(0, 1)).stdout
        record["settings"] = [item.split("\n", 1) for item in text.split("\0") if "\n" in item]
    return record, inner.unsaved


def _identity() -> dict[str, str]:
    return {"GIT_AUTHOR_NAME": "coord", "GIT_AUTHOR_EMAIL": "coord@coord.invalid",
            "GIT_COMMITTER_NAME": "coord", "GIT_COMMITTER_EMAIL": "coord@coord.invalid"}


def import_nested(main: Path, checkout: Path, meta: dict[str, Any]) -> list[str]:
    """Copy every nested snapshot's objects into main under temporary refs; returns the refs
    (drop them once the backup commit, which lists the snapshots as parents, exists)."""
    made = []
    for record in meta.get("nested", []):
        ref = f"{TMP_REF}/{uuid.uuid4().hex}"
        git.run(checkout / record["path"], "push", "--quiet", "--no-verify", str(git_dir_of(main)),
                f"{record['commit']}:{ref}")
        made.append(ref)
    return made


def drop_refs(main: Path, refs: list[str]) -> None:
    for ref in refs:
        git.run(main, "update-ref", "-d", ref, ok=(0, 1))


def with_meta(message: str, meta: dict[str, Any]) -> str:
    return f"{message}\n\n{META_PREFIX}{json.dumps(meta, sort_keys=True)}" if meta else message


def meta_of(main: Path, commit: str) -> dict[str, Any]:
    return parse_meta(git.out(main, "log", "-1", "--format=%B", commit))


def parse_meta(body: str) -> dict[str, Any]:
    """The metadata line of a backup commit's message ({} for an older backup, or a damaged line)."""
    for line in reversed(body.splitlines()):
        if line.startswith(META_PREFIX):
            try:
                data = json.loads(line[len(META_PREFIX):])
            except ValueError:
                return {}
            return data if isinstance(data, dict) else {}
    return {}


def restore_nested(main: Path, checkout: Path, records: list[dict[str, Any]]) -> list[str]:
    """Bring each nested repository back: its objects, refs, HEAD and config, and its saved
    uncommitted and untracked files as uncommitted changes. Returns notes for the user."""
    notes = []
    for record in records:
        repo = checkout / record["path"]
        if repo.exists() and any(repo.iterdir()):
            notes.append(f"not restored: nested repository {record['path']} (the folder is not empty)")
            continue
        repo.mkdir(parents=True, exist_ok=True)
        git.run(repo, "init", "--quiet")
        if "config" in record:
            (repo / ".git" / "config").write_text(record["config"])
        for key, value in record.get("settings", []):
            git.run(repo, "config", "--add", key, value)
        temp = "refs/coord/restored"
        git.run(main, "push", "--quiet", "--no-verify", str(repo / ".git"), f"{record['commit']}:{temp}")
        for name, sha in record.get("refs", {}).items():
            if git.run(repo, "cat-file", "-e", sha, ok=(0, 1, 128)).code == 0:
                git.run(repo, "update-ref", name, sha)
        head, head_ref = record.get("head"), record.get("head_ref")
        if head_ref:
            git.run(repo, "symbolic-ref", "HEAD", head_ref)
        elif head:
            git.run(repo, "update-ref", "--no-deref", "HEAD", head)
        # the snapshot's files onto disk, then the index back to HEAD: saved work shows as uncommitted
        git.run(repo, "read-tree", "-u", "--reset", record["commit"])
        if head:
            git.run(repo, "read-tree", "HEAD")
        else:
            git.run(repo, "read-tree", "--empty")
        git.run(repo, "update-ref", "-d", temp)
        notes += restore_nested(main, repo, record.get("nested", []))
    return notes


def restore_sparse(checkout: Path, patterns: list[str], cone: bool) -> str:
    """Narrow a restored worktree to its saved sparse definition again (the same patterns file and
    settings, then `git sparse-checkout reapply`: files with changes stay on disk). Returns a note."""
    git_dir = git_dir_of(checkout)
    (git_dir / "info").mkdir(exist_ok=True)
    (git_dir / "info" / "sparse-checkout").write_text("".join(f"{p}\n" for p in patterns))
    git.run(checkout, "config", "--worktree", "core.sparseCheckout", "true")
    git.run(checkout, "config", "--worktree", "core.sparseCheckoutCone", "true" if cone else "false")
    git.run(checkout, "sparse-checkout", "reapply")
    return "it is a sparse checkout again, with its saved definition (git sparse-checkout list)"
