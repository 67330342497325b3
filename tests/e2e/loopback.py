"""The common part of the scripted models for Codex CLI and Gemini CLI: an HTTP server on 127.0.0.1
that records every request body and answers each "main" request (one that offers tools) with the
next step of a script (tests/e2e/model.py's ToolCall and Text), and every side request (titles,
routing, next-speaker checks) with a short answer that consumes nothing.

Each API's wire format lives in its own module (codex_model.py: the Responses API's server-sent
events; gemini_model.py: generateContent and streamGenerateContent?alt=sse); this one knows none.
"""

from __future__ import annotations

import json
import secrets
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.e2e.model import LoopbackServer, Step, Text, ToolCall


@dataclass(frozen=True)
class Reply:
    """One HTTP answer: a JSON body, or server-sent event frames."""

    status: int = 200
    json_body: Any = None
    frames: tuple[bytes, ...] = ()


class LoopbackModel(LoopbackServer):
    """Serve a script; subclasses say which requests are main ones and how to answer them."""

    def __init__(self, steps: list[Step], fallback: str = "done") -> None:
        self.steps = list(steps)
        self.fallback = fallback
        self.token = secrets.token_hex(4)  # in every call id this instance issues: unique per run
        self.requests: list[tuple[str, dict[str, Any]]] = []  # (path, body) of every POST
        self.main_requests: list[dict[str, Any]] = []
        self.calls: list[ToolCall] = []
        self.errors: list[str] = []
        self._counter = 0
        self._lock = threading.Lock()

    # -- what subclasses provide --------------------------------------------------------------
    def is_main(self, path: str, body: dict[str, Any]) -> bool:
        raise NotImplementedError

    def answer(self, path: str, body: dict[str, Any], step: ToolCall | Text, call_id: str) -> Reply:
        raise NotImplementedError

    def side_answer(self, path: str, body: dict[str, Any]) -> Reply:
        raise NotImplementedError

    def texts(self, body: dict[str, Any]) -> str:
        """Everything the model was shown in one request, as one string."""
        return json.dumps(body)

    # -- what tests read ----------------------------------------------------------------------
    def all_main_text(self) -> str:
        return "\n".join(self.texts(r) for r in self.main_requests)

    # -- serving ------------------------------------------------------------------------------
    def _next(self, body: dict[str, Any]) -> tuple[ToolCall | Text, str]:
        with self._lock:
            self._counter += 1
            call_id = f"call_{self.token}_{self._counter:04d}"
            self.main_requests.append(body)
            if not self.steps:
                return Text(self.fallback), call_id
            step = self.steps.pop(0)
        if callable(step):
            try:
                step = step(body)
            except Exception as exc:  # a broken script must fail the test, not hang the CLI
                self.errors.append(f"{type(exc).__name__}: {exc}")
                return Text(f"script error: {exc}"), call_id
        if isinstance(step, ToolCall):
            with self._lock:
                self.calls.append(step)
        return step, call_id

    def _handle(self, path: str, body: dict[str, Any]) -> Reply:
        with self._lock:
            self.requests.append((path, body))
        if not self.is_main(path, body):
            return self.side_answer(path, body)
        step, call_id = self._next(body)
        return self.answer(path, body, step, call_id)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        model = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def _send(self, reply: Reply) -> None:
                if reply.frames:
                    self.send_response(reply.status)
                    self.send_header("content-type", "text/event-stream")
                    self.send_header("cache-control", "no-cache")
                    self.send_header("connection", "close")
                    self.end_headers()
                    for frame in reply.frames:
                        self.wfile.write(frame)
                    self.wfile.flush()
                    self.close_connection = True
                    return
                data = json.dumps(reply.json_body if reply.json_body is not None else {}).encode()
                self.send_response(reply.status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                with model._lock:
                    model.requests.append((f"GET {self.path}", {}))
                self._send(model.side_answer(f"GET {self.path}", {}))

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length) if length else b""
                if self.headers.get("content-encoding") == "zstd":
                    model.errors.append("zstd-encoded request body: not readable by the scripted model")
                try:
                    body = json.loads(raw or b"{}")
                except (json.JSONDecodeError, UnicodeDecodeError):
                    body = {}
                self._send(model._handle(self.path, body if isinstance(body, dict) else {}))

        return Handler


def sse(data: dict[str, Any], event: str | None = None) -> bytes:
    """One server-sent event frame."""
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {json.dumps(data)}\n\n".encode()
