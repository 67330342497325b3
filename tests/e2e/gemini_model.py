"""A scripted Gemini API on loopback for the real Gemini CLI (`gemini -p`).

With GOOGLE_GEMINI_BASE_URL pointing here and an API key, the CLI POSTs
`/v1beta/models/<model>:streamGenerateContent?alt=sse` for the main conversation (answered with
`data: <GenerateContentResponse>` frames) and `:generateContent` for side requests such as the
next-speaker check and model routing, which ask for JSON (answered from their response schema,
consuming nothing). A main answer is one candidate whose parts hold a `functionCall` {name, args}
or text; the CLI sends the tool's `functionResponse` in the next request's `contents`.
"""

from __future__ import annotations

import json
from typing import Any

from tests.e2e.loopback import LoopbackModel, Reply, sse
from tests.e2e.model import Text, ToolCall

USAGE = {"promptTokenCount": 10, "candidatesTokenCount": 5, "totalTokenCount": 15}


def candidate(parts: list[dict[str, Any]]) -> dict[str, Any]:
    return {"candidates": [{"content": {"role": "model", "parts": parts}, "finishReason": "STOP", "index": 0}],
            "usageMetadata": USAGE, "modelVersion": "scripted"}


class GeminiModel(LoopbackModel):
    """Main requests are the ones that offer function declarations (the agent's tools)."""

    def is_main(self, path: str, body: dict[str, Any]) -> bool:
        if ":streamGenerateContent" not in path and ":generateContent" not in path:
            return False
        return any(isinstance(t, dict) and t.get("functionDeclarations") for t in body.get("tools", []))

    def side_answer(self, path: str, body: dict[str, Any]) -> Reply:
        if ":countTokens" in path:
            return Reply(json_body={"totalTokens": 10})
        if ":generateContent" not in path and ":streamGenerateContent" not in path:
            return Reply(status=404, json_body={"error": {"code": 404, "message": "scripted", "status": "NOT_FOUND"}})
        config = body.get("generationConfig") or {}
        schema = config.get("responseJsonSchema") or config.get("responseSchema")
        text = json.dumps(self.fill(schema)) if isinstance(schema, dict) else self.fallback
        return self._reply(path, candidate([{"text": text}]))

    def fill(self, schema: dict[str, Any]) -> Any:
        """A value that fits a side request's JSON schema: the next-speaker check hears "user" (the
        turn is over), a router hears the default model, other strings a short text."""
        kind = str(schema.get("type", "object")).lower()
        if kind == "object":
            props = schema.get("properties") or {}
            return {k: self.fill_named(k, v) for k, v in props.items() if isinstance(v, dict)}
        if kind == "array":
            return []
        if kind == "boolean":
            return False
        if kind in ("integer", "number"):
            return schema.get("minimum", 1)
        return schema.get("enum", ["scripted"])[0]

    def fill_named(self, name: str, schema: dict[str, Any]) -> Any:
        if name == "next_speaker":
            return "user"
        if "enum" in schema and isinstance(schema["enum"], list) and schema["enum"]:
            return schema["enum"][0]
        return self.fill(schema)

    def answer(self, path: str, body: dict[str, Any], step: ToolCall | Text, call_id: str) -> Reply:
        if isinstance(step, ToolCall):
            part: dict[str, Any] = {"functionCall": {"name": self.wire_name(body, step.name), "args": step.input,
                                                     "id": call_id}}
        else:
            part = {"text": step.text}
        return self._reply(path, candidate([part]))

    @staticmethod
    def _reply(path: str, payload: dict[str, Any]) -> Reply:
        if ":streamGenerateContent" in path:
            return Reply(frames=(sse(payload),))
        return Reply(json_body=payload)

    # -- reading requests -----------------------------------------------------------------------
    @staticmethod
    def tool_names(body: dict[str, Any]) -> list[str]:
        return [str(d.get("name")) for t in body.get("tools", []) if isinstance(t, dict)
                for d in t.get("functionDeclarations", []) if isinstance(d, dict)]

    def wire_name(self, body: dict[str, Any], name: str) -> str:
        """The script names coord's tools by their plain name; Gemini CLI may qualify an MCP tool
        (mcp_coord_<tool>, or coord__<tool> on a clash): take the offered name that ends with it."""
        offered = self.tool_names(body)
        if name in offered:
            return name
        matches = [n for n in offered if n.endswith(name)]
        if not matches:
            self.errors.append(f"tool {name} not offered (offered: {', '.join(offered)})")
            return name
        return matches[0]

    def outputs(self) -> list[str]:
        """The response of every function call the CLI answered, as JSON text, in order."""
        if not self.main_requests:
            return []
        found = []
        for content in self.main_requests[-1].get("contents", []):
            for part in content.get("parts", []) if isinstance(content, dict) else []:
                if isinstance(part, dict) and "functionResponse" in part:
                    found.append(json.dumps(part["functionResponse"].get("response")))
        return found
