"""A provider that refuses every key and echoes it back, the worst case for key hygiene.

Real APIs put (part of) the presented key in their 401 message ("Incorrect API
key provided: sk-...") and some OpenAI-compatible servers and proxies echo it
whole. The app must keep such text out of run errors, logs, events and pages.
Speaks enough OpenAI (chat completions, model list) and Anthropic (messages) for
the SDKs to raise their authentication error.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    seen: list[str]

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _key(self) -> str:
        bearer = self.headers.get("Authorization", "")
        return bearer.removeprefix("Bearer ").strip() or self.headers.get("x-api-key", "")

    def _refuse(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        key = self._key()
        self.seen.append(key)
        if self.path.startswith("/v1/messages"):
            body: dict[str, Any] = {
                "type": "error",
                "error": {"type": "authentication_error", "message": f"invalid x-api-key {key}"},
            }
        else:
            body = {
                "error": {
                    "message": f"Incorrect API key provided: {key}. You can find your API key at "
                    "https://platform.openai.com/account/api-keys.",
                    "type": "invalid_request_error",
                    "code": "invalid_api_key",
                }
            }
        data = json.dumps(body).encode()
        self.send_response(401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)

    do_GET = _refuse
    do_POST = _refuse


@contextmanager
def echoing_provider() -> Iterator[tuple[str, list[str]]]:
    """(base URL without /v1, keys presented so far) of a server that answers 401 to everything."""
    seen: list[str] = []

    class Handler(_Handler):
        pass

    Handler.seen = seen
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        host, port = server.server_address[:2]
        yield f"http://{host!s}:{port}", seen
    finally:
        server.shutdown()
        server.server_close()
