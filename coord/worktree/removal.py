"""Tearing a role's worktree down without losing work, and bringing it back.

teardown gathers the facts, asks rules.decide_teardown, then acts, checking again right before
every destructive step; whatever would be lost is first saved as one commit under
refs/coord/backup/<role>/<stamp>, which restore turns back into a worktree with the saved
uncommitted and untracked files as uncommitted changes."""

from __future__ import annotations

import tempfile
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

from coord import git
from coord.config import Config
from coord.errors import (
    ConfirmationRequiredError,
    CoordError,
    DirtyStateError,
    IdentityError,
    InvalidInputError,
    NotFoundError,
    StoreUnavailableError,
)
from coord.identity import role_email, role_name
from coord.repo import RepoPaths
from coord.worktree import backup
from coord.worktree.creation import setup
from coord.worktree.listing import check_placement
from coord.worktree.merging import merge_locked
from coord.worktree.results import RestoreResult, TeardownResult
from coord.worktree.rules import (
    BACKUP_PREFIX,
    TeardownFacts,
    TeardownPlan,
    agent_branch,
    backup_ref,
    backup_stamp,
    decide_teardown,
    files_summary,
    restore_command,
    without_disposable,
    worktree_path,
)
from coord.worktree.state import Confirm, Warn, agent_role, entry_at, repo_lock, resolve_base, stderr_warn


def backup_refs(main: Path, role: str) -> list[tuple[str, str]]:
    return git.list_refs(main, f"{BACKUP_PREFIX}/{role}/")


def _teardown_facts(
    paths: RepoPaths, config: Config, role: str, disposable: Iterable[str] = ()
) -> tuple[TeardownFacts, git.WorktreeEntry | None]:
    main = paths.main_root
    path = worktree_path(paths, config, role)
    branch = agent_branch(role)
    entry = entry_at(git.worktree_list(main), path)
    folder_exists = path.is_dir()
    tip = git.rev_parse(main, f"refs/heads/{branch}")
    try:
        base_sha = git.rev_parse(main, resolve_base(paths, config))
    except DirtyStateError:
        base_sha = None
    merged = bool(tip and base_sha and git.is_ancestor(main, tip, base_sha))
    backups = [sha for _, sha in backup_refs(main, role)]
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
    """Save everything of a role as one commit under refs/coord/backup/<role>/<UTC stamp>; returns
    the ref. The checkout is not touched. See coord.worktree.backup for what "everything" covers."""
    return make_backup_capturing(paths, config, role, now)[0]


def make_backup_capturing(
    paths: RepoPaths, config: Config, role: str, now: datetime | None = None
) -> tuple[str, backup.Capture | None]:
    """make_backup, also returning what was captured (None: no checkout, the branch tip only)."""
    main = paths.main_root
    path = worktree_path(paths, config, role)
    tip = git.rev_parse(main, f"refs/heads/{agent_branch(role)}")
    entry = entry_at(git.worktree_list(main), path)
    parents: list[str] = []
    captured: backup.Capture | None = None
    meta: dict[str, object] = {}
    if entry is not None and path.is_dir() and entry.head:
        with tempfile.TemporaryDirectory(dir=paths.state_dir) as tmp:
            captured = backup.capture(path, Path(tmp), main)
        tree = captured.tree
        parents.append(entry.head)
        meta = dict(captured.meta)
        meta["head"] = entry.head
        if entry.branch is not None:
            meta["branch"] = entry.branch
    elif tip is not None:
        tree = git.tree_of(main, tip)
    else:
        raise NotFoundError(f"role {role} has nothing to back up", "see coord agent.list")
    if tip is not None and tip not in parents:
        parents.append(tip)
    if tip is not None:
        meta["branch_tip"] = tip
    pushed: list[str] = []
    if captured is not None:
        pushed = backup.import_nested(main, path, captured.meta)
        parents += [sha for sha in captured.keep if sha not in parents]
    identity = {
        "GIT_AUTHOR_NAME": role_name(role), "GIT_AUTHOR_EMAIL": role_email(role),
        "GIT_COMMITTER_NAME": role_name(role), "GIT_COMMITTER_EMAIL": role_email(role),
    }
    message = backup.with_meta(
        f"coord backup of {role} before teardown\n\nFirst parent: the worktree's HEAD; second: the branch tip; "
        "the tree: its files, including uncommitted, untracked and ignored ones; further parents: nested "
        "repositories and commits an operation in progress needs.",
        meta,
    )
    where = path if entry is not None and path.is_dir() else main
    commit = git.commit_tree(where, tree, parents, message, env=identity, sign=False)
    stamp = backup_stamp(now or datetime.now(UTC))
    for attempt in range(100):
        ref = backup_ref(role, stamp if attempt == 0 else f"{stamp}-{attempt}")
        if git.ref_exists(main, ref):
            continue
        git.update_ref(main, ref, commit, old=git.ZERO_OID, message=f"coord backup of {role}")
        if git.rev_parse(main, ref) != commit:  # safety check before anything destructive follows
            raise CoordError(f"backup ref {ref} does not hold the backup", "nothing was removed; retry")
        backup.drop_refs(main, pushed)
        return ref, captured
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
    _session_end(paths, config, role, stderr_warn)
    return True


