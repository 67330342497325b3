"""A scripted OpenAI Responses API on loopback for the real Codex CLI (`codex exec`).

Codex POSTs `/v1/responses` with `"stream": true` to a custom model provider (`wire_api =
"responses"` in $CODEX_HOME/config.toml); the answer is server-sent events: response.created,
one response.output_item.done per output item (a `function_call` with call_id, name and JSON
arguments, or an assistant `message`), then response.completed. The CLI runs the function call
(MCP tools included) and sends its `function_call_output` in the next request's `input`.
"""

from __future__ import annotations

import json
from typing import Any

from tests.e2e.loopback import LoopbackModel, Reply, sse
from tests.e2e.model import Text, ToolCall


def _usage() -> dict[str, Any]:
    return {"input_tokens": 10, "input_tokens_details": {"cached_tokens": 0}, "output_tokens": 5,
            "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": 15}


class CodexModel(LoopbackModel):
    """The Responses API, streamed. Tool names are as Codex lists them in the request's `tools`."""

    def is_main(self, path: str, body: dict[str, Any]) -> bool:
        return path.split("?", 1)[0].endswith("/responses")

    def side_answer(self, path: str, body: dict[str, Any]) -> Reply:
        if path.startswith("GET") and "/models" in path:
            return Reply(json_body={"models": []})
        return Reply(status=404, json_body={"error": {"message": "scripted", "type": "not_found"}})

    def answer(self, path: str, body: dict[str, Any], step: ToolCall | Text, call_id: str) -> Reply:
        response_id = call_id.replace("call_", "resp_", 1)
        if isinstance(step, ToolCall) and step in self.calls and self.needs_search(body, step.name):
            # Like a real model: the tool is deferred, so search for it first; the step is called in
            # the next request, once the search's output has loaded its namespace.
            with self._lock:
                self.steps.insert(0, step)
                self.calls.remove(step)
            step = ToolCall("tool_search", {"query": step.name, "limit": 20})
        if isinstance(step, ToolCall) and step.name == "tool_search":
            item: dict[str, Any] = {"type": "tool_search_call", "id": call_id.replace("call_", "ts_", 1),
                                    "call_id": call_id, "status": "completed", "execution": "client",
                                    "arguments": step.input}
        elif isinstance(step, ToolCall) and step.name == "apply_patch":  # a freeform tool: the patch as is
            item = {"type": "custom_tool_call", "id": call_id.replace("call_", "ctc_", 1), "call_id": call_id,
                    "name": step.name, "input": str(step.input.get("patch", "")), "status": "completed"}
        elif isinstance(step, ToolCall):
            item = {"type": "function_call", "id": call_id.replace("call_", "fc_", 1),
                    "call_id": call_id, **self.wire_name(body, step.name),
                    "arguments": json.dumps(step.input), "status": "completed"}
        else:
            item = {"type": "message", "id": call_id.replace("call_", "msg_", 1), "role": "assistant",
                    "status": "completed",
                    "content": [{"type": "output_text", "text": step.text, "annotations": []}]}
        created = {"id": response_id, "object": "response", "status": "in_progress", "output": []}
        done = {**created, "status": "completed", "output": [item], "usage": _usage()}
        return Reply(frames=(
            sse({"type": "response.created", "response": created}, "response.created"),
            sse({"type": "response.output_item.added", "output_index": 0, "item": item}, "response.output_item.added"),
            sse({"type": "response.output_item.done", "output_index": 0, "item": item}, "response.output_item.done"),
            sse({"type": "response.completed", "response": done}, "response.completed"),
        ))

    def needs_search(self, body: dict[str, Any], name: str) -> bool:
        offered = {t.get("type") for t in body.get("tools", []) if isinstance(t, dict)}
        return name.startswith("coord_") and "tool_search" in offered and not self._find(body, name)

    # -- reading requests -----------------------------------------------------------------------
    @staticmethod
    def tool_names(body: dict[str, Any]) -> list[str]:
        names = []
        for tool in body.get("tools", []):
            if isinstance(tool, dict):
                names.append(str(tool.get("name") or tool.get("type") or ""))
                for inner in tool.get("tools", []) if isinstance(tool.get("tools"), list) else []:
                    if isinstance(inner, dict):
                        names.append(f"{tool.get('name', '')}{inner.get('name', '')}")
        return names

    @staticmethod
    def _find(body: dict[str, Any], name: str) -> dict[str, str] | None:
        """How to call name: offered in `tools`, or loaded by an earlier tool_search's output."""
        searches = [i for i in body.get("input", []) if isinstance(i, dict) and i.get("type") == "tool_search_output"]
        loaded = [t for item in searches for t in item.get("tools", []) if isinstance(t, dict)]
        for tool in [*body.get("tools", []), *loaded]:
            if not isinstance(tool, dict):
                continue
            if tool.get("name") == name and tool.get("type") != "namespace":
                return {"name": name}
            inner = tool.get("tools") if isinstance(tool.get("tools"), list) else []
            if tool.get("type") == "namespace" and any(isinstance(t, dict) and t.get("name") == name for t in inner):
                return {"namespace": str(tool["name"]), "name": name}
        return None

    def wire_name(self, body: dict[str, Any], name: str) -> dict[str, str]:
        """The script names coord's tools by their plain name (coord_heartbeat); Codex lists an MCP
        server's tools in a namespace (`mcp__coord`): a call then names the namespace and the tool."""
        found = self._find(body, name)
        if found is not None:
            return found
        self.errors.append(f"tool {name} not offered (offered: {', '.join(self.tool_names(body))})")
        return {"name": name}

    def outputs(self) -> list[str]:
        """The output text of every function call the CLI answered, in order (last request holds all)."""
        if not self.main_requests:
            return []
        found = []
        for item in self.main_requests[-1].get("input", []):
            if isinstance(item, dict) and item.get("type") in ("function_call_output", "custom_tool_call_output"):
                output = item.get("output")
                found.append(output if isinstance(output, str) else json.dumps(output))
        return found
