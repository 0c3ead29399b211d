"""The page's event socket (Reflex's `/_event`) never sees the browser's Cookie header, yet
learns the session from it.

A browser sends its cookies with the WebSocket handshake, and Reflex keeps the handshake's
headers as the tab's router data: in the state (in Redis with REDIS_URL), in the state the
browser receives, and in the log line Reflex writes for every event it fails to process. So
the header is dropped before Reflex sees the connection, and only the session cookie's value
is kept, under `SESSION_SCOPE_KEY` of the connection's ASGI scope, which Reflex does not copy
anywhere. The session guard (state/session_guard.py) reads it from there: the session cookie
is HttpOnly, so the page itself can never pass it on.
"""

from __future__ import annotations

from reflex_base.constants.event import Endpoint
from starlette.types import ASGIApp, Receive, Scope, Send

from backend.auth.session_cookie import session_in

EVENT_SEGMENT = Endpoint.EVENT.value  # "_event", under any frontend/backend path prefix
SESSION_SCOPE_KEY = "llmdash.session"  # the handshake's session cookie (never in router data)


def without_event_socket_cookies(app: ASGIApp) -> ASGIApp:
    async def strip(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("websocket", "http") and EVENT_SEGMENT in str(scope.get("path", "")).split("/"):
            found = [value for name, value in scope.get("headers", []) if name.lower() == b"cookie"]
            cookies = b"; ".join(found)
            headers = [(name, value) for name, value in scope.get("headers", []) if name.lower() != b"cookie"]
            scope = {**scope, "headers": headers, SESSION_SCOPE_KEY: session_in(cookies.decode("latin-1"))}
        await app(scope, receive, send)

    return strip
