"""Names of the Claude Code tools coord watches, defined once.

A module of its own so the per-prompt hook can render its PreToolUse matcher without importing
coord.claims (about 3.5 ms of module set-up paid on every prompt)."""

EDIT_TOOLS: tuple[str, ...] = ("Edit", "Write", "MultiEdit", "NotebookEdit")
EDIT_MATCHER = "|".join(EDIT_TOOLS)  # the PreToolUse matcher rendered into .claude/settings.json
