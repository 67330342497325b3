"""Agent worktrees: set up, list, merge, tear down and restore, without ever losing work.

Two layers in one module. The pure decisions (`worktree_path`, `agent_branch`,
`gitignore_with_entry`, `include_candidates`, `decide_teardown`, `format_table`, ...) take values and
return values, so the rules are unit-tested without git. The operations (`setup`, `list_agents`,
`merge`, `teardown`, `restore`) gather facts through coord.git, ask a decision, then act, checking
again right before every destructive step. Mutating operations hold one exclusive file lock per
repository, so parallel `coord agent.setup` runs (one per agent, started at once) do not race on
git's worktree list, the shared config or .gitignore.

coord.git imports `sh` only when a git command runs, so importing this module is cheap.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

from coord import git
from coord.config import Config
from coord.errors import (
    ConfirmationRequiredError,
    CoordError,
    DirtyStateError,
    InvalidInputError,
    MergeConflictError,
    NotFoundError,
    StoreUnavailableError,
)
from coord.identity import check_role_syntax, role_email, role_name, validate_role
from coord.repo import RepoPaths

BRANCH_TEMPLATE = "agent/{role}/active"
BACKUP_PREFIX = "refs/coord/backup"
INCLUDE_FILE = ".worktreeinclude"
LOCK_FILE = "setup.lock"
LOCK_TIMEOUT_SECONDS = 120.0
GITIGNORE = ".gitignore"

Warn = Callable[[str], None]
Confirm = Callable[[str], bool]


def _stderr_warn(line: str) -> None:
    print(f"coord: warning: {line}", file=sys.stderr)


# --- pure decisions -------------------------------------------------------------------------


def agent_branch(role: str) -> str:
    """The branch a role's worktree works on."""
    return BRANCH_TEMPLATE.format(role=check_role_syntax(role))


def worktree_path(paths: RepoPaths, config: Config, role: str) -> Path:
    """Where a role works: the main checkout for the main role, else <main_root>/<worktree_dir>/<role>."""
    check_role_syntax(role)
    if role == config.main_role:
        return paths.main_root
    return paths.main_root / config.worktree_dir / role


def backup_ref(role: str, stamp: str) -> str:
    return f"{BACKUP_PREFIX}/{check_role_syntax(role)}/{stamp}"


def backup_stamp(now: datetime) -> str:
    """UTC, sortable, legal in a ref name."""
    return now.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def restore_command(role: str, ref: str) -> str:
    """The one command that brings an abandoned worktree back (printed after --abandon)."""
    return f"coord agent.restore {role} --ref {ref}"


def gitignore_with_entry(text: str | None, worktree_dir: str) -> str | None:
    """The new .gitignore text with the worktree folder ignored, or None if a line already does it."""
    folder = worktree_dir.strip("/")
    equivalent = {f"/{folder}/", f"{folder}/", f"/{folder}", folder, f"/{folder}/*", f"{folder}/*"}
    current = text or ""
    if any(line.strip() in equivalent for line in current.splitlines()):
        return None
    if current and not current.endswith("\n"):
        current += "\n"
    return f"{current}/{folder}/\n"


def _safe_relative(rel: str) -> bool:
    pure = PurePosixPath(rel)
    return bool(rel) and not pure.is_absolute() and ".." not in pure.parts


def include_candidates(listed: Sequence[str], ignored: Sequence[str], worktree_dir: str) -> list[str]:
    """Files to copy into a new worktree: matched by .worktreeinclude AND ignored by git (a tracked or
    merely untracked file is the checkout's business, not a copy's), never from the worktree folder."""
    folder = worktree_dir.strip("/") + "/"
    ignored_set = set(ignored)
    return sorted(
        rel for rel in set(listed) if rel in ignored_set and _safe_relative(rel) and not rel.startswith(folder)
    )


@dataclass(frozen=True)
class TeardownFacts:
    """What is true of a role's checkout right now (gathered by `_teardown_facts`)."""

    has_worktree: bool  # git has the worktree registered
    folder_exists: bool
    locked: bool
    lock_reason: str | None
    dirty_files: tuple[str, ...]  # tracked changes and untracked non-ignored files
    branch_exists: bool
    merged: bool  # the branch tip is reachable from the base branch
    backed_up: bool  # the branch tip is reachable from a backup ref of this role
    head_safe: bool  # the worktree's HEAD is reachable from the branch, the base, or is on a branch
    unmerged_commits: int


