"""A real HTTP server on 127.0.0.1 speaking three LLM wire formats.

The SDK clients (openai, anthropic, ollama via LangChain) talk to it exactly as
they would to the real services, so the adapters are tested end to end without
mocks.  Routes:

    POST /v1/chat/completions   OpenAI chat completions, SSE `data:` lines + [DONE]
    GET  /v1/models             OpenAI model list
    POST /v1/messages           Anthropic Messages, SSE with named events
    POST /api/chat              Ollama NDJSON stream
    GET  /api/tags              Ollama model list

`mode` picks the behaviour of streaming routes: "ok", "401", "429" (with
Retry-After), "404" (Ollama only: model not pulled), "error_event" (provider error event after two chunks),
"drop" (connection cut mid-body after two chunks), "slow" (no answer for
`delay` seconds), "stall" (two chunks, then silence for `delay` seconds).
Responses are chunked so a cut connection is detectable as an incomplete body. Answers
close their connection unless `keep_alive` (the benchmarks': a provider's API keeps its
connections open); small writes go out at once (no Nagle delay), as a provider's do.

`responder` (OpenAI route only), when set, computes the reply chunks from the request body,
e.g. a structured JSON verdict on the answers a judge prompt carries.

`api_key` (empty: no check) makes every route except Ollama's demand that key,
as `Authorization: Bearer <key>` or `x-api-key: <key>` (Anthropic SDKs send one or
the other, by version), and answer 401 in the provider's format otherwise.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.support.local_http import LocalHTTPServer


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class FakeLLMServer(LocalHTTPServer):
    reply: list[str] = field(default_factory=lambda: ["Hello", ", wor", "ld", "!", " Bye."])
    mode: str = "ok"
    input_tokens: int = 11
    output_tokens: int = 5
    finish_reason: str = "stop"
    retry_after: str = "7"
    delay: float = 3.0
    ollama_models: list[str] = field(default_factory=lambda: ["llama3.2:latest", "qwen2.5:7b"])
    openai_models: list[str] = field(default_factory=lambda: ["local-a", "local-b"])
    api_key: str = ""
    responder: Callable[[Any], list[str]] | None = None
    keep_alive: bool = False
    requests: list[RecordedRequest] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._listen(_Handler)

    @property
    def url(self) -> str:
        return self.origin

    def last_body(self, path: str) -> Any:
        return [r for r in self.requests if r.path == path][-1].body


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    state: FakeLLMServer

    def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
        pass

    # --- plumbing -----------------------------------------------------------
    def _record(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        body = json.loads(raw) if raw else None
        path = self.path.split("?")[0]
        headers = {k.lower(): v for k, v in self.headers.items()}
        self.state.requests.append(RecordedRequest(self.command, path, headers, body))
        return body

    def _json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if not self.state.keep_alive:
            self.send_header("Connection", "close")
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def _start_stream(self, content_type: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Transfer-Encoding", "chunked")
        if not self.state.keep_alive:
            self.send_header("Connection", "close")
        self.end_headers()

    def _send(self, text: str) -> None:
        data = text.encode()
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _finish(self) -> None:
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _authorized(self) -> bool:
        key = self.state.api_key
        if not key:
            return True
        return self.headers.get("Authorization") == f"Bearer {key}" or self.headers.get("x-api-key") == key

    def _error_status(self, errors: dict[str, Any]) -> bool:
        """Answer a wrong key and the error-status modes (and delay "slow"); True when handled."""
        state = self.state
        if not self._authorized() and "401" in errors:
            self._json(401, errors["401"])
            return True
        if state.mode == "slow":
            time.sleep(state.delay)
        if state.mode in errors:
            headers = {"Retry-After": state.retry_after} if state.mode == "429" else {}
            self._json(int(state.mode), errors[state.mode], headers)
            return True
        return False

    def _cut_short(self, index: int) -> bool:
        """After two chunks in the failure modes: True when the stream must stop."""
        state = self.state
        if index < 2 or state.mode not in ("drop", "stall", "error_event"):
            return False
        if state.mode == "stall":
            time.sleep(state.delay)
        return state.mode != "error_event"

    # --- routes -------------------------------------------------------------
    def do_GET(self) -> None:
        self._record()
        state = self.state
        path = self.path.split("?")[0]
        if path == "/api/tags":
            models = [{"name": n, "model": n, "size": 1, "digest": "0"} for n in state.ollama_models]
            self._json(200, {"models": models})
        elif path == "/v1/models" and not self._authorized():
            self._json(
                401, {"error": {"message": "Incorrect API key provided", "type": "invalid_request_error"}}
            )
        elif path == "/v1/models":
            data = [{"id": n, "object": "model", "created": 0, "owned_by": "me"} for n in state.openai_models]
            self._json(200, {"object": "list", "data": data})
        else:
            self._json(404, {"error": "not found"})

    def do_POST(self) -> None:
        body = self._record()
        route = {
            "/v1/chat/completions": self._openai,
            "/v1/messages": self._anthropic,
            "/api/chat": self._ollama,
        }.get(self.path.split("?")[0])
        if route is None:
            self._json(404, {"error": "not found"})
        else:
            route(body)

    def _openai(self, body: dict[str, Any]) -> None:
        state = self.state
        errors = {
            "401": {"error": {"message": "Incorrect API key provided", "type": "invalid_request_error"}},
            "429": {"error": {"message": "Rate limit reached", "type": "requests", "code": "rate_limit"}},
        }
        if self._error_status(errors):
            return
        self._start_stream("text/event-stream")
        base = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": body["model"]}

        def event(choices: list[Any], **extra: Any) -> None:
            self._send(f"data: {json.dumps({**base, 'choices': choices, **extra})}\n\n")

        event([{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}])
        reply = state.reply if state.responder is None else state.responder(body)
        for index, piece in enumerate(reply):
            if self._cut_short(index):
                return
            if index == 2 and state.mode == "error_event":
                self._send(
                    'data: {"error": {"message": "The server had an error", "type": "server_error"}}\n\n'
                )
                return self._finish()
            event([{"index": 0, "delta": {"content": piece}, "finish_reason": None}])
        event([{"index": 0, "delta": {}, "finish_reason": state.finish_reason}])
        if (body.get("stream_options") or {}).get("include_usage"):
            usage = {
                "prompt_tokens": state.input_tokens,
                "completion_tokens": state.output_tokens,
                "total_tokens": state.input_tokens + state.output_tokens,
            }
            event([], usage=usage)
        self._send("data: [DONE]\n\n")
        self._finish()

    def _anthropic(self, body: dict[str, Any]) -> None:
        state = self.state
        errors = {
            "401": {
                "type": "error",
                "error": {"type": "authentication_error", "message": "invalid x-api-key"},
            },
            "429": {"type": "error", "error": {"type": "rate_limit_error", "message": "Too many requests"}},
        }
        if self._error_status(errors):
            return
        self._start_stream("text/event-stream")

        def event(name: str, payload: dict[str, Any]) -> None:
            self._send(f"event: {name}\ndata: {json.dumps({'type': name, **payload})}\n\n")

        message = {
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "model": body["model"],
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": state.input_tokens, "output_tokens": 1},
        }
        event("message_start", {"message": message})
        event("content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}})
        event("ping", {})
        for index, piece in enumerate(state.reply):
            if self._cut_short(index):
                return
            if index == 2 and state.mode == "error_event":
                event("error", {"error": {"type": "overloaded_error", "message": "Overloaded"}})
                return self._finish()
            event("content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": piece}})
        event("content_block_stop", {"index": 0})
        # Like the live API, message_delta carries the cumulative usage.
        usage = {"input_tokens": state.input_tokens, "output_tokens": state.output_tokens}
        stop_reason = {"stop": "end_turn", "length": "max_tokens"}[state.finish_reason]
        event("message_delta", {"delta": {"stop_reason": stop_reason, "stop_sequence": None}, "usage": usage})
        event("message_stop", {})
        self._finish()

    def _ollama(self, body: dict[str, Any]) -> None:
        state = self.state
        errors = {
            "401": {"error": "unauthorized"},
            "404": {"error": f"model '{body['model']}' not found, try pulling it first"},
            "429": {"error": "too many requests"},
        }
        if self._error_status(errors):
            return
        self._start_stream("application/x-ndjson")
        stamp = "2025-01-01T00:00:00.000000Z"
        for index, piece in enumerate(state.reply):
            if self._cut_short(index):
                return
            if index == 2 and state.mode == "error_event":
                self._send(json.dumps({"error": "model runner has unexpectedly stopped"}) + "\n")
                return self._finish()
            message = {"role": "assistant", "content": piece}
            line = {"model": body["model"], "created_at": stamp, "message": message, "done": False}
            self._send(json.dumps(line) + "\n")
        final = {
            "model": body["model"],
            "created_at": stamp,
            "message": {"role": "assistant", "content": ""},
            "done": True,
            "done_reason": state.finish_reason,
            "total_duration": 1000,
            "prompt_eval_count": state.input_tokens,
            "eval_count": state.output_tokens,
        }
        self._send(json.dumps(final) + "\n")
        self._finish()
