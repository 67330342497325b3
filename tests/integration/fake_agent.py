"""A stand-in agent CLI for team.up / team.down tests: a real program in a real tmux pane.

It records what it was started with (cwd, identity variables, TMUX_PANE) in $FAKE_AGENT_LOG/ROLE.json,
registers its role's presence the way a session-start hook does, then reads its terminal until a
line ending in /exit arrives (what team.down types), deregisters the way a session-end hook does,
and exits. Not a mock: tmux, the terminal, Redis and the store are all real.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from coord.config import load_config
from coord.repo import find_repo
from coord.store import open_store


def main() -> None:
    role = os.environ["COORD_ROLE"]
    paths = find_repo(Path.cwd())
    config = load_config(paths.main_root)
    seen = {k: os.environ.get(k) for k in ("COORD_ROLE", "CLAUDE_INSTANCE_ID", "COORD_WAKE", "TMUX_PANE")}
    seen["cwd"] = os.getcwd()
    seen["pid"] = str(os.getpid())
    session = f"fake-{role}-{os.getpid()}"
    with open_store(paths, config, start_server=False) as store:
        store.register(role, session, os.getcwd())
    Path(os.environ["FAKE_AGENT_LOG"], f"{role}.json").write_text(json.dumps(seen))
    print(f"fake agent {role} ready", flush=True)
    for line in sys.stdin:
        if line.strip().endswith("/exit"):
            break
    with open_store(paths, config, start_server=False) as store:
        store.deregister(role, session)


if __name__ == "__main__":
    main()
