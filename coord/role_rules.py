"""Which role reads which rules, and reading them for the SessionStart hook.

Claude Code loads every file under .claude/rules/ into every session, so rules meant for one role
would cost every other role their characters on every request. coord therefore keeps only the
protocol all roles share there, and renders each role's own rules (pm-cli for the main role,
orchestrator for the orchestrator) into ROLE_RULES_DIR, which Claude Code does not load; the
SessionStart hook adds the session's own file to its context. Plain data and one file read: cheap
on the hook path.
"""

from __future__ import annotations

from pathlib import Path

ROLE_RULES_DIR = ".claude/coord"
MAIN_RULES = "pm-cli.md"  # the main role's rules (it works in the main checkout and merges)
ORCHESTRATOR_ROLE = "orchestrator"
ORCHESTRATOR_RULES = "orchestrator.md"
ROLE_RULES = (MAIN_RULES, ORCHESTRATOR_RULES)  # every file rendered into ROLE_RULES_DIR


def rules_file(role: str, main_role: str) -> str | None:
    """The name of the role's own rules file, or None for a role that follows the protocol alone."""
    if role == main_role:
        return MAIN_RULES
    if role == ORCHESTRATOR_ROLE:
        return ORCHESTRATOR_RULES
    return None


def strip_marker(text: str) -> str:
    """The rules without the generated-file marker line (a comment for people, not for the agent)."""
    lines = text.splitlines()
    if lines and lines[0].startswith("<!--") and lines[0].rstrip().endswith("-->"):
        lines = lines[1:]
    return "\n".join(lines).strip()


def read_rules(checkout: Path, role: str, main_role: str) -> str:
    """The role's own rules as the agent should read them; empty when it has none or the file is
    missing (an old checkout: `coord doctor` reports the drift, the session goes on)."""
    name = rules_file(role, main_role)
    if name is None:
        return ""
    try:
        text = (checkout / ROLE_RULES_DIR / name).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return ""
    return strip_marker(text)
