"""The team as one unit: the tmux adapter, the launcher (team.up / team.down / team.attach) and
the status engine (one Redis round trip plus git per worktree in parallel) that `coord status`,
`coord agent.list` and the `coord watch` cockpit all read. A library floor: no face imports
another, so what the status task and the watch app share lives here."""
