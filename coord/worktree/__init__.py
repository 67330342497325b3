"""Agent worktrees: set up, list, merge, tear down and restore, without ever losing work.

One module per concern: rules (the pure decisions: paths, branch names, backups, .gitignore,
include files, what a teardown may do, the listing table), results (what operations return),
state (the per-repository lock and the facts every operation reads), creation (setup), listing,
merging, removal (teardown and restore). The operations gather facts through coord.git, ask a
decision, then act, checking again right before every destructive step. Mutating operations hold
one exclusive file lock per repository, so parallel `coord agent.setup` runs (one per agent,
started at once) do not race on git's worktree list, the shared config or .gitignore.

The names below are the package's public API (`from coord import worktree; worktree.setup(...)`).
Importing it is cheap: coord.git starts processes only when a git command runs.
"""

from coord.worktree.creation import copy_includes, ensure_gitignore, ensure_identity, ensure_worktree_config, setup
from coord.worktree.listing import agent_entries, list_agents, presence_statuses
from coord.worktree.merging import merge
from coord.worktree.removal import make_backup, restore, teardown
from coord.worktree.results import AgentInfo, MergeResult, RestoreResult, SetupResult, TeardownResult
from coord.worktree.rules import (
    BACKUP_PREFIX,
    BRANCH_TEMPLATE,
    GITIGNORE,
    INCLUDE_FILE,
    TEARDOWN_MODES,
    TeardownFacts,
    TeardownPlan,
    agent_branch,
    backup_ref,
    backup_stamp,
    decide_teardown,
    format_table,
    gitignore_with_entry,
    include_candidates,
    restore_command,
    without_disposable,
    worktree_path,
)
from coord.worktree.state import LOCK_FILE, LOCK_TIMEOUT_SECONDS, Confirm, Warn, repo_lock, resolve_base

__all__ = [
    "BACKUP_PREFIX",
    "BRANCH_TEMPLATE",
    "GITIGNORE",
    "INCLUDE_FILE",
    "LOCK_FILE",
    "LOCK_TIMEOUT_SECONDS",
    "TEARDOWN_MODES",
    "AgentInfo",
    "Confirm",
    "MergeResult",
    "RestoreResult",
    "SetupResult",
    "TeardownFacts",
    "TeardownPlan",
    "TeardownResult",
    "Warn",
    "agent_branch",
    "agent_entries",
    "backup_ref",
    "backup_stamp",
    "copy_includes",
    "decide_teardown",
    "ensure_gitignore",
    "ensure_identity",
    "ensure_worktree_config",
    "format_table",
    "gitignore_with_entry",
    "include_candidates",
    "list_agents",
    "make_backup",
    "merge",
    "presence_statuses",
    "repo_lock",
    "resolve_base",
    "restore",
    "restore_command",
    "setup",
    "teardown",
    "without_disposable",
    "worktree_path",
]
