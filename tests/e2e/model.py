"""A scripted Anthropic Messages API on loopback, so the real Claude Code CLI can run with no network.

Each test gives a script: a list of steps the "model" takes in the main conversation (call a tool
with some input, or answer text and end the turn). Every request body is recorded so a test can
assert what the model was shown (system prompt, hook context, tool results, tool list).
Requests without tools (titles, summaries and other side requests) get a short text answer and
do not consume the script.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class ToolCall:
    """The model calls `name` with `input` (a JSON object) and stops with stop_reason tool_use."""

    name: str
    input: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Text:
    """The model answers `text` and ends its turn."""

    text: str


Step = ToolCall | Text | Callable[[dict[str, Any]], "ToolCall | Text"]


def _sse(event: str, data: dict[str, Any]) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data)}\n\n".encode()


def _message_start(msg_id: str, model: str) -> dict[str, Any]:
    return {
        "type": "message_start",
        "message": {
            "id": msg_id, "type": "message", "role": "assistant", "model": model, "content": [],
            "stop_reason": None, "stop_sequence": None,
            "usage": {"input_tokens": 10, "output_tokens": 1, "cache_creation_input_tokens": 0,
                      "cache_read_input_tokens": 0},
        },
    }


def stream_events(step: ToolCall | Text, msg_id: str, model: str, tool_id: str) -> list[bytes]:
    """The SSE frames the Messages API sends for one assistant message."""
    frames = [_sse("message_start", _message_start(msg_id, model))]
    if isinstance(step, ToolCall):
        block = {"type": "tool_use", "id": tool_id, "name": step.name, "input": {}}
        delta = {"type": "input_json_delta", "partial_json": json.dumps(step.input)}
        stop = "tool_use"
    else:
        block = {"type": "text", "text": ""}
        delta = {"type": "text_delta", "text": step.text}
        stop = "end_turn"
    frames += [
        _sse("content_block_start", {"type": "content_block_start", "index": 0, "content_block": block}),
        _sse("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": delta}),
        _sse("content_block_stop", {"type": "content_block_stop", "index": 0}),
        _sse("message_delta", {"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": None},
                               "usage": {"output_tokens": 5}}),
        _sse("message_stop", {"type": "message_stop"}),
    ]
    return frames


def whole_message(step: ToolCall | Text, msg_id: str, model: str, tool_id: str) -> dict[str, Any]:
    """The same answer as one JSON body, for requests that do not stream."""
    if isinstance(step, ToolCall):
        content = [{"type": "tool_use", "id": tool_id, "name": step.name, "input": step.input}]
        stop = "tool_use"
    else:
        content = [{"type": "text", "text": step.text}]
        stop = "end_turn"
    return {"id": msg_id, "type": "message", "role": "assistant", "model": model, "content": content,
            "stop_reason": stop, "stop_sequence": None, "usage": {"input_tokens": 10, "output_tokens": 5}}


class ScriptedModel:
    """Serve the script on 127.0.0.1:<free port>; use as a context manager."""

    def __init__(self, steps: list[Step], fallback: str = "done") -> None:
        self.steps = list(steps)
        self.fallback = fallback
        self.requests: list[dict[str, Any]] = []  # every POST body to /v1/messages, in order
        self.main_requests: list[dict[str, Any]] = []  # those that consumed (or wanted) a script step
        self.other_paths: list[str] = []
        self.errors: list[str] = []  # exceptions raised by callable steps
        self._lock = threading.Lock()
        self._counter = 0
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- what tests read -----------------------------------------------------------------------
    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def texts(self, request: dict[str, Any]) -> str:
        """All text the model was shown in one request: system prompt and every message block."""
        parts: list[str] = []
        system = request.get("system")
        if isinstance(system, str):
            parts.append(system)
        elif isinstance(system, list):
            parts += [b.get("text", "") for b in system if isinstance(b, dict)]
        for message in request.get("messages", []):
            content = message.get("content")
            if isinstance(content, str):
                parts.append(content)
                continue
            for block in content or []:
                if not isinstance(block, dict):
                    continue
                if block.get("type") == "text":
                    parts.append(block.get("text", ""))
                elif block.get("type") == "tool_result":
                    inner = block.get("content")
                    if isinstance(inner, str):
                        parts.append(inner)
                    elif isinstance(inner, list):
                        parts += [b.get("text", "") for b in inner if isinstance(b, dict)]
        return "\n".join(parts)

    def all_main_text(self) -> str:
        return "\n".join(self.texts(r) for r in self.main_requests)

    def tool_results(self) -> list[dict[str, Any]]:
        """Every tool_result block the CLI sent back, in order (last request holds them all)."""
        if not self.main_requests:
            return []
        results = []
        for message in self.main_requests[-1].get("messages", []):
            content = message.get("content")
            if isinstance(content, list):
                results += [b for b in content if isinstance(b, dict) and b.get("type") == "tool_result"]
        return results

    def tool_names(self) -> list[str]:
        """Names of the tools offered in the first main request."""
        if not self.main_requests:
            return []
        return [t.get("name", "") for t in self.main_requests[0].get("tools", [])]

    # -- serving -------------------------------------------------------------------------------
    def _next(self, body: dict[str, Any]) -> ToolCall | Text:
        with self._lock:
            self._counter += 1
            if not body.get("tools"):
                return Text(self.fallback)
            self.main_requests.append(body)
            if not self.steps:
                return Text(self.fallback)
            step = self.steps.pop(0)
        if not callable(step):
            return step
        try:
            return step(body)
        except Exception as exc:  # a broken script must fail the test, not hang the CLI
            self.errors.append(f"{type(exc).__name__}: {exc}")
            return Text(f"script error: {exc}")

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        model = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def _reply(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                with model._lock:
                    model.other_paths.append(f"GET {self.path}")
                self._reply(404, {"type": "error", "error": {"type": "not_found_error", "message": "scripted"}})

            def do_HEAD(self) -> None:
                self.send_response(200)
                self.send_header("content-length", "0")
                self.end_headers()

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw or b"{}")
                except json.JSONDecodeError:
                    body = {}
                path = self.path.split("?", 1)[0]
                if path.endswith("/count_tokens"):
                    self._reply(200, {"input_tokens": 10})
                    return
                if not path.endswith("/v1/messages"):
                    with model._lock:
                        model.other_paths.append(f"POST {self.path}")
                    self._reply(404, {"type": "error", "error": {"type": "not_found_error", "message": "scripted"}})
                    return
                with model._lock:
                    model.requests.append(body)
                step = model._next(body)
                n = model._counter
                msg_id, tool_id, name = f"msg_{n:04d}", f"toolu_{n:04d}", str(body.get("model", "scripted"))
                if not body.get("stream"):
                    self._reply(200, whole_message(step, msg_id, name, tool_id))
                    return
                self.send_response(200)
                self.send_header("content-type", "text/event-stream")
                self.send_header("cache-control", "no-cache")
                self.send_header("connection", "close")
                self.end_headers()
                for frame in stream_events(step, msg_id, name, tool_id):
                    self.wfile.write(frame)
                self.wfile.flush()
                self.close_connection = True

        return Handler

    def __enter__(self) -> ScriptedModel:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._server is not None and self._thread is not None
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
