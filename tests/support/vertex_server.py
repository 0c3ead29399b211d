"""A real HTTP server on 127.0.0.1 speaking Vertex AI's REST protocol.

Google's own clients (google-genai under langchain-google-genai, the anthropic SDK's Vertex
client) reach it through their endpoint setting, as they would reach
`https://{location}-aiplatform.googleapis.com`, so adapters are tested end to end without
mocks.  Routes, under `/{v1|v1beta1}/projects/{project}/locations/{location}/publishers/`:

    google/models/{model}:streamGenerateContent   Gemini, SSE `data:` chunks (with ?alt=sse)
                                                  or one JSON array; usageMetadata on each chunk
    google/models/{model}:generateContent         Gemini, one JSON response
    google/models/{model}:predict                 text embeddings (text-embedding-005, ...)
    google/models/{model}:embedContent            Gemini embeddings, one text
    google/models/{model}:batchEmbedContents      Gemini embeddings (gemini-embedding-001, ...)
    anthropic/models/{model}:streamRawPredict      Claude on Vertex, Anthropic Messages SSE
    anthropic/models/{model}:rawPredict            Claude on Vertex, one Messages response

Every route demands `Authorization: Bearer <token>` (what an access token or ADC sends) and
answers 401 UNAUTHENTICATED otherwise.  `mode` picks the behaviour of the chat routes:

    "ok"            the reply in chunks, finishReason STOP (or `finish_reason`)
    "403"           PERMISSION_DENIED (the project has not enabled Vertex AI, or no IAM role)
    "429"           RESOURCE_EXHAUSTED with a Retry-After header
    "safety"        two chunks, then a candidate with finishReason SAFETY and no text
    "prompt_blocked" promptFeedback.blockReason SAFETY and no candidates
    "error_event"   two chunks, then an `{"error": ...}` chunk (a 503 inside the stream)
    "drop"          two chunks, then the connection is cut mid-body
    "slow"          no answer for `delay` seconds;  "stall": two chunks, then `delay` s of silence

A prompt longer than `max_prompt_chars` is refused with 400 INVALID_ARGUMENT, as Vertex AI
refuses one over the model's input token limit.

Embeddings are deterministic: each word is hashed into one of `embedding_dimensions` buckets
and the vector normalised, so texts sharing words are close (cosine) and a search test can
rank documents without a model.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.support.local_http import LocalHTTPServer

_ROUTE = re.compile(
    r"^/(?P<version>v1|v1beta1)/projects/(?P<project>[^/]+)/locations/(?P<location>[^/]+)"
    r"/publishers/(?P<publisher>google|anthropic)/models/(?P<model>[^/:]+):(?P<method>\w+)$"
)
_STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    503: "UNAVAILABLE",
}
_MESSAGES = {
    401: "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie "
    "or other valid authentication credential.",
    403: "Permission 'aiplatform.endpoints.predict' denied on resource (or it may not exist).",
    429: "Resource exhausted. Please try again later.",
    503: "The service is currently unavailable.",
}
_ANTHROPIC_ERRORS = {401: "authentication_error", 403: "permission_error", 429: "rate_limit_error"}


@dataclass
class VertexRequest:
    method: str  # "streamGenerateContent", "predict", ...
    publisher: str
    project: str
    location: str
    model: str
    version: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any


@dataclass
class VertexServer(LocalHTTPServer):
    reply: list[str] = field(default_factory=lambda: ["Hello", ", wor", "ld", "!", " Bye."])
    mode: str = "ok"
    token: str = "test-access-token"
    input_tokens: int = 11
    output_tokens: int = 5
    finish_reason: str = "STOP"
    retry_after: str = "7"
    delay: float = 3.0
    chunk_delay: float = 0.0  # seconds between streamed chunks
    max_prompt_chars: int = 10_000
    embedding_dimensions: int = 64
    requests: list[VertexRequest] = field(default_factory=list)
    hung_up: threading.Event = field(default_factory=threading.Event)  # a client closed a stream early
    chunks_sent: int = 0

    def __post_init__(self) -> None:
        self._listen(_Handler)

    @property
    def url(self) -> str:
        return self.origin

    def last(self, method: str) -> VertexRequest:
        return [r for r in self.requests if r.method == method][-1]

    def embed(self, text: str, dimensions: int | None = None) -> list[float]:
        """The vector the server returns for `text` (tests compare against it)."""
        size = dimensions or self.embedding_dimensions
        vector = [0.0] * size
        for word in re.findall(r"\w+", text.lower()):
            digest = hashlib.sha256(word.encode()).digest()
            vector[int.from_bytes(digest[:4], "big") % size] += 1.0 if digest[4] % 2 else -1.0
        norm = math.sqrt(sum(v * v for v in vector)) or 1.0
        return [v / norm for v in vector]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    state: VertexServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    # --- plumbing -----------------------------------------------------------
    def _json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def _google_error(self, status: int, message: str = "", headers: dict[str, str] | None = None) -> None:
        error = {"code": status, "message": message or _MESSAGES[status], "status": _STATUS_NAMES[status]}
        self._json(status, {"error": error}, headers)

    def _start_stream(self, content_type: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Connection", "close")
        self.end_headers()

    def _send(self, text: str) -> None:
        data = text.encode()
        try:
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()
        except ConnectionError:
            self.state.hung_up.set()
            raise

    def _finish(self) -> None:
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _error_mode(self, publisher: str) -> bool:
        """Answer a missing/wrong token and the error-status modes (and wait for "slow")."""
        state = self.state
        status = 0
        if self.headers.get("Authorization") != f"Bearer {state.token}":
            status = 401
        elif state.mode in ("403", "429"):
            status = int(state.mode)
        if state.mode == "slow":
            time.sleep(state.delay)
        if not status:
            return False
        headers = {"Retry-After": state.retry_after} if status == 429 else {}
        if publisher == "anthropic":
            error = {"type": _ANTHROPIC_ERRORS[status], "message": _MESSAGES[status]}
            self._json(status, {"type": "error", "error": error}, headers)
        else:
            self._google_error(status, headers=headers)
        return True

    def _cut_short(self, index: int) -> bool:
        """After two chunks in the failure modes: True when the stream must end here."""
        state = self.state
        if index < 2 or state.mode not in ("drop", "stall", "error_event", "safety"):
            return False
        if state.mode == "stall":
            time.sleep(state.delay)
        return state.mode in ("drop", "stall")

    # --- routing ------------------------------------------------------------
    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        match = _ROUTE.match(parts.path)
        if match is None:
            self._google_error(404, f"no route for {parts.path}")
            return
        request = VertexRequest(
            query=parse_qs(parts.query),
            headers={k.lower(): v for k, v in self.headers.items()},
            body=json.loads(raw) if raw else None,
            **match.groupdict(),
        )
        self.state.requests.append(request)
        handler = {
            ("google", "streamGenerateContent"): self._gemini_stream,
            ("google", "generateContent"): self._gemini_once,
            ("google", "predict"): self._embeddings,
            ("google", "embedContent"): self._embed_content,
            ("google", "batchEmbedContents"): self._batch_embed_contents,
            ("anthropic", "streamRawPredict"): self._claude_stream,
            ("anthropic", "rawPredict"): self._claude_once,
        }.get((request.publisher, request.method))
        if handler is None:
            self._google_error(404, f"unsupported method {request.method}")
        elif not self._error_mode(request.publisher):
            handler(request)

    # --- Gemini ---------------------------------------------------------------
    def _prompt_too_long(self, body: dict[str, Any]) -> bool:
        texts = [p.get("text", "") for c in body.get("contents", []) for p in c.get("parts", [])]
        system = body.get("systemInstruction") or {}
        texts += [p.get("text", "") for p in system.get("parts", [])]
        size = sum(len(t) for t in texts)
        if size <= self.state.max_prompt_chars:
            return False
        message = (
            f"The input token count ({math.ceil(size / 4)}) exceeds the maximum number of tokens "
            f"allowed ({math.ceil(self.state.max_prompt_chars / 4)})."
        )
        self._google_error(400, message)
        return True

    def _gemini_chunks(self, model: str) -> list[dict[str, Any]]:
        """The response chunks, each with the cumulative usage so far (as Vertex AI sends it)."""
        state = self.state
        if state.mode == "prompt_blocked":
            usage = {"promptTokenCount": state.input_tokens, "totalTokenCount": state.input_tokens}
            feedback = {"blockReason": "SAFETY", "blockReasonMessage": "The prompt was blocked."}
            return [{"promptFeedback": feedback, "usageMetadata": usage, "modelVersion": model}]
        chunks: list[dict[str, Any]] = []
        pieces = state.reply[:2] if state.mode == "safety" else state.reply
        for index, piece in enumerate(pieces):
            out = math.ceil(state.output_tokens * (index + 1) / len(state.reply))
            candidate: dict[str, Any] = {"content": {"role": "model", "parts": [{"text": piece}]}}
            chunks.append({"candidates": [candidate], "usageMetadata": _usage(state.input_tokens, out)})
        if state.mode == "safety":
            rating = {"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "probability": "HIGH", "blocked": True}
            last = {
                "content": {"role": "model", "parts": []},
                "finishReason": "SAFETY",
                "safetyRatings": [rating],
            }
            chunks.append({"candidates": [last], "usageMetadata": _usage(state.input_tokens, 2)})
        elif chunks:
            chunks[-1]["candidates"][0]["finishReason"] = state.finish_reason
            chunks[-1]["usageMetadata"] = _usage(state.input_tokens, state.output_tokens)
        for chunk in chunks:
            chunk.update(modelVersion=model, responseId="resp-1", createTime="2026-01-01T00:00:00Z")
        return chunks

    def _gemini_stream(self, request: VertexRequest) -> None:
        if self._prompt_too_long(request.body):
            return
        sse = request.query.get("alt") == ["sse"]
        self._start_stream("text/event-stream" if sse else "application/json")
        chunks = self._gemini_chunks(request.model)
        if not sse:  # without alt=sse the API streams one JSON array
            self._send("[" + ",\r\n".join(json.dumps(c) for c in chunks) + "]")
            return self._finish()
        for index, chunk in enumerate(chunks):
            if self._cut_short(index):
                return
            if index == 2 and self.state.mode == "error_event":
                error = {"code": 503, "message": _MESSAGES[503], "status": "UNAVAILABLE"}
                self._send(f"data: {json.dumps({'error': error})}\r\n\r\n")
                return self._finish()
            if index and self.state.chunk_delay:
                time.sleep(self.state.chunk_delay)
            self._send(f"data: {json.dumps(chunk)}\r\n\r\n")
            self.state.chunks_sent += 1
        self._finish()

    def _gemini_once(self, request: VertexRequest) -> None:
        if self._prompt_too_long(request.body):
            return
        chunks = self._gemini_chunks(request.model)
        merged = dict(chunks[-1])
        if "candidates" in merged:
            text = "".join(p.get("text", "") for c in chunks for p in c["candidates"][0]["content"]["parts"])
            candidate = dict(merged["candidates"][0], content={"role": "model", "parts": [{"text": text}]})
            merged["candidates"] = [candidate]
        self._json(200, merged)

    def _embeddings(self, request: VertexRequest) -> None:
        state = self.state
        instances = request.body.get("instances", [])
        parameters = request.body.get("parameters") or {}
        size = int(parameters.get("outputDimensionality") or state.embedding_dimensions)
        predictions = []
        for instance in instances:
            text = str(instance.get("content", ""))
            statistics = {"truncated": False, "token_count": len(re.findall(r"\w+", text))}
            predictions.append({"embeddings": {"values": state.embed(text, size), "statistics": statistics}})
        characters = sum(len(str(i.get("content", ""))) for i in instances)
        self._json(200, {"predictions": predictions, "metadata": {"billableCharacterCount": characters}})

    def _embed_content(self, request: VertexRequest) -> None:
        """The Gemini embedding models' single-text route (google-genai's EMBED_CONTENT)."""
        text = _parts_text(request.body.get("content") or {})
        size = (request.body.get("embedContentConfig") or request.body).get("outputDimensionality")
        usage = {"promptTokenCount": len(re.findall(r"\w+", text))}
        vector = self.state.embed(text, size)
        self._json(200, {"embedding": {"values": vector}, "usageMetadata": usage, "truncated": False})

    def _batch_embed_contents(self, request: VertexRequest) -> None:
        """gemini-embedding-* through google-genai's BATCH_EMBED_CONTENTS."""
        embeddings = []
        for item in request.body.get("requests", []):
            size = (item.get("embedContentConfig") or {}).get("outputDimensionality")
            text = _parts_text(item.get("content") or {})
            embeddings.append({"values": self.state.embed(text, size)})
        self._json(200, {"embeddings": embeddings})

    # --- Claude on Vertex (Anthropic Messages in the body, model in the URL) ------------------
    def _claude_stream(self, request: VertexRequest) -> None:
        state = self.state
        self._start_stream("text/event-stream")

        def event(name: str, payload: dict[str, Any]) -> None:
            self._send(f"event: {name}\ndata: {json.dumps({'type': name, **payload})}\n\n")

        event("message_start", {"message": _claude_message(request.model, state, [], None, 1)})
        event("content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}})
        for index, piece in enumerate(state.reply):
            if self._cut_short(index):
                return
            if index == 2 and state.mode == "error_event":
                event("error", {"error": {"type": "overloaded_error", "message": "Overloaded"}})
                return self._finish()
            event("content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": piece}})
        event("content_block_stop", {"index": 0})
        usage = {"input_tokens": state.input_tokens, "output_tokens": state.output_tokens}
        event("message_delta", {"delta": {"stop_reason": "end_turn", "stop_sequence": None}, "usage": usage})
        event("message_stop", {})
        self._finish()

    def _claude_once(self, request: VertexRequest) -> None:
        state = self.state
        content = [{"type": "text", "text": "".join(state.reply)}]
        self._json(200, _claude_message(request.model, state, content, "end_turn", state.output_tokens))


def _parts_text(content: dict[str, Any]) -> str:
    return " ".join(str(part.get("text", "")) for part in content.get("parts", []))


def _usage(prompt: int, candidates: int) -> dict[str, Any]:
    return {
        "promptTokenCount": prompt,
        "candidatesTokenCount": candidates,
        "totalTokenCount": prompt + candidates,
        "trafficType": "ON_DEMAND",
    }


def _claude_message(
    model: str, state: VertexServer, content: list[Any], stop_reason: str | None, output_tokens: int
) -> dict[str, Any]:
    return {
        "id": "msg_vrtx_1",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": {"input_tokens": state.input_tokens, "output_tokens": output_tokens},
    }