@dataclass(frozen=True)
class TeardownPlan:
    merge: bool = False
    backup: bool = False
    remove: bool = False
    force_remove: bool = False
    delete_branch: bool = False
    note: str | None = None


TEARDOWN_MODES = (None, "merge", "abandon")


def decide_teardown(role: str, facts: TeardownFacts, mode: str | None, confirmed: bool) -> TeardownPlan:
    """What a teardown may do. Refusals are raised here, before anything changes.

    Rules: a locked worktree is never removed; work that would be lost (uncommitted files, or a
    HEAD reachable from nothing else) is removed only after a backup, and only with --abandon or a
    confirmation (--yes, or yes on a terminal); the branch is deleted only when merged into the base
    or contained in a backup; a clean worktree with unmerged commits is removed but its branch kept.
    """
    if mode not in TEARDOWN_MODES:
        raise InvalidInputError(f"unknown teardown mode {mode!r}", "use --merge or --abandon")
    branch = agent_branch(role)
    if facts.has_worktree and facts.locked:
        reason = f" ({facts.lock_reason})" if facts.lock_reason else ""
        raise DirtyStateError(
            f"the {role} worktree is locked{reason}; coord never removes a locked worktree",
            "if nothing uses it any more: git worktree unlock <path>, then tear down again",
        )
    if not facts.has_worktree:
        if not facts.branch_exists:
            raise NotFoundError(f"role {role} has no worktree and no branch {branch}", "see coord agent.list")
        if facts.merged or facts.backed_up:
            return TeardownPlan(delete_branch=True, note=f"no worktree left; deleted the leftover branch {branch}")
        if mode == "merge":
            return TeardownPlan(merge=True, delete_branch=True)
        if mode == "abandon":
            return TeardownPlan(backup=True, delete_branch=True)
        raise NotFoundError(
            f"role {role} has no worktree; its branch {branch} has unmerged commits and is kept",
            f"merge it with coord agent.merge {role}, or back it up and delete it with "
            f"coord agent.teardown {role} --abandon",
        )
    at_risk = bool(facts.dirty_files) or not facts.head_safe
    if mode == "merge":
        if facts.dirty_files:
            raise DirtyStateError(
                f"the {role} worktree has uncommitted changes ({_files_summary(facts.dirty_files)})",
                "commit them in the worktree first, or use --abandon to back them up and remove it",
            )
        if not facts.head_safe:
            raise DirtyStateError(
                f"the {role} worktree's HEAD holds commits that are not on {branch}",
                f"put them on {branch} first, or use --abandon to back them up",
            )
        return TeardownPlan(merge=True, remove=True, delete_branch=facts.branch_exists)
    if mode == "abandon" or (at_risk and confirmed):
        needs_backup = at_risk or (facts.branch_exists and not facts.merged)
        return TeardownPlan(backup=needs_backup, remove=True, force_remove=True, delete_branch=facts.branch_exists)
    if at_risk:
        raise ConfirmationRequiredError(
            f"the {role} worktree has uncommitted changes ({_files_summary(facts.dirty_files)}); nothing was changed",
            "commit them, or pass --abandon (backs them up first), --yes, or run on a terminal to be asked",
        )
    if facts.branch_exists and not facts.merged:
        return TeardownPlan(
            remove=True,
            note=f"kept branch {branch}: {facts.unmerged_commits} commit(s) not merged "
            f"(coord agent.merge {role}, or coord agent.teardown {role} --abandon)",
        )
    return TeardownPlan(remove=True, delete_branch=facts.branch_exists)


def _files_summary(files: Sequence[str], limit: int = 5) -> str:
    shown = ", ".join(f[3:] if len(f) > 3 and f[2] == " " else f for f in files[:limit])
    more = f" and {len(files) - limit} more" if len(files) > limit else ""
    return f"{len(files)} file(s): {shown}{more}"


# --- results ----------------------------------------------------------------------------------


