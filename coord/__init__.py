"""coord: git worktrees, identities and a Redis coordination service for parallel coding agents.

Kept empty of imports on purpose: the hooks import submodules on every prompt and pay
for whatever this file pulls in.
"""

__version__ = "0.1.0"
