"""A bound on the size of an API request body (MAX_REQUEST_BYTES), checked before any of it
is parsed: a 10 MB prompt or a deeply nested document gets a 413, not a parser's worth of
memory. Only paths under the API prefix are limited; the page's Socket.IO traffic has
its own bound (Reflex's REFLEX_SOCKET_MAX_HTTP_BUFFER_SIZE, python-engineio's
max_http_buffer_size).
"""

from __future__ import annotations

import json
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from backend.i18n import N_, gettext, request_language

TOO_LARGE = N_("The request body is larger than {limit:,} bytes (MAX_REQUEST_BYTES).")


class BodySizeLimit:
    def __init__(self, app: ASGIApp, *, limit: Callable[[], int], prefix: str) -> None:
        self.app = app
        self._limit = limit
        self._prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not str(scope.get("path", "")).startswith(self._prefix):
            await self.app(scope, receive, send)
            return
        limit = self._limit()
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _too_large(scope, send, limit)
            return
        # Read the whole (bounded) body first, then hand it over in one piece.
        body, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await _too_large(scope, send, limit)
                return
            body.append(chunk)
            more = bool(message.get("more_body", False))
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(body), "more_body": False}
            return await receive()  # e.g. http.disconnect, which streaming responses wait for

        await self.app(scope, replay, send)


def _header(scope: Scope, wanted: bytes) -> str | None:
    for name, value in scope.get("headers", []):
        if name == wanted:
            return bytes(value).decode("latin-1")
    return None


def _content_length(scope: Scope) -> int | None:
    try:
        declared = _header(scope, b"content-length")
        return None if declared is None else int(declared)
    except ValueError:
        return None


async def _too_large(scope: Scope, send: Send, limit: int) -> None:
    # In the request's language, like the API's other messages (backend/api/app.py).
    language = request_language(_header(scope, b"cookie"), _header(scope, b"accept-language"))
    detail = gettext(language, TOO_LARGE, limit=limit)
    data = json.dumps({"detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": data})