@dataclass
class SetupResult:
    role: str
    path: Path
    branch: str
    created: bool
    repaired: list[str] = field(default_factory=list)
    is_main: bool = False
    reused_branch: bool = False
    gitignore_added: bool = False
    copied: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class AgentInfo:
    role: str
    branch: str | None
    path: Path
    head: str | None
    dirty: bool
    ahead: int | None
    behind: int | None
    presence: str
    locked: bool = False
    missing: bool = False

    def to_dict(self) -> dict[str, object]:
        data = asdict(self)
        data["path"] = str(self.path)
        return data


@dataclass
class MergeResult:
    role: str
    branch: str
    base: str
    kind: str  # "fast-forward", "merge" or "up-to-date"
    commit: str
    warnings: list[str] = field(default_factory=list)


@dataclass
class TeardownResult:
    role: str
    path: Path
    branch: str
    removed: bool = False
    branch_deleted: bool = False
    backup_ref: str | None = None
    restore_command: str | None = None
    merge: MergeResult | None = None
    notes: list[str] = field(default_factory=list)


@dataclass
class RestoreResult:
    role: str
    path: Path
    branch: str
    ref: str
    setup: SetupResult


# --- shared helpers (effects) -------------------------------------------------------------------


@contextlib.contextmanager
def repo_lock(paths: RepoPaths, timeout: float = LOCK_TIMEOUT_SECONDS) -> Iterator[None]:
    """One coord mutation at a time per repository (an flock, released if the process dies)."""
    import fcntl

    paths.state_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(paths.state_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + timeout
        delay = 0.005
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise CoordError(
                        f"another coord command has held {paths.state_dir / LOCK_FILE} for {timeout:.0f}s",
                        "wait for it to finish and retry",
                    ) from None
                time.sleep(delay)
                delay = min(delay * 2, 0.1)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _same_path(a: Path, b: Path) -> bool:
    return os.path.realpath(a) == os.path.realpath(b)


def _entry_at(entries: Sequence[git.WorktreeEntry], path: Path) -> git.WorktreeEntry | None:
    for entry in entries:
        if _same_path(entry.path, path):
            return entry
    return None


def resolve_base(paths: RepoPaths, config: Config, override: str | None = None) -> str:
    """The branch agents start from and merge into."""
    if override:
        return override
    if config.base_branch:
        return config.base_branch
    current = git.current_branch(paths.main_root)
    if current is None:
        raise DirtyStateError(
            "the main checkout is on a detached HEAD, so there is no base branch",
            "check out a branch there, pass --base REF, or set base_branch in coord.toml",
        )
    return current


def _agent_role(config: Config, role: object) -> str:
    role = validate_role(role, config.roles)
    return role


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


# --- setup ----------------------------------------------------------------------------------------


def setup(paths: RepoPaths, config: Config, role: str, base: str | None = None) -> SetupResult:
    """Create (or repair) the role's worktree on agent/<role>/active with the role's own identity."""
    role = _agent_role(config, role)
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
        entry = _entry_at(entries, path)
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
                if holder is not None and not _same_path(holder.path, path):
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


# --- list -------------------------------------------------------------------------------------------


def presence_statuses(paths: RepoPaths, config: Config, warn: Warn) -> dict[str, str] | None:
    """Role -> presence status from the coordination store, or None (one warning) if unreachable."""
    try:
        from coord.store import open_store

        with open_store(paths, config, start_server=False) as store:
            return {view.role: str(view.status) for view in store.presence()}
    except ImportError:
        warn("presence unknown: the coordination store is not installed")
    except StoreUnavailableError as exc:
        warn(f"presence unknown: {exc.message}")
    return None


def agent_entries(paths: RepoPaths, config: Config) -> list[git.WorktreeEntry]:
    """Worktrees directly under the worktree folder (anything else is not coord's)."""
    folder = os.path.realpath(paths.main_root / config.worktree_dir)
    return [e for e in git.worktree_list(paths.main_root) if os.path.dirname(os.path.realpath(e.path)) == folder]


def list_agents(paths: RepoPaths, config: Config, warn: Warn | None = None) -> list[AgentInfo]:
    """Every agent worktree with its state, ahead/behind the base branch, and presence status."""
    from coord.presence import Status

    warn = warn or _stderr_warn
    entries = agent_entries(paths, config)
    if not entries:
        return []
    main = paths.main_root
    try:
        base = resolve_base(paths, config)
        base_sha = git.rev_parse(main, base)
    except DirtyStateError:
        base_sha = None
    statuses = presence_statuses(paths, config, warn)
    agents = []
    for entry in entries:
        role = entry.path.name
        missing = not entry.path.is_dir()
        dirty = False if missing else git.is_dirty(entry.path)
        ahead = behind = None
        if entry.head and base_sha:
            ahead, behind = git.ahead_behind(main, entry.head, base_sha)
        presence = Status.UNKNOWN.value if statuses is None else statuses.get(role, Status.ABSENT.value)
        agents.append(
            AgentInfo(
                role=role, branch=entry.branch, path=entry.path, head=entry.head, dirty=dirty, ahead=ahead,
                behind=behind, presence=presence, locked=entry.locked, missing=missing,
            )
        )
    return agents


def format_table(agents: Sequence[AgentInfo], root: Path) -> str:
    """A readable table for agent.list (JSON is for machines)."""
    if not agents:
        return "no agent worktrees (create one with: coord agent.setup ROLE)"
    header = ("ROLE", "BRANCH", "HEAD", "DIRTY", "AHEAD", "BEHIND", "PRESENCE", "PATH")
    rows = [header]
    for a in agents:
        try:
            shown_path = os.path.relpath(a.path, root)
        except ValueError:
            shown_path = str(a.path)
        state = "yes" if a.dirty else "no"
        if a.missing:
            state = "missing"
        elif a.locked:
            state += " (locked)"
        rows.append((
            a.role, a.branch or "(detached)", (a.head or "")[:8], state,
            "-" if a.ahead is None else str(a.ahead), "-" if a.behind is None else str(a.behind),
            a.presence, shown_path,
        ))
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows)


