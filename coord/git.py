"""Every git call coord makes: one runner (`run`), argument lists, never a shell string.

Why a module of its own: one place decides how git is started (no pager, no terminal, no
inherited GIT_DIR from a calling hook, a timeout), and one place turns git's failures into
GitError (exit 7) carrying git's own words.

Why subprocess and not `sh` (which the design card named): git runs from the MCP server's worker
threads (the conflict radar, the tools) as well as from the command line. sh runs Python code
between fork and exec and its own docs warn against it in threaded programs (a lock held by
another thread at fork time deadlocks the child); subprocess forks and execs in C (posix_spawn /
_posixsubprocess), which is safe there. sh also cost ~88 ms to import on every command, and
its conveniences (baking, streaming) are not needed for "run git, capture, check the code".
subprocess is imported inside `run`, so importing this module stays cheap.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from coord.errors import GitError

# Variables that would point git at another repository or index than the one we name:
# coord can be run from inside a git hook, where git exports them.
_LOCATING_VARS = ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_COMMON_DIR", "GIT_PREFIX",
                  "GIT_OBJECT_DIRECTORY", "GIT_NAMESPACE")

ZERO_OID = "0" * 40


@dataclass(frozen=True)
class GitResult:
    """What one git run returned (text already decoded)."""

    code: int
    stdout: str
    stderr: str


@dataclass(frozen=True)
class MergeTreeResult:
    """A merge computed by `git merge-tree --write-tree` without touching any checkout."""

    clean: bool
    tree: str | None
    conflicted_files: tuple[str, ...]


@dataclass(frozen=True)
class WorktreeEntry:
    """One record of `git worktree list --porcelain`."""

    path: Path
    head: str | None
    branch: str | None  # short name (without refs/heads/), None when detached or bare
    bare: bool = False
    detached: bool = False
    locked: bool = False
    lock_reason: str | None = None
    prunable: bool = False


def _env(extra: Mapping[str, str] | None, keep_git_env: bool = False) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if keep_git_env or k not in _LOCATING_VARS}
    env["GIT_TERMINAL_PROMPT"] = "0"
    if extra:
        env.update(extra)
    return env


def _first_line(text: str) -> str:
    """git's most telling stderr line: prefer a `fatal:`/`error:` line, else the first one."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    for ln in lines:
        if ln.startswith(("fatal:", "error:")):
            return ln
    return lines[0] if lines else "(no message)"


GIT_TIMEOUT = 600.0  # seconds; a git command that hangs this long (a stuck lock, a dead NFS mount) is an error


def run(
    repo: Path,
    *args: str,
    ok: Sequence[int] = (0,),
    env: Mapping[str, str] | None = None,
    stdin: str | None = None,
    timeout: float = GIT_TIMEOUT,
    keep_git_env: bool = False,
    errors: str = "replace",
) -> GitResult:
    """Run `git --no-pager ARGS` in repo: an argument list (never a shell), no terminal (stdin
    is the given text or /dev/null; stdout and stderr are captured), git's locating variables
    dropped unless keep_git_env (a git hook that must see git's own index), env added on top.
    Exit codes outside `ok` raise GitError with git's telling line; a missing git raises
    EnvironmentProblemError. errors: how undecodable bytes in the output are decoded
    ("surrogateescape" keeps odd file names exact for passing back to git)."""
    if any("\0" in a for a in args):
        from coord.errors import InvalidInputError

        shown = next(a for a in args if "\0" in a)
        # An argv entry cannot hold NUL (exec refuses it): refuse the input with its origin instead.
        raise InvalidInputError(f"{shown[:60]!r} contains a NUL character", "remove it (coord.toml, --base or --ref)")
    import subprocess

    command = args[0] if args else ""
    try:
        proc = subprocess.run(
            ["git", "--no-pager", *args], cwd=repo, env=_env(env, keep_git_env), capture_output=True,
            input=stdin.encode("utf-8", "surrogateescape") if stdin is not None else None,
            stdin=subprocess.DEVNULL if stdin is None else None, timeout=timeout, check=False,
        )
    except FileNotFoundError:
        from coord.errors import EnvironmentProblemError

        if not Path(repo).is_dir():
            raise GitError(f"git {command} failed: {repo} is not a directory") from None
        raise EnvironmentProblemError("git is not installed or not on PATH", "install git 2.38 or newer") from None
    except subprocess.TimeoutExpired:
        raise GitError(f"git {command} took longer than {timeout:.0f}s") from None
    stderr = proc.stderr.decode("utf-8", "replace")
    if proc.returncode not in ok:
        raise GitError(f"git {command} failed: {_first_line(stderr)}")
    return GitResult(code=proc.returncode, stdout=proc.stdout.decode("utf-8", errors), stderr=stderr)


