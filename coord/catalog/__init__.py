"""The names each agent CLI knows coord by, one module per CLI (claude.py today; codex and gemini later).

Plain data only (no mcp, jinja2, invoke, sh): the per-prompt hook reads these, and so do the MCP
server (which registers exactly the tool names listed here) and the renderer.
"""