# --- merge ------------------------------------------------------------------------------------------


_IN_PROGRESS = ("MERGE_HEAD", "CHERRY_PICK_HEAD", "REVERT_HEAD", "rebase-merge", "rebase-apply")


def merge(paths: RepoPaths, config: Config, role: str) -> MergeResult:
    """Merge agent/<role>/active into the base branch in the main checkout; conflicts change nothing."""
    role = _agent_role(config, role)
    if role == config.main_role:
        raise InvalidInputError(f"{role} is the main role and has no agent branch to merge", "name an agent role")
    with repo_lock(paths):
        return _merge_locked(paths, config, role)


def _merge_locked(paths: RepoPaths, config: Config, role: str) -> MergeResult:
    main = paths.main_root
    branch = agent_branch(role)
    tip = git.rev_parse(main, f"refs/heads/{branch}")
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
            f"the main checkout has uncommitted changes ({_files_summary(dirty)}); coord never stashes them",
            "commit or stash them yourself, then merge again",
        )
    warnings = []
    wt = worktree_path(paths, config, role)
    if wt.is_dir() and _entry_at(git.worktree_list(main), wt) is not None:
        wt_dirty = git.status_lines(wt)
        if wt_dirty:
            warnings.append(
                f"the {role} worktree has uncommitted changes ({_files_summary(wt_dirty)}); they are not part "
                "of this merge"
            )
    head = git.rev_parse(main, "HEAD")
    assert head is not None
    if git.is_ancestor(main, tip, head):
        return MergeResult(role, branch, base, "up-to-date", head, warnings)
    if git.is_ancestor(main, head, tip):
        git.merge_ff_only(main, tip)
        return MergeResult(role, branch, base, "fast-forward", tip, warnings)
    result = git.merge_tree(main, head, tip)
    if not result.clean or result.tree is None:
        files = result.conflicted_files
        raise MergeConflictError(
            f"merging {branch} into {base} would conflict in {len(files)} file(s): {', '.join(files)}; "
            "nothing was changed",
            f"resolve it on the branch (in the {role} worktree: git merge {base}), then merge again",
            files=files,
        )
    message = f"Merge {branch} (role {role}) into {base}\n\nMerged by coord agent.merge."
    commit = git.commit_tree(main, result.tree, [head, tip], message)
    # The merge commit exists before the checkout moves: the checkout only ever fast-forwards, so
    # an interruption leaves it either untouched or fully merged, never half-merged.
    git.merge_ff_only(main, commit)
    return MergeResult(role, branch, base, "merge", commit, warnings)


