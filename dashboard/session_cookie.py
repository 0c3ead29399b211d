"""`/_session`: where the page trades a one-time grant for its HttpOnly session cookie
(backend/auth/session_cookie.py says why), and where sign-out deletes it.

- `POST` with the grant as the body and the `X-LLMDash-Session` header: 204 and the cookie, or
  403 for a used (here or on another replica), late, forged or missing grant (nothing set), or
  503 while the shared cache (Redis) that records used grants cannot be reached;
- `DELETE` with the header: 204 and the cookie deleted;
- a request from another site's page (its Origin not this site's) or without the header: 403.
  The header makes every cross-origin request a preflighted one, which the CORS layer grants
  only to this site's origins.

Anything else goes on to the app.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from backend import runtime
from backend.auth.session_cookie import COOKIE_PATH, REQUEST_HEADER, clear_cookie_header, set_cookie_header
from backend.redis_client import REDIS_ERRORS
from dashboard.security_headers import origin_allowed

log = logging.getLogger(__name__)

MAX_GRANT_BYTES = 4096


def with_session_cookie_route(app: ASGIApp, get_runtime: Callable[[], Any] = runtime.current) -> ASGIApp:
    async def route(scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or str(scope.get("path", "")).rstrip("/") != COOKIE_PATH
            or scope.get("method") not in ("POST", "DELETE")
        ):
            await app(scope, receive, send)
            return
        headers = {n.decode("latin-1").lower(): v.decode("latin-1") for n, v in scope["headers"]}
        settings = get_runtime().settings
        origin, host = headers.get("origin", ""), headers.get("host", "")
        if REQUEST_HEADER not in headers or (origin and not origin_allowed(origin, host, settings)):
            await _answer(send, 403)
            return
        secure = settings.environment == "production"
        if scope["method"] == "DELETE":
            await _answer(send, 204, clear_cookie_header(secure))
            return
        grant = await _body(receive)
        try:
            token = await get_runtime().cookie_grants.redeem(grant) if grant else None
        except REDIS_ERRORS as exc:  # its use cannot be recorded where every replica looks
            log.warning("session grant refused: the shared cache is unreachable (%s)", type(exc).__name__)
            await _answer(send, 503)
            return
        if token is None:
            await _answer(send, 403)
            return
        await _answer(send, 204, set_cookie_header(token, int(settings.session_ttl_hours * 3600), secure))

    return route


async def _body(receive: Receive) -> str:
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if len(body) > MAX_GRANT_BYTES:
            return ""
        if not message.get("more_body", False):
            return body.decode("utf-8", "replace").strip()


async def _answer(send: Send, status: int, cookie: str = "") -> None:
    headers = [(b"cache-control", b"no-store"), (b"content-length", b"0")]
    if cookie:
        headers.append((b"set-cookie", cookie.encode("latin-1")))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": b""})
