"""coord.mcp_wire's decisions: which lines the wire answers itself, and the reply it writes."""

from __future__ import annotations

import json
from typing import Any

import pytest

from coord.mcp_wire import Era, HookCall, hook_call, hook_reply

ERA = Era("io.modelcontextprotocol/protocolVersion", ("2026-07-28",), "io.modelcontextprotocol/serverInfo",
          {"name": "coord", "version": "1"})
ARGS = {"event": "PostToolUse", "notification_type": "", "stop_hook_active": ""}


def line(message: Any) -> bytes:
    return json.dumps(message).encode() + b"\n"


def call(ident: Any = 7, name: str = "coord_hook", arguments: Any = ARGS, **params: Any) -> bytes:
    return line({"jsonrpc": "2.0", "id": ident, "method": "tools/call",
                 "params": {"name": name, "arguments": arguments, **params}})


def test_a_hook_call_is_taken_with_its_id_and_arguments() -> None:
    assert hook_call(call(), ERA) == HookCall(7, ARGS)
    assert hook_call(call("abc"), ERA) == HookCall("abc", ARGS)
    assert hook_call(call(arguments=None), ERA) == HookCall(7, {})
    assert hook_call(call(arguments={"event": "Stop"}), ERA) == HookCall(7, {"event": "Stop"})


@pytest.mark.parametrize("data", [
    call(name="coord_get_presence"),
    call(name="coord_hook_x"),
    line({"jsonrpc": "2.0", "id": 7, "method": "tools/list", "params": {"name": "coord_hook"}}),
    line({"jsonrpc": "2.0", "method": "tools/call", "params": {"name": "coord_hook"}}),  # no id: a notification
    line([{"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"name": "coord_hook"}}]),  # a batch
    line({"jsonrpc": "1.0", "id": 7, "method": "tools/call", "params": {"name": "coord_hook"}}),
    call(ident=True), call(ident=None), call(ident=1.5), call(ident=[1]),
    call(arguments={"event": 1}),  # not a string: the SDK validates and says what is wrong
    call(arguments={"event": "PostToolUse", "role": "pm"}),  # coord_hook takes no such argument
    call(arguments=["PostToolUse"]),
    line({"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": "coord_hook"}),
    b'{"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"name": "coord_hook"',  # cut short
    b"\xff\xfe coord_hook",
])
def test_anything_else_goes_to_the_sdk(data: bytes) -> None:
    assert hook_call(data, ERA) is None


def test_the_era_comes_from_the_requests_envelope() -> None:
    modern = call(_meta={"io.modelcontextprotocol/protocolVersion": "2026-07-28"})
    older = call(_meta={"io.modelcontextprotocol/protocolVersion": "2025-06-18"})
    found, legacy = hook_call(modern, ERA), hook_call(older, ERA)
    assert found is not None and found.modern
    assert legacy is not None and not legacy.modern


def test_the_reply_is_a_text_result_and_the_2026_era_adds_its_fields() -> None:
    legacy = json.loads(hook_reply(HookCall(7, ARGS), "", ERA))
    assert legacy == {"jsonrpc": "2.0", "id": 7,
                      "result": {"content": [{"type": "text", "text": ""}], "isError": False}}
    modern = json.loads(hook_reply(HookCall("x", ARGS, modern=True), "é ✓", ERA, error=True))
    assert modern["id"] == "x" and modern["result"]["content"][0]["text"] == "é ✓"
    assert modern["result"]["isError"] is True and modern["result"]["resultType"] == "complete"
    assert modern["result"]["_meta"] == {"io.modelcontextprotocol/serverInfo": {"name": "coord", "version": "1"}}
    assert hook_reply(HookCall(7, ARGS), "a\nb", ERA).count(b"\n") == 1  # one line on the wire, always