# --- teardown ----------------------------------------------------------------------------------------


def _backup_refs(main: Path, role: str) -> list[tuple[str, str]]:
    return git.list_refs(main, f"{BACKUP_PREFIX}/{role}/")


def without_disposable(entries: Iterable[str], disposable: Iterable[str]) -> tuple[str, ...]:
    """Porcelain status entries less the UNTRACKED ones at disposable paths (a tracked change
    at such a path is still work)."""
    skip = {f"?? {p}" for p in disposable}
    return tuple(e for e in entries if e not in skip)


def _teardown_facts(
    paths: RepoPaths, config: Config, role: str, disposable: Iterable[str] = ()
) -> tuple[TeardownFacts, git.WorktreeEntry | None]:
    main = paths.main_root
    path = worktree_path(paths, config, role)
    branch = agent_branch(role)
    entry = _entry_at(git.worktree_list(main), path)
    folder_exists = path.is_dir()
    tip = git.rev_parse(main, f"refs/heads/{branch}")
    try:
        base_sha = git.rev_parse(main, resolve_base(paths, config))
    except DirtyStateError:
        base_sha = None
    merged = bool(tip and base_sha and git.is_ancestor(main, tip, base_sha))
    backups = [sha for _, sha in _backup_refs(main, role)]
    backed_up = bool(tip and any(git.is_ancestor(main, tip, sha) for sha in backups))
    dirty: tuple[str, ...] = ()
    head_safe = True
    if entry is not None and folder_exists:
        dirty = without_disposable(git.status_lines(path), disposable)
        head = entry.head
        if head and entry.branch is None:  # detached: its commits survive only if something else holds them
            head_safe = any(ref and git.is_ancestor(main, head, ref) for ref in (tip, base_sha))
    unmerged = git.ahead_behind(main, tip, base_sha)[0] if tip and base_sha else 0
    facts = TeardownFacts(
        has_worktree=entry is not None,
        folder_exists=folder_exists,
        locked=bool(entry and entry.locked),
        lock_reason=entry.lock_reason if entry else None,
        dirty_files=dirty,
        branch_exists=tip is not None,
        merged=merged,
        backed_up=backed_up,
        head_safe=head_safe,
        unmerged_commits=unmerged,
    )
    return facts, entry


def make_backup(paths: RepoPaths, config: Config, role: str, now: datetime | None = None) -> str:
    """Save everything of a role (tracked changes, untracked non-ignored files, HEAD, branch tip) as one
    commit under refs/coord/backup/<role>/<UTC stamp>; returns the ref. The checkout is not touched."""
    main = paths.main_root
    path = worktree_path(paths, config, role)
    tip = git.rev_parse(main, f"refs/heads/{agent_branch(role)}")
    entry = _entry_at(git.worktree_list(main), path)
    parents: list[str] = []
    if entry is not None and path.is_dir() and entry.head:
        with tempfile.TemporaryDirectory(dir=paths.state_dir) as tmp:
            tree = git.snapshot_tree(path, Path(tmp) / "index")
        parents.append(entry.head)
    elif tip is not None:
        tree = git.tree_of(main, tip)
    else:
        raise NotFoundError(f"role {role} has nothing to back up", "see coord agent.list")
    if tip is not None and tip not in parents:
        parents.append(tip)
    identity = {
        "GIT_AUTHOR_NAME": role_name(role), "GIT_AUTHOR_EMAIL": role_email(role),
        "GIT_COMMITTER_NAME": role_name(role), "GIT_COMMITTER_EMAIL": role_email(role),
    }
    message = (
        f"coord backup of {role} before teardown\n\nFirst parent: the worktree's HEAD; the tree: its files, "
        "including uncommitted and untracked (non-ignored) ones."
    )
    where = path if entry is not None and path.is_dir() else main
    commit = git.commit_tree(where, tree, parents, message, env=identity)
    stamp = backup_stamp(now or datetime.now(UTC))
    for attempt in range(100):
        ref = backup_ref(role, stamp if attempt == 0 else f"{stamp}-{attempt}")
        if git.ref_exists(main, ref):
            continue
        git.update_ref(main, ref, commit, old=git.ZERO_OID, message=f"coord backup of {role}")
        if git.rev_parse(main, ref) != commit:  # safety check before anything destructive follows
            raise CoordError(f"backup ref {ref} does not hold the backup", "nothing was removed; retry")
        return ref
    raise CoordError(f"could not name a backup ref for {role}", "delete old refs under refs/coord/backup")


