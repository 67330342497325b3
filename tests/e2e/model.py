"""A scripted Anthropic Messages API on loopback, so the real Claude Code CLI can run with no network.

Each test gives a script: a list of steps the "model" takes in the main conversation (call a tool
with some input, or answer text and end the turn). Every request body is recorded so a test can
assert what the model was shown (system prompt, hook context, tool results, tools offered).
Requests without tools (titles, summaries and other side requests) get a short text answer and
do not consume the script.

Newer CLIs (2.1.332) defer MCP tool schemas: the request's `tools` holds ToolSearch and the
deferred tools are only named in a system text. Like a real model, the script then calls
ToolSearch("select:NAME") first and the step's call in the next request (the CLI has added the
schema to `tools` by then); `ToolCall(..., search=False)` calls the deferred tool directly, which
the CLI also accepts. Searches the model inserts are recorded apart from the script's own calls
(`step_results`), so assertions read the same on every CLI version. Inputs of coord's tools are
checked against the schema the request carries, or, when the CLI deferred it, against coord's own
tool catalog (tests/e2e/catalog.py): a script cannot drift from the tools it drives.

Every tool_use id carries a token unique to the model instance: under `--resume` the CLI merges
the earlier history, and an id reused from it makes the CLI re-send the same call in a loop.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self


@dataclass(frozen=True)
class ToolCall:
    """The model calls `name` with `input` (a JSON object) and stops with stop_reason tool_use.
    search: when the CLI deferred the tool's schema, ToolSearch for it first (what a real model
    does); False calls it directly by name."""

    name: str
    input: dict[str, Any] = field(default_factory=dict)
    search: bool = True


@dataclass(frozen=True)
class Text:
    """The model answers `text` and ends its turn."""

    text: str


Step = ToolCall | Text | Callable[[dict[str, Any]], "ToolCall | Text"]

TOOL_SEARCH = "ToolSearch"
# How 2.1.332 names the deferred tools: a system text "The following deferred tools are now
# available via ToolSearch. ...:" followed by one name a line.
_DEFERRED_LIST = re.compile(r"deferred tools[^\n]*:\n((?:[A-Za-z0-9_.-]+\n?)+)", re.IGNORECASE)


@dataclass(frozen=True)
class Issued:
    """One tool_use the model sent. searched_for: the tool a ToolSearch was inserted for (None for
    the script's own calls)."""

    id: str
    name: str
    input: dict[str, Any]
    searched_for: str | None = None


def tool_names_of(request: dict[str, Any]) -> list[str]:
    """Names in the request's `tools` (deferred ones appear there only once searched for)."""
    return [str(t.get("name", "")) for t in request.get("tools", []) if isinstance(t, dict)]


def deferred_names_of(texts: str) -> list[str]:
    """Tools the CLI names as deferred (callable, schema behind ToolSearch)."""
    names: list[str] = []
    for match in _DEFERRED_LIST.finditer(texts):
        names += [line.strip() for line in match.group(1).splitlines() if line.strip()]
    return names


def is_deferred(request: dict[str, Any], name: str) -> bool:
    """True when the request offers ToolSearch but not `name`'s schema."""
    offered = tool_names_of(request)
    return TOOL_SEARCH in offered and name not in offered


def input_problems(schema: dict[str, Any] | None, name: str, given: dict[str, Any]) -> list[str]:
    """What is wrong with a call's input against a tool's JSON schema: unknown or missing parameters."""
    if schema is None:
        return []
    props = schema.get("properties") or {}
    problems = [f"{name}: unknown parameter {key!r} (known: {', '.join(sorted(props)) or 'none'})"
                for key in given if key not in props]
    problems += [f"{name}: missing required parameter {key!r}" for key in schema.get("required", [])
                 if key not in given]
    return problems


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


class LoopbackServer:
    """An HTTP server on 127.0.0.1:<free port> in a thread, for as long as the context lasts; the
    scripted models (this one, and tests.e2e.loopback's for Codex and Gemini) say how to answer."""

    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        raise NotImplementedError

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> Self:
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


class ScriptedModel(LoopbackServer):
    """Serve the script on 127.0.0.1:<free port>; use as a context manager."""

    def __init__(self, steps: list[Step], fallback: str = "done") -> None:
        self.steps = list(steps)
        self.fallback = fallback
        self.token = secrets.token_hex(4)  # in every id this instance issues: unique per run
        self.requests: list[dict[str, Any]] = []  # every POST body to /v1/messages, in order
        self.main_requests: list[dict[str, Any]] = []  # those that consumed (or wanted) a script step
        self.calls: list[Issued] = []  # every tool_use sent, searches included, in order
        self.other_paths: list[str] = []
        self.errors: list[str] = []  # exceptions raised by callable steps, inputs that fit no schema
        self._lock = threading.Lock()
        self._counter = 0
        self._pending: ToolCall | None = None  # a step waiting for the ToolSearch sent for it

    # -- what tests read -----------------------------------------------------------------------
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

    def step_results(self) -> list[dict[str, Any]]:
        """The tool_result blocks of the script's own calls, in order (not of inserted searches)."""
        inserted = {c.id for c in self.calls if c.searched_for is not None}
        return [r for r in self.tool_results() if r.get("tool_use_id") not in inserted]

    def searched(self) -> list[str]:
        """The tools the model searched for before calling them (empty when none was deferred)."""
        return [c.searched_for for c in self.calls if c.searched_for is not None]

    def request_after(self, step_call: int) -> dict[str, Any]:
        """The first main request carrying the result of the script's step_call-th tool call (0-based)."""
        own = [c for c in self.calls if c.searched_for is None]
        wanted = own[step_call].id
        for request in self.main_requests:
            for message in request.get("messages", []):
                content = message.get("content")
                if isinstance(content, list) and any(isinstance(b, dict) and b.get("tool_use_id") == wanted
                                                     for b in content):
                    return request
        raise AssertionError(f"no request carried the result of {wanted}")

    def offered_tools(self, request: dict[str, Any] | None = None) -> set[str]:
        """Every tool the CLI made reachable in a request (the first main one by default): listed in
        `tools` with its schema, or named as deferred behind ToolSearch. Where it lists them is the
        CLI's business; tests assert only that the tools are reachable."""
        if request is None:
            if not self.main_requests:
                return set()
            request = self.main_requests[0]
        return set(tool_names_of(request)) | set(deferred_names_of(self.texts(request)))

    def schema(self, request: dict[str, Any], name: str) -> dict[str, Any] | None:
        """A tool's input schema: the request's when the CLI sent it, else coord's own catalog for
        coord's tools (the CLI deferred it), else None."""
        for tool in request.get("tools", []):
            if isinstance(tool, dict) and tool.get("name") == name and isinstance(tool.get("input_schema"), dict):
                return dict(tool["input_schema"])
        from tests.e2e.catalog import coord_tool_schema

        return coord_tool_schema(name)

    # -- serving -------------------------------------------------------------------------------
    def _next(self, body: dict[str, Any]) -> tuple[ToolCall | Text, str]:
        """The answer to one request and the tool_use id it carries (if it calls a tool)."""
        with self._lock:
            self._counter += 1
            tool_id = f"toolu_{self.token}_{self._counter:04d}"
            if not body.get("tools"):
                return Text(self.fallback), tool_id
            self.main_requests.append(body)
            pending, self._pending = self._pending, None
            step: Step | None = pending
            if step is None:
                if not self.steps:
                    return Text(self.fallback), tool_id
                step = self.steps.pop(0)
        if callable(step):
            try:
                step = step(body)
            except Exception as exc:  # a broken script must fail the test, not hang the CLI
                self.errors.append(f"{type(exc).__name__}: {exc}")
                return Text(f"script error: {exc}"), tool_id
        if not isinstance(step, ToolCall):
            return step, tool_id
        with self._lock:
            if pending is None and step.search and is_deferred(body, step.name):
                self._pending = step  # called in the next request, once the schema is loaded
                query = {"query": f"select:{step.name}"}
                self.calls.append(Issued(tool_id, TOOL_SEARCH, query, searched_for=step.name))
                return ToolCall(TOOL_SEARCH, query), tool_id
            self.calls.append(Issued(tool_id, step.name, step.input))
        self.errors += input_problems(self.schema(body, step.name), step.name, step.input)
        return step, tool_id

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
                step, tool_id = model._next(body)
                msg_id, name = tool_id.replace("toolu_", "msg_", 1), str(body.get("model", "scripted"))
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

