"""The stdio wire of `coord mcp`: the SDK's stdio transport, except that `coord_hook` calls are
answered where their line is read.

Why: Claude Code calls `coord_hook` after every tool call of every agent (mcp_tool hooks). Through
the SDK each such call cost about 1.3 ms of CPU in this process on a quiet machine and 2-3 ms inside
a real session: a worker-thread hop to read the line, pydantic validation of the request and of
the arguments, a hop for the sync tool, serialising the result, two more hops to write it. The
issue's budget for everything a tool call adds, Claude Code's side included, is 2 ms. Answered on
the reader thread with the standard json module, a call costs a fraction of that (bench row 9b).
Every other message goes to the SDK exactly as its own stdio transport would send it.

The decisions (`hook_call`, `hook_reply`) are pure: they take a line and return values. `serve`
is the adapter: file descriptors, the reader thread and the SDK's streams. Like the SDK, it moves
fd 0 to the null device and fd 1 to stderr while serving, so a stray print (ours or a library's)
cannot corrupt the wire.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, Any

from coord.catalog.claude import Tool

HOOK_TOOL = Tool.HOOK.value
HOOK_PARAMS = ("event", "stop_hook_active", "notification_type")  # coord_hook's arguments, all strings


@dataclass(frozen=True)
class HookCall:
    """A `tools/call` of coord_hook whose arguments the fast path can take as they are."""

    id: int | str
    arguments: dict[str, str]
    modern: bool = False  # sent in a 2026-era per-request envelope: the reply carries that era's fields


@dataclass(frozen=True)
class Era:
    """What the SDK knows about protocol eras, taken from it once (the wire never guesses them)."""

    version_key: str  # the request _meta key naming its protocol version
    modern: tuple[str, ...]  # versions whose results carry resultType and the serverInfo stamp
    server_key: str  # the result _meta key of that stamp
    stamp: dict[str, Any]  # this server's Implementation, as the SDK stamps it


def hook_call(line: bytes, era: Era) -> HookCall | None:
    """The coord_hook call this line carries, or None: anything else, or anything unusual about it
    (unknown or non-string arguments, a batch, bad JSON) goes to the SDK, which validates and
    answers it exactly as it answers every other request."""
    if HOOK_TOOL.encode() not in line:  # the common case of other traffic: no parse at all
        return None
    try:
        message = json.loads(line)
    except ValueError:
        return None
    if not isinstance(message, dict) or message.get("jsonrpc") != "2.0" or message.get("method") != "tools/call":
        return None
    ident = message.get("id")
    params = message.get("params")
    if isinstance(ident, bool) or not isinstance(ident, int | str) or not isinstance(params, dict):
        return None
    if params.get("name") != HOOK_TOOL:
        return None
    arguments = params.get("arguments")
    arguments = {} if arguments is None else arguments
    if not isinstance(arguments, dict):
        return None
    if any(k not in HOOK_PARAMS or not isinstance(v, str) for k, v in arguments.items()):
        return None
    meta = params.get("_meta")
    modern = isinstance(meta, dict) and meta.get(era.version_key) in era.modern
    return HookCall(ident, arguments, modern)


def hook_reply(call: HookCall, text: str, era: Era, error: bool = False) -> bytes:
    """The JSON-RPC response line the SDK would send for a tool returning text (structured output
    off), or for a tool error; in the 2026 era with the result type and server stamp it adds."""
    result: dict[str, Any] = {"content": [{"type": "text", "text": text}], "isError": error}
    if call.modern:
        result["resultType"] = "complete"
        result["_meta"] = {era.server_key: era.stamp}
    return json.dumps({"jsonrpc": "2.0", "id": call.id, "result": result}, ensure_ascii=False).encode() + b"\n"


# -- the adapter ------------------------------------------------------------------------------
class _Wire:
    """The protocol's own descriptors, moved off fd 0 and fd 1 while serving; one lock for writes,
    so a fast reply and an SDK message never interleave on the pipe."""

    def __init__(self) -> None:
        self.reader: IO[bytes] = os.fdopen(os.dup(0), "rb")
        self.writer: IO[bytes] = os.fdopen(os.dup(1), "wb")
        self._saved = (os.dup(0), os.dup(1))
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.close(null)
        os.dup2(2, 1)
        self.lock = threading.Lock()

    def write(self, line: bytes) -> None:
        with self.lock:
            self.writer.write(line)
            self.writer.flush()

    def restore(self) -> None:
        os.dup2(self._saved[0], 0)
        os.dup2(self._saved[1], 1)
        for fd in self._saved:
            os.close(fd)


Answer = Callable[[dict[str, str]], str]  # coord_hook's arguments -> its text; raises CoordError


def serve(server: Any, answer: Answer, on_error: Callable[[Exception], str]) -> None:
    """Serve server (an SDK MCPServer) over stdio until the client closes stdin. answer(arguments)
    is coord_hook's tool; on_error(exc) the one line a failed call returns (the SDK's tool error)."""
    import anyio

    anyio.run(_serve, server, answer, on_error)


async def _serve(server: Any, answer: Answer, on_error: Callable[[Exception], str]) -> None:
    import anyio
    import anyio.from_thread
    import anyio.to_thread
    import mcp_types as types
    from mcp.shared.message import SessionMessage
    from mcp_types import PROTOCOL_VERSION_META_KEY, SERVER_INFO_META_KEY
    from mcp_types.version import MODERN_PROTOCOL_VERSIONS

    lowlevel = server._lowlevel_server  # what MCPServer.run_stdio_async serves; the SDK has no public handle
    era = Era(PROTOCOL_VERSION_META_KEY, tuple(MODERN_PROTOCOL_VERSIONS), SERVER_INFO_META_KEY,
              lowlevel.server_info_stamp)
    wire = _Wire()
    inbound_send, inbound = anyio.create_memory_object_stream[SessionMessage | Exception](16)
    outbound, outbound_recv = anyio.create_memory_object_stream[SessionMessage](16)

    def read_loop() -> None:
        """On a worker thread for the whole session: hook calls answered here, the rest handed on."""
        try:
            for line in wire.reader:
                call = hook_call(line, era)
                if call is not None:
                    try:
                        reply = hook_reply(call, answer(call.arguments), era)
                    except Exception as exc:  # the SDK turns a failed tool into an error result, not a crash
                        reply = hook_reply(call, on_error(exc), era, error=True)
                    try:
                        wire.write(reply)
                    except OSError:  # the client closed its end: the session is over
                        return
                    continue
                item: SessionMessage | Exception
                try:
                    item = SessionMessage(types.jsonrpc_message_adapter.validate_json(line, by_name=False))
                except Exception as exc:  # the SDK's transport hands a bad line on as the exception
                    item = exc
                anyio.from_thread.run(inbound_send.send, item)
        finally:
            anyio.from_thread.run(inbound_send.aclose)

    async def write_loop() -> None:
        gone = False  # the client closed its end: what the SDK still sends is dropped, as it has nowhere to go
        async with outbound_recv:
            async for message in outbound_recv:
                if gone:
                    continue
                data = message.message.model_dump_json(by_alias=True, exclude_unset=True).encode() + b"\n"
                try:
                    await anyio.to_thread.run_sync(wire.write, data)
                except OSError:
                    gone = True

    try:
        async with anyio.create_task_group() as group:
            group.start_soon(write_loop)
            group.start_soon(lambda: anyio.to_thread.run_sync(read_loop, abandon_on_cancel=True))
            async with outbound:
                await lowlevel.run(inbound, outbound, lowlevel.create_initialization_options())
            group.cancel_scope.cancel()
    finally:
        wire.restore()