def _session_end(paths: RepoPaths, config: Config, role: str, warn: Warn) -> None:
    """Deregister the role and tell the others; never fails the teardown (one warning instead)."""
    try:
        from coord.messages import BROADCAST, MessageType
        from coord.store import open_store

        with open_store(paths, config, start_server=False) as store:
            store.deregister(role, None)
            body = f"{role}: worktree torn down (coord agent.teardown)"
            store.publish(role, BROADCAST, MessageType.SESSION_END, body)
    except ImportError:
        warn(f"presence of {role} not cleared: the coordination store is not installed")
    except StoreUnavailableError as exc:
        warn(f"presence of {role} not cleared: {exc.message}")


def _end_leftover_session(paths: RepoPaths, config: Config, role: str) -> bool:
    """Deregister a role still registered (active or stale) although its worktree and branch are
    gone; True when it did. Quiet when the store is down: the caller reports the real problem."""
    try:
        from coord.presence import Status
        from coord.store import open_store

        with open_store(paths, config, start_server=False) as store:
            view = next((v for v in store.presence() if v.role == role), None)
            if view is None or view.status not in (Status.ACTIVE, Status.STALE):
                return False
    except (ImportError, StoreUnavailableError):
        return False
    _session_end(paths, config, role, _stderr_warn)
    return True


def teardown(
    paths: RepoPaths,
    config: Config,
    role: str,
    mode: str | None = None,
    yes: bool = False,
    confirm: Confirm | None = None,
    warn: Warn | None = None,
    disposable: Iterable[str] = (),
) -> TeardownResult:
    """Remove the role's worktree (see decide_teardown for what is allowed), then clear its presence.
    disposable: untracked paths that are not work (coord's own generated files, exactly as rendered):
    they neither count as uncommitted changes nor stop git from removing the worktree."""
    warn = warn or _stderr_warn
    disposable = tuple(disposable)
    role = _agent_role(config, role)
    if role == config.main_role:
        raise InvalidInputError(f"{role} is the main role and has no worktree", "name an agent role")
    facts, _ = _teardown_facts(paths, config, role, disposable)
    confirmed = yes
    try:
        decide_teardown(role, facts, mode, confirmed)
    except NotFoundError as exc:
        # Nothing left on disk or in git: maybe a teardown killed after its last git step, before
        # presence was cleared. Finish that part, then still say there was nothing to remove.
        if _end_leftover_session(paths, config, role):
            exc.message += " (its leftover presence was cleared and SESSION_END sent)"
        raise
    except ConfirmationRequiredError:
        question = (
            f"The {role} worktree has uncommitted changes ({_files_summary(facts.dirty_files)}). "
            "Back everything up under refs/coord/backup and remove the worktree?"
        )
        if confirm is None or not confirm(question):
            raise
        confirmed = True
    path = worktree_path(paths, config, role)
    branch = agent_branch(role)
    result = TeardownResult(role=role, path=path, branch=branch)
    with repo_lock(paths):
        facts, _ = _teardown_facts(paths, config, role, disposable)  # the state may have moved while we asked
        plan = decide_teardown(role, facts, mode, confirmed)
        if plan.merge:
            result.merge = _merge_locked(paths, config, role)  # a conflict raises here: nothing changed yet
        touched = plan.backup or plan.remove or plan.delete_branch
        try:
            _execute_teardown(paths, config, role, plan, result, disposable)
        finally:
            if touched:
                _session_end(paths, config, role, warn)
    return result


