"""Headers every HTTP response of the app carries (pages, assets, the API), unless the route set
its own.

- The app must not render inside another site's frame (clickjacking: a signed-in page under a
  foreign page's iframe): `frame-ancestors 'none'` and, for older browsers, X-Frame-Options.
- No MIME sniffing; no plugins; forms post to this origin only.
- No Referer: share links carry their token in the address.
- API answers are private (a new API token, a new share link, someone's comparison) and are
  never stored by a browser or proxy cache.
- Cross-origin reads only for this site's own origins: Reflex's CORS layer reflects any Origin
  with credentials allowed; for an Origin that is neither this host, nor in CORS_ALLOWED_ORIGINS,
  nor (outside production) a loopback address, every `Access-Control-Allow-*` header is dropped,
  so a foreign page's credentialed request cannot read the answer.
- Redirects stay on this site: a redirect the app makes to its own host (Starlette's "add the
  trailing slash", built from the request's Host header) goes out relative, so a request with
  `Host: evil.example` is not sent to `http://evil.example/login/` (Host header poisoning of a
  cache or a link in front of the app).

The policy leaves scripts and styles alone: the compiled Reflex front end needs its inline
bootstrap, and a script policy is a change of its own (see SECURITY.md, known and accepted).
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from backend.settings import Settings, get_settings

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


def with_security_headers(app: ASGIApp, settings: Callable[[], Settings] = get_settings) -> ASGIApp:
    async def secured(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        extra = PAGE_HEADERS + ((NO_STORE,) if str(scope.get("path", "")).startswith(API_PREFIX) else ())

        host = _header(scope, b"host")
        origin = _header(scope, b"origin")
        foreign = bool(origin) and not origin_allowed(
            origin.decode("latin-1"), host.decode("latin-1"), settings()
        )

        async def send_secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (name, _relative(value, host) if name.lower() == b"location" else value)
                    for name, value in message.get("headers", [])
                    if not (foreign and name.lower().startswith(b"access-control-allow-"))
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


LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


def origin_allowed(origin: str, host: str, settings: Settings) -> bool:
    """This host's own origin, a configured one, or (outside production) a loopback one: the
    development front end on another port of this machine."""
    parts = urlsplit(origin)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return False
    if parts.netloc.lower() == host.lower():
        return True
    if origin.rstrip("/") in {o.rstrip("/") for o in settings.cors_allowed_origins}:
        return True
    return settings.environment != "production" and (parts.hostname or "") in LOOPBACK_HOSTS