def _refuse_live_session(paths: RepoPaths, config: Config, role: str, warn: Warn) -> None:
    """A live session works in that worktree: removing it would pull the floor from under an agent
    that was never told. Refused whatever the flags; when the store cannot be reached nobody can
    heartbeat either, so the teardown goes on with a warning."""
    try:
        from coord.presence import Status, describe_age
        from coord.store import open_store

        with open_store(paths, config, start_server=False) as store:
            view = next((v for v in store.presence() if v.role == role), None)
    except ImportError:
        return
    except StoreUnavailableError:
        return  # said once by the presence step below
    if view is None or view.status is not Status.ACTIVE or view.stale:
        return
    age = describe_age(view.seconds_since_heartbeat) if view.seconds_since_heartbeat is not None else "?"
    raise IdentityError(
        f"{role} has a live session ({view.session_id}, last heartbeat {age} ago): its worktree is in use",
        f"end that session first (/exit in its agent), or wait until it is stale ({config.stale_seconds}s "
        "without a heartbeat); nothing was changed",
    )


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
    warn = warn or stderr_warn
    disposable = tuple(disposable)
    role = agent_role(config, role)
    if role == config.main_role:
        raise InvalidInputError(f"{role} is the main role and has no worktree", "name an agent role")
    check_placement(paths, config, role)  # a worktree moved with `git worktree move` keeps its role
    with repo_lock(paths):  # not while another teardown is removing the folder these facts come from
        facts, _ = _teardown_facts(paths, config, role, disposable)
    confirmed = yes
    if facts.has_worktree or facts.folder_exists:
        _refuse_live_session(paths, config, role, warn)
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
            f"The {role} worktree has uncommitted changes ({files_summary(facts.dirty_files)}). "
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
            result.merge = merge_locked(paths, config, role)  # a conflict raises here: nothing changed yet
        touched = plan.backup or plan.remove or plan.delete_branch
        try:
            _execute_teardown(paths, config, role, plan, result, disposable)
        except BaseException:
            # A failed teardown leaves presence alone and sends nothing, unless the worktree is
            # already gone (then no session can work there; a rerun finishes the rest).
            if result.removed:
                _session_end(paths, config, role, warn)
            raise
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
    # Ignored files of the agent's and nested repositories do not make a worktree "dirty" to git,
    # yet removing it deletes them: they are saved even when the plan needed no backup.
    extra = plan.remove and not plan.backup and path.is_dir() and backup.own_ignored_or_nested(path, main)
    if plan.backup or extra:
        result.backup_ref, captured = make_backup_capturing(paths, config, role)
        result.restore_command = restore_command(role, result.backup_ref)
        if captured is not None:
            result.unsaved = captured.unsaved
            result.saved_ignored = captured.saved_ignored
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
                git.is_ancestor(main, tip, sha) for _, sha in backup_refs(main, role)
            )
            if not safe:  # safety check before the destructive step
                result.notes.append(f"kept branch {branch}: it is neither merged nor backed up")
            else:
                git.delete_branch(main, branch, force=True)
                result.branch_deleted = True
    if plan.note:
        result.notes.append(plan.note)


def restore(paths: RepoPaths, config: Config, role: str, ref: str | None = None) -> RestoreResult:
    """Bring a backed-up role back: a worktree on agent/<role>/active at the backup's HEAD, with the
    saved uncommitted and untracked files back as uncommitted changes."""
    role = agent_role(config, role)
    if role == config.main_role:
        raise InvalidInputError(f"{role} is the main role and has no worktree to restore", "name an agent role")
    main = paths.main_root
    if ref is None:
        refs = backup_refs(main, role)
        if not refs:
            raise NotFoundError(f"no backup of {role} under {BACKUP_PREFIX}/{role}/", "see git for-each-ref refs/coord")
        ref = refs[-1][0]
    snapshot = git.rev_parse(main, ref)
    if snapshot is None:
        raise NotFoundError(f"backup ref {ref!r} does not exist", f"see git for-each-ref {BACKUP_PREFIX}/{role}/")
    parents = git.commit_parents(main, snapshot)
    if not parents:
        raise InvalidInputError(f"{ref} is not a coord backup (it has no parent)", "name a ref under refs/coord/backup")
    meta = backup.meta_of(main, snapshot)
    start = parents[0]
    notes: list[str] = []
    operation = meta.get("operation")
    apply_files = True
    if operation in ("rebase", "am") and isinstance(meta.get("branch_tip"), str):
        # a rebase (or am) moves the branch only when it ends: the agent's commits are on the tip,
        # and HEAD was a half-rebased detached commit
        start = meta["branch_tip"]
        apply_files = False
        notes.append(
            f"a {operation} was in progress: the branch is back at its commits from before it; the half-done "
            f"state is kept in {ref} (git diff HEAD {ref}; its first parent is where the {operation} had got to)"
        )
    elif operation:
        notes.append(f"a {operation} was in progress; its files are back as uncommitted changes, "
                     f"the commits it named are kept in {ref}")
    path = worktree_path(paths, config, role)
    branch = agent_branch(role)
    with repo_lock(paths):
        if entry_at(git.worktree_list(main), path) is not None:
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
        if (apply_files and head == start and git.tree_of(path, "HEAD") != git.tree_of(path, snapshot)
                and not git.is_dirty(path)):
            # two-way checkout from HEAD to the snapshot (deletions included), then the index back to HEAD:
            # the saved work reappears as uncommitted changes and untracked (or ignored) files, as it was
            git.run(path, "read-tree", "-m", "-u", "HEAD", snapshot)
            git.run(path, "reset", "--quiet")
        if apply_files and head == start:
            nested = meta.get("nested")
            if isinstance(nested, list):
                notes += backup.restore_nested(main, path, nested)
        sparse = meta.get("sparse")
        if isinstance(sparse, list) and sparse:
            try:
                notes.append(backup.restore_sparse(path, [str(p) for p in sparse], meta.get("sparse_cone") is True))
            except CoordError as exc:  # the files are all back; only the narrowing failed
                notes.append(f"it was a sparse checkout; it is back in full ({exc.message})")
    return RestoreResult(role=role, path=path, branch=branch, ref=ref, setup=done, notes=notes)
