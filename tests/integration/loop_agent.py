"""A stand-in interactive agent for the idle waker: a real program at a real prompt in a tmux pane.

Like Claude Code it starts `coord mcp` over stdio (so the real waker runs inside the real MCP
server, with the pane's TMUX / TMUX_PANE / COORD_WAKE), registers its session, and then reads
its terminal: every line typed into the pane is a prompt. A prompt runs what Claude Code's hooks
would (UserPromptSubmit: store.turn; then Stop: coord.delivery's LOOP), and is logged as one JSON
line in $LOOP_AGENT_LOG with the mail the prompt hook showed. `/exit` ends it.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import threading
from pathlib import Path


def serve_mcp(stop: threading.Event, ready: threading.Event) -> None:
    """Keep a stdio client of `coord mcp` open until stop is set (Claude Code's MCP connection)."""
    import anyio
    from mcp.client import Client
    from mcp.client.stdio import StdioServerParameters

    coord = shutil.which("coord") or str(Path(sys.executable).parent / "coord")

    async def run() -> None:
        params = StdioServerParameters(command=coord, args=["mcp"], env=dict(os.environ), cwd=os.getcwd())
        async with Client(params) as client:
            await client.list_tools()
            ready.set()
            while not stop.is_set():
                await anyio.sleep(0.1)

    anyio.run(run)


def main() -> None:
    from coord import delivery
    from coord.config import load_config
    from coord.repo import find_repo
    from coord.store import open_store

    role = os.environ["COORD_ROLE"]
    session = os.environ["CLAUDE_CODE_SESSION_ID"]
    log = Path(os.environ["LOOP_AGENT_LOG"])
    paths = find_repo(Path.cwd())
    config = load_config(paths.main_root)
    with open_store(paths, config, start_server=False) as store:
        store.register(role, session, os.getcwd())
    stop, ready = threading.Event(), threading.Event()
    server = threading.Thread(target=serve_mcp, args=(stop, ready), daemon=True)
    server.start()
    ready.wait(120)
    print(f"loop agent {role} ready", flush=True)
    for line in sys.stdin:
        prompt = line.strip()
        if prompt.endswith("/exit"):
            break
        with open_store(paths, config, start_server=False) as store:
            turn = store.turn(role, session, os.getcwd())
            shown = [m.body for m in turn.messages]
            delivery.run_loop(store, role, session, "stop", "Stop")
        with log.open("a", encoding="utf-8") as out:
            out.write(json.dumps({"prompt": prompt, "shown": shown}) + "\n")
    stop.set()
    server.join(30)
    with open_store(paths, config, start_server=False) as store:
        store.deregister(role, session)


if __name__ == "__main__":
    main()
