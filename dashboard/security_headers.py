"""Headers every HTTP response of the app carries (pages, assets, the API), unless the route set
its own.

- The app must not render inside another site's frame (clickjacking: a signed-in page under a
  foreign page's iframe): `frame-ancestors 'none'` and, for older browsers, X-Frame-Options.
- No MIME sniffing; no plugins; forms post to this origin only.
- No Referer: share links carry their token in the address.
- API answers are private (a new API token, a new share link, someone's comparison) and are
  never stored by a browser or proxy cache.

The policy leaves scripts and styles alone: the compiled Reflex front end needs its inline
bootstrap, and a script policy is a change of its own (see SECURITY.md, known and accepted).
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

PAGE_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (
        b"content-security-policy",
        b"frame-ancestors 'none'; object-src 'none'; base-uri 'self'; form-action 'self'",
    ),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
)
API_PREFIX = "/api/"
NO_STORE = (b"cache-control", b"no-store")


def with_security_headers(app: ASGIApp) -> ASGIApp:
    async def secured(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        extra = PAGE_HEADERS + ((NO_STORE,) if str(scope.get("path", "")).startswith(API_PREFIX) else ())

        async def send_secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [(name, value) for name, value in extra if name not in present]
                message = {**message, "headers": headers}
            await send(message)

        await app(scope, receive, send_secured)

    return secured
