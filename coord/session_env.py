"""Environment variables that carry a session's identity and per-machine settings into the processes
an agent CLI starts (hooks, the stdio MCP server), named once.

Codex CLI passes a stdio MCP server only the variables its config lists (`env_vars`); Gemini CLI's
settings expand `$NAME` in a server's `env`. Both lists are rendered from PASSED_ENV.
"""

from __future__ import annotations

from coord.identity import INSTANCE_ENV, ROLE_ENV

# "hooks": the agent CLI's hooks own the session's presence; the MCP server never registers it
# (coord.mcp_server). Codex CLI and Gemini CLI give a stdio server no session id of theirs.
PRESENCE_ENV = "COORD_PRESENCE"
PRESENCE_BY_HOOKS = "hooks"

# Identity, then the settings that are per machine or per run rather than in coord.toml (an empty
# value counts as unset for each of them).
PASSED_ENV: tuple[str, ...] = (ROLE_ENV, INSTANCE_ENV, "COORD_REDIS_URL", "COORD_NAMESPACE", "COORD_HOST")
