"""The MCP server each agent session runs (`coord mcp`, stdio): the store as tools.

Identity is fixed when the server starts, from its environment (CLAUDE_INSTANCE_ID, else the
checkout's git identity, else the main role in the main checkout) and checked against the
checkout the session runs in. No tool takes a sender or a role to act as, so a session can
only read and acknowledge its own messages and send as its own role. An invalid identity does
not stop the server: every tool answers with the reason and the fix.

The server registers the session and heartbeats by itself every heartbeat_seconds (no tool does:
fewer tools, fewer characters on every request), so a live session never goes stale, and it
reconnects on the next call after Redis comes back. stdout is the MCP wire: logs go to stderr.
The mcp SDK (~0.7 s to import) is imported only when a server is built. The tool names live in
coord.catalog.claude (plain data); build_server registers exactly those; what they return is
coord.tool_results'. The tools' logic (identity, registration, heartbeats) is coord.mcp_service's
Service, below this SDK layer.
"""

from collections.abc import Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any, TypeVar

from coord import mcp_wire
from coord import tool_results as results
from coord.catalog.claude import SERVER_NAME, Tool
from coord.errors import CoordError
from coord.mcp_service import Service, log
from coord.messages import AGENT_TYPES, BROADCAST

INSTRUCTIONS = ("Presence, mail and file claims between the agents on this repository. You act as your own "
                "role; registration and heartbeats are automatic.")
T = TypeVar("T")


# -- the SDK layer --------------------------------------------------------------------------
def build_server(service: Service | None = None, autostart: bool = False) -> Any:
    """An MCPServer with the coord tools. autostart: register at start-up and heartbeat every
    heartbeat_seconds while a client is connected (`coord mcp` does; listing the tools does not)."""
    import anyio
    from mcp.server import MCPServer
    from mcp.server.mcpserver.exceptions import ToolError
    from pydantic import Field

    svc = service if service is not None else Service()

    def run(fn: Callable[[], T]) -> T:
        try:
            return fn()
        except CoordError as exc:
            raise ToolError(exc.line()) from None

    @asynccontextmanager
    async def lifespan(_server: Any) -> Any:
        if not autostart or svc.actor is None:
            if svc.problem is not None:
                log(svc.problem.line())
            yield {}
            return
        await anyio.to_thread.run_sync(svc.tick)
        log(f"role {svc.role}, session {svc.session_id}: {svc.state.value}")
        async with anyio.create_task_group() as group:

            async def beat() -> None:
                while True:
                    await anyio.sleep(svc.heartbeat_seconds)
                    await anyio.to_thread.run_sync(svc.tick)
                    await anyio.to_thread.run_sync(svc.radar_tick)

            group.start_soon(beat)
            if svc.waker is not None:
                from coord.waker import POLL_SECONDS

                async def wake() -> None:
                    while True:
                        await anyio.sleep(POLL_SECONDS)
                        await anyio.to_thread.run_sync(svc.wake_tick)

                group.start_soon(wake)
            try:
                yield {}
            finally:
                group.cancel_scope.cancel()
                svc.shutdown()

    server = MCPServer(SERVER_NAME, instructions=INSTRUCTIONS, lifespan=lifespan)
    kinds = [k.value for k in AGENT_TYPES]

    @server.tool(name=Tool.GET_PRESENCE.value, description="Each role's status and when it was last seen.")
    def get_presence() -> results.Presence:
        return run(svc.presence)

    @server.tool(name=Tool.PUBLISH_MESSAGE.value, description=f"Send a message to a role or '{BROADCAST}'.")
    def publish_message(
        to: Annotated[str, Field(description=f"a role, or '{BROADCAST}'")],
        type: Annotated[str, Field(json_schema_extra={"enum": kinds})],
        body: Annotated[str, Field(description="plain text")],
    ) -> results.Sent:
        return run(lambda: svc.publish(to, type, body))

    @server.tool(name=Tool.CHECK_MESSAGES.value, description="Your pending messages, oldest first.")
    def check_messages(limit: Annotated[int, Field(ge=1, le=1000)] = 20) -> results.Inbox:
        return run(lambda: svc.check(limit))

    @server.tool(name=Tool.ACK_MESSAGES.value, description="Mark your messages handled, by id.")
    def ack_messages(ids: list[str]) -> results.Acked:
        return run(lambda: svc.ack(ids))

    @server.tool(name=Tool.GET_NOTIFICATIONS.value, description="Count of your pending messages by type.")
    def get_notifications() -> results.Summary:
        return run(svc.notifications)

    @server.tool(name=Tool.CHECK_CONFLICTS.value,
                 description="Would your branch conflict with the other agents' or the base branch?")
    def check_conflicts() -> results.Conflicts:
        return run(svc.check_conflicts)

    @server.tool(name=Tool.CLAIM_FILES.value,
                 description="Claim paths or globs: other roles' edits of them are refused while you are live.")
    def claim_files(
        paths: Annotated[list[str], Field(min_length=1)],
        reason: str,
        ttl_seconds: Annotated[int | None, Field(ge=1)] = None,
    ) -> results.Claimed:
        return run(lambda: svc.claim_files(paths, reason, ttl_seconds))

    @server.tool(name=Tool.RELEASE_FILES.value, description="Release your claims (these paths, or all).")
    def release_files(paths: list[str] | None = None) -> results.Released:
        return run(lambda: svc.release_files(paths))

    @server.tool(name=Tool.GET_CLAIMS.value, description="Every file claim: holder, reason, time left.")
    def get_claims() -> results.Claims:
        return run(svc.get_claims)

    @server.tool(name=Tool.HOOK.value, structured_output=False,
                 description="Called by coord's hooks; not for agents.")
    def hook(event: str = "", stop_hook_active: str = "", notification_type: str = "") -> str:
        return run(lambda: svc.hook(event, stop_hook_active, notification_type))

    for info in server._tool_manager.list_tools():  # the SDK validates with its own models, not these dicts
        results.strip_titles(info.parameters)
    return server


def main(extend: Callable[[Any], None] | None = None) -> None:
    """`coord mcp`: serve the tools over stdio for one agent session. extend(server) may add tools
    first (the benchmark's no-op baseline), so it measures exactly this server."""
    service = Service()
    if service.problem is not None:
        log(service.problem.line())
    server = build_server(service, autostart=True)
    if extend is not None:
        extend(server)

    def answer(arguments: dict[str, str]) -> str:
        return service.hook(arguments.get("event", ""), arguments.get("stop_hook_active", ""),
                            arguments.get("notification_type", ""))

    def on_error(exc: Exception) -> str:  # the text the SDK's tool error would carry
        return exc.line() if isinstance(exc, CoordError) else f"Error executing tool {Tool.HOOK.value}: {exc}"

    try:
        mcp_wire.serve(server, answer, on_error)  # coord_hook answered on the wire; the rest by the SDK
    except KeyboardInterrupt:
        pass
    finally:
        service.close()


if __name__ == "__main__":
    main()