def _execute_teardown(
    paths: RepoPaths, config: Config, role: str, plan: TeardownPlan, result: TeardownResult,
    disposable: tuple[str, ...] = (),
) -> None:
    main = paths.main_root
    path = result.path
    branch = result.branch
    if plan.backup:
        result.backup_ref = make_backup(paths, config, role)
        result.restore_command = restore_command(role, result.backup_ref)
    if plan.remove:
        # Safety: forcing discards files, so the backup (when one was due) must exist first.
        if plan.force_remove and plan.backup and not (result.backup_ref and git.ref_exists(main, result.backup_ref)):
            raise CoordError(f"backup of {role} missing; the worktree was not removed", "retry")
        if path.is_dir():
            if not plan.force_remove and disposable:
                status = set(git.status_lines(path))
                for rel in disposable:  # regenerable: git would count them as untracked work
                    if f"?? {rel}" in status:
                        (path / rel).unlink(missing_ok=True)
            git.worktree_remove(main, path, force=plan.force_remove)  # without force, git re-checks cleanliness
        else:
            git.worktree_prune(main)  # the folder is already gone: only git's record remains
        result.removed = True
    if plan.delete_branch:
        tip = git.rev_parse(main, f"refs/heads/{branch}")
        if tip is not None:
            try:
                base_sha = git.rev_parse(main, resolve_base(paths, config))
            except DirtyStateError:
                base_sha = None
            safe = (base_sha is not None and git.is_ancestor(main, tip, base_sha)) or any(
                git.is_ancestor(main, tip, sha) for _, sha in _backup_refs(main, role)
            )
            if not safe:  # safety check before the destructive step
                result.notes.append(f"kept branch {branch}: it is neither merged nor backed up")
            else:
                git.delete_branch(main, branch, force=True)
                result.branch_deleted = True
    if plan.note:
        result.notes.append(plan.note)


# --- restore ---------------------------------------------------------------------------------------


def restore(paths: RepoPaths, config: Config, role: str, ref: str | None = None) -> RestoreResult:
    """Bring a backed-up role back: a worktree on agent/<role>/active at the backup's HEAD, with the
    saved uncommitted and untracked files back as uncommitted changes."""
    role = _agent_role(config, role)
    if role == config.main_role:
        raise InvalidInputError(f"{role} is the main role and has no worktree to restore", "name an agent role")
    main = paths.main_root
    if ref is None:
        refs = _backup_refs(main, role)
        if not refs:
            raise NotFoundError(f"no backup of {role} under {BACKUP_PREFIX}/{role}/", "see git for-each-ref refs/coord")
        ref = refs[-1][0]
    snapshot = git.rev_parse(main, ref)
    if snapshot is None:
        raise NotFoundError(f"backup ref {ref!r} does not exist", f"see git for-each-ref {BACKUP_PREFIX}/{role}/")
    parents = git.commit_parents(main, snapshot)
    if not parents:
        raise InvalidInputError(f"{ref} is not a coord backup (it has no parent)", "name a ref under refs/coord/backup")
    start = parents[0]
    path = worktree_path(paths, config, role)
    branch = agent_branch(role)
    with repo_lock(paths):
        if _entry_at(git.worktree_list(main), path) is not None:
            raise DirtyStateError(
                f"{role} already has a worktree at {path}", f"tear it down first: coord agent.teardown {role}"
            )
        tip = git.rev_parse(main, f"refs/heads/{branch}")
        if tip is None:
            git.create_branch(main, branch, start)
        elif tip != start:
            raise DirtyStateError(
                f"branch {branch} exists at {tip[:8]}, not at the backup's {start[:8]}",
                f"rename it (git branch -m {branch} <other>) so the backup can take its place",
            )
    done = setup(paths, config, role)
    with repo_lock(paths):
        head = git.rev_parse(path, "HEAD")
        if head == start and git.tree_of(path, "HEAD") != git.tree_of(path, snapshot) and not git.is_dirty(path):
            # two-way checkout from HEAD to the snapshot (deletions included), then the index back to HEAD:
            # the saved work reappears as uncommitted changes and untracked files, as it was
            git.run(path, "read-tree", "-m", "-u", "HEAD", snapshot)
            git.run(path, "reset", "--quiet")
    return RestoreResult(role=role, path=path, branch=branch, ref=ref, setup=done)
