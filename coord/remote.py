"""Agent branches across machines, through a shared git remote (the `remote` setting).

What travels through git: each agent's branch, pushed by the machine whose worktree holds it to
`refs/heads/agent/ROLE/active` on the remote (--force-with-lease against what this machine last
saw there, so a push never overwrites what another machine pushed meanwhile), and the base branch,
pushed only by `coord agent.merge`. What travels through Redis: everything else (presence with the
host, mail, claims, the radar's cache and warnings).

When a push happens: automatically from the MCP server's background loop, after each heartbeat
(every `heartbeat_seconds`), when the branch's tip differs from what the remote has (one
rev-parse when nothing is new, no network); at once with `coord agent.push [ROLE]`. Chosen over a
git post-commit hook: the loop already runs per session, needs no hook installed in every clone,
and a commit made while the network is down is pushed by the next beat instead of being lost.

Which tip the radar, `coord status` and `agent.merge` use for a role: the fetched one
(`refs/remotes/REMOTE/agent/ROLE/active`) when presence says the role's session runs on another
machine, or when this machine has no such branch; else the local branch. Fetches are rate-limited
(`fetch_seconds`, a stamp file under .git/coord), except the one agent.merge makes before merging.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from coord.config import Config
from coord.errors import GitError, NotFoundError
from coord.repo import RepoPaths

NETWORK_TIMEOUT = 60.0  # seconds for one push or fetch (the background loop waits for it)
FETCH_STAMP = "fetched-at"  # under .git/coord: when agent branches were last fetched
OFF = "none"

if TYPE_CHECKING:
    from coord.git import WorktreeEntry
    from coord.store import Store


def agent_ref(role: str) -> str:
    return f"refs/heads/agent/{role}/active"


def fetched_ref(remote: str, role: str) -> str:
    return f"refs/remotes/{remote}/agent/{role}/active"


# -- decisions (pure) -------------------------------------------------------------------------
def use_fetched(local: str | None, fetched: str | None, holder_host: str | None, this_host: str) -> bool:
    """Whether a role's fetched tip stands for it here: its session runs (or last ran) on another
    machine, or this machine has no branch for it."""
    if fetched is None:
        return False
    if local is None:
        return True
    return bool(holder_host) and holder_host != this_host


def lease_arg(role: str, expected: str | None) -> str:
    """--force-with-lease for one ref: the remote must still be at `expected` (what we last fetched
    or pushed), or must not have the ref at all when we never saw it there."""
    return f"--force-with-lease={agent_ref(role)}:{expected or ''}"


def fetch_due(last: float | None, now: float, every: int) -> bool:
    return last is None or now - last >= every or now < last


# -- effects -----------------------------------------------------------------------------------
def _git(paths: RepoPaths, *args: str, ok: tuple[int, ...] = (0,)) -> tuple[int, str]:
    from coord import git

    result = git.run(paths.main_root, *args, ok=ok, timeout=NETWORK_TIMEOUT)
    return result.code, result.stdout


def _network(paths: RepoPaths, *args: str) -> None:
    """A push or fetch, which may run in the MCP server's background loop: never waits for a
    password or a host-key question (GIT_TERMINAL_PROMPT=0 is the runner's; ssh gets BatchMode
    unless the user chose an ssh command of their own)."""
    from coord import git

    env: dict[str, str] = {}
    if not (os.environ.get("GIT_SSH_COMMAND") or os.environ.get("GIT_SSH")):
        code, _ = _git(paths, "config", "--get", "core.sshCommand", ok=(0, 1))
        if code == 1:
            env["GIT_SSH_COMMAND"] = "ssh -o BatchMode=yes"
    git.run(paths.main_root, *args, env=env, timeout=NETWORK_TIMEOUT)


def remote_name(paths: RepoPaths, config: Config) -> str | None:
    """The remote agent branches go through: the setting, else origin when it exists; None when the
    setting is "none" or the repository has no such remote."""
    if config.remote == OFF:
        return None
    name = config.remote or "origin"
    code, _ = _git(paths, "config", "--get", f"remote.{name}.url", ok=(0, 1))
    return name if code == 0 else None


def _sha(paths: RepoPaths, ref: str) -> str | None:
    from coord import git

    return git.rev_parse(paths.main_root, ref)


@dataclass(frozen=True)
class PushResult:
    role: str
    remote: str
    outcome: str  # "pushed", "up-to-date"
    tip: str

    def line(self) -> str:
        if self.outcome == "up-to-date":
            return f"agent/{self.role}/active is already on {self.remote} at {self.tip[:12]}"
        return f"pushed agent/{self.role}/active to {self.remote} at {self.tip[:12]}"


def push(paths: RepoPaths, config: Config, role: str, remote: str | None = None) -> PushResult | None:
    """Push the role's branch to the remote (None when there is no remote). Refused, one line, when
    the remote's branch moved since this machine last saw it (another machine pushed it)."""
    remote = remote or remote_name(paths, config)
    if remote is None:
        return None
    tip = _sha(paths, agent_ref(role))
    if tip is None:
        raise NotFoundError(f"branch agent/{role}/active does not exist on this machine",
                            f"set the role up here (coord agent.setup {role}), or push from its machine")
    seen = _sha(paths, fetched_ref(remote, role))
    if seen == tip:
        return PushResult(role, remote, "up-to-date", tip)
    try:
        _network(paths, "push", "--quiet", "--no-verify", lease_arg(role, seen), remote,
                 f"{agent_ref(role)}:{agent_ref(role)}")
    except GitError as exc:
        raise GitError(
            f"could not push agent/{role}/active to {remote}: {exc.message.removeprefix('git push failed: ')}",
            f"if another machine pushed it (coord presence shows where {role} runs), work there; else check "
            f"that {remote} is reachable",
        ) from None
    from coord import git

    git.update_ref(paths.main_root, fetched_ref(remote, role), tip, message="coord agent.push")
    return PushResult(role, remote, "pushed", tip)