def out(repo: Path, *args: str, env: Mapping[str, str] | None = None) -> str:
    """stdout of a git command that must succeed, without its trailing newline."""
    return run(repo, *args, env=env).stdout.rstrip("\n")


# --- refs and commits -------------------------------------------------------------------


def rev_parse(repo: Path, ref: str) -> str | None:
    """The commit a ref names, or None when it names no commit. Refs starting with '-' name none."""
    if not ref or ref.startswith("-"):
        return None
    result = run(repo, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}", ok=(0, 1, 128))
    sha = result.stdout.strip()
    return sha if result.code == 0 and sha else None


def current_branch(repo: Path) -> str | None:
    """The short name of the branch checked out in repo, None when HEAD is detached."""
    result = run(repo, "symbolic-ref", "--quiet", "--short", "HEAD", ok=(0, 1, 128))
    name = result.stdout.strip()
    return name if result.code == 0 and name else None


def branch_exists(repo: Path, branch: str) -> bool:
    result = run(repo, "show-ref", "--verify", "--quiet", f"refs/heads/{branch}", ok=(0, 1))
    return result.code == 0


def ref_exists(repo: Path, ref: str) -> bool:
    return run(repo, "show-ref", "--verify", "--quiet", ref, ok=(0, 1)).code == 0


def is_ancestor(repo: Path, ancestor: str, descendant: str) -> bool:
    """True when ancestor is reachable from descendant (equal counts)."""
    return run(repo, "merge-base", "--is-ancestor", ancestor, descendant, ok=(0, 1)).code == 0


def ahead_behind(repo: Path, a: str, b: str) -> tuple[int, int]:
    """(commits in a not in b, commits in b not in a)."""
    text = out(repo, "rev-list", "--left-right", "--count", f"{a}...{b}")
    left, right = text.split()
    return int(left), int(right)


def list_refs(repo: Path, prefix: str) -> list[tuple[str, str]]:
    """(refname, commit) under prefix, newest refname last (sorted by name)."""
    text = out(repo, "for-each-ref", "--sort=refname", "--format=%(refname) %(objectname)", prefix)
    pairs = []
    for line in text.splitlines():
        name, _, sha = line.partition(" ")
        if name:
            pairs.append((name, sha))
    return pairs


def update_ref(repo: Path, ref: str, new: str, old: str | None = None, message: str = "coord") -> None:
    """Point ref at new; with old given the update is atomic compare-and-swap (ZERO_OID: create only)."""
    args = ["update-ref", "-m", message, ref, new]
    if old is not None:
        args.append(old)
    run(repo, *args)


def delete_branch(repo: Path, branch: str, force: bool = False) -> None:
    run(repo, "branch", "-D" if force else "-d", "--", branch)


def create_branch(repo: Path, branch: str, start: str) -> None:
    run(repo, "branch", "--no-track", "--", branch, start)


def commit_tree(
    repo: Path, tree: str, parents: Sequence[str], message: str, env: Mapping[str, str] | None = None,
    sign: bool | None = None,
) -> str:
    """A commit object (no ref moves). sign: None follows commit.gpgsign as git does, False never
    signs (coord's own backups), True always signs."""
    args = ["commit-tree", tree]
    if sign is not None:
        args.append("-S" if sign else "--no-gpg-sign")
    for parent in parents:
        args += ["-p", parent]
    args += ["-m", message]
    return out(repo, *args, env=env)


def tree_of(repo: Path, commit: str) -> str:
    return out(repo, "rev-parse", "--verify", f"{commit}^{{tree}}")


def commit_parents(repo: Path, commit: str) -> list[str]:
    text = out(repo, "rev-list", "--parents", "-n", "1", commit)
    return text.split()[1:]


def merge_tree(repo: Path, a: str, b: str) -> MergeTreeResult:
    """Merge a and b in memory (git 2.38+): no index, no work tree, no MERGE_HEAD is touched."""
    result = run(repo, "merge-tree", "--write-tree", "--name-only", "--no-messages", "-z", a, b, ok=(0, 1))
    return parse_merge_tree(result.stdout, result.code)


def parse_merge_tree(stdout: str, code: int) -> MergeTreeResult:
    """Read `merge-tree --write-tree --name-only --no-messages -z` output: tree NUL files NUL..."""
    parts = stdout.split("\0")
    tree = parts[0].strip() or None
    files: list[str] = []
    for name in parts[1:]:
        if name and name not in files:
            files.append(name)
    clean = code == 0
    return MergeTreeResult(clean=clean, tree=tree, conflicted_files=() if clean else tuple(files))


