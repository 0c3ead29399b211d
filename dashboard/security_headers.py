"""Headers every HTTP response of the app carries (pages, assets, the API), unless the route set
its own.

- The app must not render inside another site's frame (clickjacking: a signed-in page under a
  foreign page's iframe): `frame-ancestors 'none'` and, for older browsers, X-Frame-Options.
- No MIME sniffing; no plugins; forms post to this origin only.
- No Referer: share links carry their token in the address.
- API answers are private (a new API token, a new share link, someone's comparison) and are
  never stored by a browser or proxy cache.
- Redirects stay on this site: a redirect the app makes to its own host (Starlette's "add the
  trailing slash", built from the request's Host header) goes out relative, so a request with
  `Host: evil.example` is not sent to `http://evil.example/login/` (Host header poisoning of a
  cache or a link in front of the app).

The policy leaves scripts and styles alone: the compiled Reflex front end needs its inline
bootstrap, and a script policy is a change of its own (see SECURITY.md, known and accepted).
"""

from __future__ import annotations

from urllib.parse import urlsplit

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

        host = _header(scope, b"host")

        async def send_secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (name, _relative(value, host) if name.lower() == b"location" else value)
                    for name, value in message.get("headers", [])
                ]
                present = {name.lower() for name, _ in headers}
                headers += [(name, value) for name, value in extra if name not in present]
                message = {**message, "headers": headers}
            await send(message)

        await app(scope, receive, send_secured)

    return secured


def _header(scope: Scope, name: bytes) -> bytes:
    return next((value for key, value in scope.get("headers", []) if key.lower() == name), b"")


def _relative(location: bytes, host: bytes) -> bytes:
    """An absolute redirect to the request's own Host, as a path; any other left as it is."""
    parts = urlsplit(location.decode("latin-1"))
    if parts.scheme in ("http", "https") and host and parts.netloc.lower() == host.decode("latin-1").lower():
        path = parts.path if parts.path.startswith("/") else "/" + parts.path
        path = "/" + path.lstrip("/")  # never "//host": a protocol-relative address is absolute
        return (path + (f"?{parts.query}" if parts.query else "")).encode("latin-1")
    return location
