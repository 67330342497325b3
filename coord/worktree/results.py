"""What the worktree operations return: plain records the tasks print and the MCP/JSON faces serialise."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path


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
    previous: str = ""  # the base branch's tip before the merge (the merge loop counts from it)


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
    unsaved: list[str] = field(default_factory=list)  # ignored groups over the backup's limit: named, not saved
    saved_ignored: int = 0


@dataclass
class RestoreResult:
    role: str
    path: Path
    branch: str
    ref: str
    setup: SetupResult
    notes: list[str] = field(default_factory=list)
