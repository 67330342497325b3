"""The names each agent CLI knows coord by, one module per CLI (claude.py today; codex and gemini later).

Plain data only (no mcp, jinja2, invoke, sh): the per-prompt hook reads these, and so do the MCP
server (which registers exactly the tool names listed here) and the renderer.
"""

# The hook payload key through which another CLI's adapter (coord.dialects) hands coord's edit check
# the paths it read from that CLI's own tool input (coord.hooks.on_pre_tool_use prefers it).
EDITED_PATHS_KEY = "coord_edited_paths"
