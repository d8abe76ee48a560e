"""A small OpenAI-compatible server on loopback for tests and benchmarks: the
edge of the world, where a model's weights would be. It speaks the real wire
protocol (JSON and server-sent-event streams, usage, error bodies), so the
real `openai` client is exercised end to end.

Behaviour is scripted per test: `script` is a queue of replies consumed in
order (text, JSON, an HTTP error status, a delay); when it is empty the server
answers deterministically from the request."""
from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

from engine.demo_model import example_for_schema


@dataclass
class Reply:
    text: str | None = None  # None: derived from the request
    status: int = 200  # 429, 500 ... answer with an error body instead
    delay_s: float = 0.0  # before the first byte
    token_delay_s: float | None = None  # between streamed chunks; None: the server's default
    usage: bool = True  # include a usage chunk when asked
    tool_calls: list[dict[str, Any]] | None = None  # [{"name", "arguments": dict or JSON text}]: a tool-calling turn


class _Server(ThreadingHTTPServer):
    # A fan-out opens a hundred connections at once; the default listen
    # backlog of 5 would make the rest wait for SYN retransmits.
    request_queue_size = 512

    def handle_error(self, request, client_address):
        import sys

        if isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            return  # the client gave up (a cancelled or timed-out call): expected in these tests
        super().handle_error(request, client_address)


@dataclass
class FakeOpenAI:
    latency_s: float = 0.0
    token_delay_s: float = 0.0
    timestamp_tokens: bool = False  # prefix each chunk with its send time, for latency benchmarks
    tokens_per_reply: int | None = None  # pad replies to this many chunks (benchmarks)
    script: deque = field(default_factory=deque)
    responder: Callable[[dict[str, Any]], Reply | None] | None = None
    requests: list[dict[str, Any]] = field(default_factory=list)
    # GET /models: what it lists, and (when set) the only keys it accepts.
    models: list[str] = field(default_factory=lambda: ["fake-model", "fake-model-large"])
    accepted_keys: set[str] | None = None
    authorizations: list[str] = field(default_factory=list)  # the Authorization header of every GET /models

    def __post_init__(self):
        self._lock = threading.Lock()
        handler = _handler_for(self)
        self.httpd = _Server(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def start(self) -> "FakeOpenAI":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def reset(self) -> None:
        with self._lock:
            self.script.clear()
            self.requests.clear()
            self.authorizations.clear()
        self.models = ["fake-model", "fake-model-large"]
        self.accepted_keys = None
        self.responder = None
        self.latency_s = 0.0
        self.token_delay_s = 0.0
        self.timestamp_tokens = False
        self.tokens_per_reply = None

    def next_reply(self, body: dict[str, Any]) -> Reply:
        with self._lock:
            self.requests.append(body)
            if self.script:
                return self.script.popleft()
        if self.responder is not None:
            reply = self.responder(body)
            if reply is not None:
                return reply
        return Reply()

    def default_text(self, body: dict[str, Any]) -> str:
        fmt = body.get("response_format") or {}
        if fmt.get("type") == "json_schema":
            return json.dumps(example_for_schema(fmt["json_schema"]["schema"], 7))
        last = next((m["content"] for m in reversed(body.get("messages", [])) if m.get("role") == "user"), "")
        return f"fake reply to: {last[:60]}"


def _chunks(text: str, count: int | None) -> list[str]:
    words = text.split(" ")
    pieces = [w + (" " if i < len(words) - 1 else "") for i, w in enumerate(words)]
    while count and len(pieces) < count:
        pieces.append(".")
    return [p for p in pieces if p]


def _handler_for(server: FakeOpenAI):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Streamed chunks are small writes: with Nagle's algorithm each waits
        # for the client's delayed ACK (40 ms here). Real endpoints disable it.
        disable_nagle_algorithm = True

        def log_message(self, *args):  # quiet
            pass

        def do_GET(self):
            if not self.path.rstrip("/").endswith("/models"):
                return self._json(404, {"error": {"message": f"unknown path {self.path}", "type": "not_found"}})
            authorization = self.headers.get("Authorization", "")
            server.authorizations.append(authorization)
            if server.accepted_keys is not None and authorization.removeprefix("Bearer ") not in server.accepted_keys:
                return self._json(401, {"error": {"message": "Incorrect API key provided", "type": "invalid_request_error", "code": "invalid_api_key"}})
            return self._json(200, {"object": "list", "data": [{"id": m, "object": "model", "created": 0, "owned_by": "fake"} for m in server.models]})

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            if not self.path.rstrip("/").endswith("/chat/completions"):
                return self._json(404, {"error": {"message": f"unknown path {self.path}", "type": "not_found"}})
            reply = server.next_reply(body)
            delay = reply.delay_s or server.latency_s
            if delay:
                time.sleep(delay)
            if reply.status != 200:
                kind = "rate_limit_exceeded" if reply.status == 429 else "server_error"
                return self._json(reply.status, {"error": {"message": f"scripted {reply.status}", "type": kind}})
            text = reply.text if reply.text is not None else ("" if reply.tool_calls else server.default_text(body))
            model = body.get("model", "fake-model")
            prompt_tokens = sum(len(str(m.get("content", "")).split()) for m in body.get("messages", []))
            pieces = _chunks(text, server.tokens_per_reply)
            usage = {"prompt_tokens": prompt_tokens, "completion_tokens": len(pieces), "total_tokens": prompt_tokens + len(pieces)}
            if not body.get("stream"):
                return self._json(200, {
                    "id": "chatcmpl-fake", "object": "chat.completion", "created": int(time.time()), "model": model,
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
                    "usage": usage,
                })
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            token_delay = reply.token_delay_s if reply.token_delay_s is not None else server.token_delay_s
            if reply.tool_calls is not None:
                pieces = _chunks(reply.text, None) if reply.text else []
            for index, piece in enumerate(pieces):
                if token_delay and index:
                    time.sleep(token_delay)
                content = f"<t{time.time():.6f}>" + piece if server.timestamp_tokens else piece
                self._event({"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 0, "model": model,
                             "choices": [{"index": 0, "delta": {"content": content}, "finish_reason": None}]})
            for number, call in enumerate(reply.tool_calls or []):
                arguments = call["arguments"] if isinstance(call["arguments"], str) else json.dumps(call["arguments"])
                half = len(arguments) // 2  # arguments arrive in pieces, as real endpoints send them
                for part_index, part in enumerate((arguments[:half], arguments[half:])):
                    delta = {"index": number, "function": {"arguments": part}}
                    if part_index == 0:
                        delta.update(id=f"call_{number}", type="function", function={"name": call["name"], "arguments": part})
                    self._event({"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 0, "model": model,
                                 "choices": [{"index": 0, "delta": {"tool_calls": [delta]}, "finish_reason": None}]})
            finish = "tool_calls" if reply.tool_calls else "stop"
            self._event({"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 0, "model": model,
                         "choices": [{"index": 0, "delta": {}, "finish_reason": finish}]})
            if reply.usage and (body.get("stream_options") or {}).get("include_usage"):
                self._event({"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 0, "model": model, "choices": [], "usage": usage})
            self._write(b"data: [DONE]\n\n")
            self._write(b"")

        def _event(self, payload: dict[str, Any]) -> None:
            self._write(b"data: " + json.dumps(payload).encode() + b"\n\n")

        def _write(self, data: bytes) -> None:
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()

        def _json(self, status: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler
