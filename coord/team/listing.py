"""`coord agent.list` on the status engine: the same rows as coord.worktree.list_agents, gathered
with one Redis round trip and git status for every worktree in parallel (50 agents no longer cost
50 sequential git runs). Conflicts come from the radar cache; only when it lacks a pair does the
radar run (and fill it), so a repeated listing never merges anything."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from coord.config import Config
from coord.errors import CoordError, StoreUnavailableError
from coord.repo import RepoPaths
from coord.team.gather import gather

if TYPE_CHECKING:
    from coord.store import Store
    from coord.worktree import AgentInfo


def list_agents(
    paths: RepoPaths, config: Config, warn: Callable[[str], None],
) -> tuple[list[AgentInfo], dict[str, list[str]]]:
    """(AgentInfo per agent worktree in git's order, role -> roles its branch conflicts with)."""
    from coord.store import open_store
    from coord.worktree import AgentInfo

    try:
        store = open_store(paths, config, start_server=False)
    except StoreUnavailableError as exc:
        store, opened_error = None, exc.message
    else:
        opened_error = ""
    try:
        snap = gather(paths, config, store, worktrees_only=True)
        if not snap.facts:
            return [], {}
        if not snap.stored.reachable:
            warn(f"presence unknown: {opened_error or snap.stored.error}")
        with_whom = {r.role: list(r.conflicts_with) for r in snap.rows}
        if snap.unanswered:
            with_whom = _radar(paths, config, store if snap.stored.reachable else None, warn)
    finally:
        if store is not None:
            store.close()
    by_role = {r.role: r for r in snap.rows}
    agents: list[AgentInfo] = []
    for role, facts in snap.facts.items():
        agents.append(AgentInfo(
            role=role, branch=facts.branch, path=Path(facts.path), head=facts.head, dirty=bool(facts.dirty),
            ahead=facts.ahead, behind=facts.behind, presence=by_role[role].presence, locked=facts.locked,
            missing=facts.missing,
        ))
    return agents, with_whom


def _radar(paths: RepoPaths, config: Config, store: Store | None, warn: Callable[[str], None]) -> dict[str, list[str]]:
    from coord import radar
    from coord.conflicts import conflicts_by_role

    try:
        report = radar.run(paths, config, store)
    except CoordError as exc:
        warn(f"conflicts unknown: {exc.message}")
        return {}
    return conflicts_by_role(report.results)