def push_quietly(paths: RepoPaths, config: Config, role: str, log: Callable[[str], None]) -> None:
    """The MCP server's per-heartbeat push of its own branch: never raises, logs what it did."""
    if role == config.main_role:
        return
    try:
        done = push(paths, config, role)
    except (GitError, NotFoundError) as exc:
        log(f"branch push: {exc.line()}")
        return
    if done is not None and done.outcome == "pushed":
        log(f"branch push: {done.line()}")


def fetch(
    paths: RepoPaths, config: Config, force: bool = False, clock: Callable[[], float] = time.time,
    remote: str | None = None,
) -> bool:
    """Fetch every agent branch from the remote into refs/remotes/REMOTE/agent/ (pruned), at most
    once per fetch_seconds unless force. False when there is no remote or it was not due. remote:
    its name when the caller looked it up already (one git process less)."""
    remote = remote or remote_name(paths, config)
    if remote is None:
        return False
    stamp = paths.state_dir / FETCH_STAMP
    now = clock()
    try:
        last: float | None = stamp.stat().st_mtime
    except OSError:
        last = None
    if not force and not fetch_due(last, now, config.fetch_seconds):
        return False
    stamp.parent.mkdir(parents=True, exist_ok=True)
    stamp.touch()
    os.utime(stamp, (now, now))
    _network(paths, "fetch", "--quiet", "--prune", "--no-tags", remote,
             f"+refs/heads/agent/*:refs/remotes/{remote}/agent/*")
    return True


def fetched_tips(paths: RepoPaths, remote: str) -> dict[str, str]:
    """role -> tip of every fetched agent branch (one for-each-ref)."""
    prefix = f"refs/remotes/{remote}/agent/"
    _code, text = _git(paths, "for-each-ref", "--format=%(refname) %(objectname)", prefix)
    tips = {}
    for line in text.splitlines():
        name, _, sha = line.partition(" ")
        if name.startswith(prefix) and name.endswith("/active") and sha:
            tips[name[len(prefix):-len("/active")]] = sha
    return tips


@dataclass(frozen=True)
class Chosen:
    """The ref that stands for a role's branch here, and its tip."""

    ref: str
    tip: str
    fetched: bool


def choose(
    paths: RepoPaths, config: Config, roles: list[str], local: Mapping[str, str], hosts: Mapping[str, str],
    this_host: str,
) -> dict[str, Chosen]:
    """For each role with a branch anywhere: the local branch, or the fetched one (use_fetched)."""
    remote = remote_name(paths, config)
    fetched = fetched_tips(paths, remote) if remote else {}
    out: dict[str, Chosen] = {}
    for role in roles:
        mine, theirs = local.get(role), fetched.get(role)
        if remote and theirs and use_fetched(mine, theirs, hosts.get(role), this_host):
            out[role] = Chosen(fetched_ref(remote, role), theirs, True)
        elif mine:
            out[role] = Chosen(agent_ref(role), mine, False)
    return out


def holder_hosts(store: Store | None) -> dict[str, str]:
    """role -> host of its presence record (the machine its session runs or last ran on); {} when
    Redis cannot be asked."""
    from coord.errors import StoreUnavailableError

    if store is None:
        return {}
    try:
        return {v.role: v.host for v in store.presence() if v.host}
    except StoreUnavailableError:
        return {}


def push_base(paths: RepoPaths, config: Config, base: str) -> str | None:
    """After agent.merge: the base branch to the remote (a plain push: never forced). The line to
    print, None when there is no remote."""
    remote = remote_name(paths, config)
    if remote is None:
        return None
    try:
        _network(paths, "push", "--quiet", "--no-verify", remote, f"refs/heads/{base}:refs/heads/{base}")
    except GitError as exc:
        return (f"warning: {base} was not pushed to {remote} ({exc.message}); other machines see the merge once "
                f"it is: git push {remote} {base}")
    return f"pushed {base} to {remote}"


def elsewhere_entries(paths: RepoPaths, config: Config, roles: list[str]) -> dict[str, WorktreeEntry]:
    """`coord status` rows for agent roles with no worktree on this machine: their fetched branch
    (fetch rate-limited), as a checkout that is not here (no path, so no dirty flag)."""
    from coord.git import WorktreeEntry

    remote = remote_name(paths, config)
    wanted = [r for r in roles if r != config.main_role]
    if remote is None or not wanted:
        return {}
    with contextlib.suppress(GitError):  # unreachable: what was fetched before
        fetch(paths, config, remote=remote)
    tips = fetched_tips(paths, remote)
    return {r: WorktreeEntry(path=paths.state_dir / "not-on-this-machine" / r, head=tips[r],
                             branch=f"{remote}/agent/{r}/active") for r in wanted if r in tips}