def merge_ff_only(repo: Path, commit: str, verify_signatures: bool | None = None) -> None:
    """Advance the checked-out branch to commit; git refuses (and changes nothing) unless it is a
    fast-forward that overwrites no local change. verify_signatures False: coord already checked
    the incoming tip and is moving to its own merge commit."""
    extra = [] if verify_signatures is None else [f"--{'' if verify_signatures else 'no-'}verify-signatures"]
    run(repo, "merge", "--ff-only", "--no-edit", "--quiet", *extra, commit)


# --- working tree state -----------------------------------------------------------------


def status_lines(repo: Path, untracked: bool = True) -> list[str]:
    """`git status --porcelain` lines: tracked changes, and untracked non-ignored files if asked."""
    args = ["status", "--porcelain=v1", "-z", "--ignore-submodules=none"]
    args.append("--untracked-files=all" if untracked else "--untracked-files=no")
    text = run(repo, *args).stdout
    entries: list[str] = []
    parts = text.split("\0")
    i = 0
    while i < len(parts):
        item = parts[i]
        if not item:
            i += 1
            continue
        entries.append(item)
        # renames and copies carry their source path as the next NUL-separated field
        i += 2 if item[:1] in ("R", "C") or item[1:2] in ("R", "C") else 1
    return entries


def is_dirty(repo: Path, untracked: bool = True) -> bool:
    """Uncommitted changes (and, unless untracked=False, untracked files that are not ignored)."""
    return bool(status_lines(repo, untracked=untracked))


def untracked_ignored(repo: Path, exclude_from: Path | None = None) -> list[str]:
    """Untracked ignored files: by the standard ignore rules, or by the patterns of exclude_from."""
    args = ["ls-files", "-z", "--others", "--ignored"]
    args.append(f"--exclude-from={exclude_from}" if exclude_from else "--exclude-standard")
    return [p for p in run(repo, *args).stdout.split("\0") if p]


def snapshot_tree(worktree: Path, index_file: Path) -> str:
    """The tree of everything in a checkout (tracked changes + untracked non-ignored files),
    written through a throwaway index so the checkout's own index is left as it was."""
    env = {"GIT_INDEX_FILE": str(index_file)}
    run(worktree, "read-tree", "HEAD", env=env)
    run(worktree, "add", "-A", "--", ".", env=env)
    return out(worktree, "write-tree", env=env)


# --- config -----------------------------------------------------------------------------


def config_get(repo: Path, key: str, scope: str | None = None) -> str | None:
    """A config value (scope: None for the effective value, or 'worktree', 'local', 'global')."""
    args = ["config"]
    if scope:
        args.append(f"--{scope}")
    args += ["--get", key]
    result = run(repo, *args, ok=(0, 1))
    return result.stdout.rstrip("\n") if result.code == 0 else None


def config_set(repo: Path, key: str, value: str, scope: str | None = None) -> None:
    args = ["config"]
    if scope:
        args.append(f"--{scope}")
    args += [key, value]
    run(repo, *args)


# --- worktrees --------------------------------------------------------------------------


def parse_worktree_list(text: str) -> list[WorktreeEntry]:
    """Parse `git worktree list --porcelain -z`: records separated by an empty field."""
    entries: list[WorktreeEntry] = []
    record: dict[str, str | None] = {}

    def flush() -> None:
        if "worktree" in record:
            branch = record.get("branch")
            if branch and branch.startswith("refs/heads/"):
                branch = branch[len("refs/heads/") :]
            entries.append(
                WorktreeEntry(
                    path=Path(str(record["worktree"])),
                    head=record.get("HEAD"),
                    branch=branch,
                    bare="bare" in record,
                    detached="detached" in record,
                    locked="locked" in record,
                    lock_reason=record.get("locked") or None,
                    prunable="prunable" in record,
                )
            )
        record.clear()

    for field in text.split("\0"):
        if not field:
            flush()
            continue
        key, _, value = field.partition(" ")
        record[key] = value if value else None
    flush()
    return entries


def worktree_list(repo: Path) -> list[WorktreeEntry]:
    return parse_worktree_list(run(repo, "worktree", "list", "--porcelain", "-z").stdout)


def worktree_add(repo: Path, path: Path, branch: str, start: str | None = None) -> None:
    """Check branch out at path; with start, create the branch there first (never resets one)."""
    if start is None:
        run(repo, "worktree", "add", "--quiet", "--", str(path), branch)
    else:
        run(repo, "worktree", "add", "--quiet", "--no-track", "-b", branch, "--", str(path), start)


def worktree_remove(repo: Path, path: Path, force: bool = False) -> None:
    """git refuses a dirty worktree without force, and a locked one always (single --force)."""
    args = ["worktree", "remove"]
    if force:
        args.append("--force")
    run(repo, *args, "--", str(path))


def worktree_prune(repo: Path) -> None:
    """Forget worktrees whose folder is gone (git skips locked ones)."""
    run(repo, "worktree", "prune")
