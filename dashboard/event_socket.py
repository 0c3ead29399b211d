"""The page's event socket (Reflex's `/_event`) never sees the browser's Cookie header.

A browser sends its cookies with the WebSocket handshake, and Reflex keeps the handshake's
headers as the tab's router data: in the state (in Redis with REDIS_URL), and in the log
line Reflex writes for every event it fails to process. The session cookie would go with
them. Nothing here reads cookies from headers: the session cookie reaches the state through
the hydrate event, which the page fills in from `document.cookie`. So the header is dropped
before Reflex sees the connection.
"""

from __future__ import annotations

from reflex_base.constants.event import Endpoint
from starlette.types import ASGIApp, Receive, Scope, Send

EVENT_SEGMENT = Endpoint.EVENT.value  # "_event", under any frontend/backend path prefix


def without_event_socket_cookies(app: ASGIApp) -> ASGIApp:
    async def strip(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("websocket", "http") and EVENT_SEGMENT in str(scope.get("path", "")).split("/"):
            headers = [(name, value) for name, value in scope.get("headers", []) if name.lower() != b"cookie"]
            scope = {**scope, "headers": headers}
        await app(scope, receive, send)

    return strip
