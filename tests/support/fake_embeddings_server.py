"""A real HTTP server on 127.0.0.1 answering OpenAI's POST /v1/embeddings.

Its "model" hashes each word (and, for text without spaces such as Japanese, each character
pair) into a fixed number of dimensions and normalises: texts sharing words come out close,
so search tests can tell a relevant hit from an irrelevant one. `status` other than 200 makes
every answer that error; `requests` records each body; `api_key` (empty: none) is checked.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.support.local_http import LocalHTTPServer


def hashed_embedding(text: str, dimensions: int) -> list[float]:
    vector = [0.0] * dimensions
    words = re.findall(r"\w+", text.lower())
    tokens = [w for w in words if w.isascii()]
    for word in words:
        if not word.isascii():
            tokens.extend(word[i : i + 2] for i in range(max(1, len(word) - 1)))
    for token in tokens:
        digest = hashlib.sha256(token.encode()).digest()
        vector[int.from_bytes(digest[:4], "big") % dimensions] += 1.0
    norm = math.sqrt(sum(x * x for x in vector)) or 1.0
    return [x / norm for x in vector]


@dataclass
class FakeEmbeddingsServer(LocalHTTPServer):
    dimensions: int = 64
    status: int = 200
    api_key: str = ""
    requests: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._listen(_Handler)

    @property
    def url(self) -> str:
        return f"{self.origin}/v1"


class _Handler(BaseHTTPRequestHandler):
    state: FakeEmbeddingsServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        return None

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
        self.state.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
        answer: dict[str, Any]
        if self.path != "/v1/embeddings":
            status, answer = 404, {"error": {"message": "not found"}}
        elif self.state.api_key and self.headers.get("Authorization") != f"Bearer {self.state.api_key}":
            status, answer = 401, {"error": {"message": "Incorrect API key provided"}}
        elif self.state.status != 200:
            status, answer = self.state.status, {"error": {"message": "the embedding model is overloaded"}}
        else:
            inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
            status, answer = (
                200,
                {
                    "object": "list",
                    "model": body.get("model", ""),
                    "data": [
                        {
                            "object": "embedding",
                            "index": i,
                            "embedding": hashed_embedding(text, self.state.dimensions),
                        }
                        for i, text in enumerate(inputs)
                    ],
                    "usage": {"prompt_tokens": 0, "total_tokens": 0},
                },
            )
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
