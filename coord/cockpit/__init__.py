"""`coord watch`: the cockpit, a live Textual view of the team. A face: it reads coord.team's feed
and calls the library (store, worktree) for its actions; it never imports tasks/ or other faces,
and nothing but the `watch` task imports it (Textual stays out of hooks and other commands)."""
