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

- HTML pages get a script policy too (dashboard/script_policy.py): their own origin, their own
  inline scripts by hash, eval (Reflex's call_script needs it); no 'unsafe-inline'. Styles are
  left alone (Radix and Reflex set inline styles).
"""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from backend.settings import Settings, get_settings
from dashboard.script_policy import page_script_policy

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
CSP = b"content-security-policy"


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

        held: list[Message] = []  # an HTML page's start and body, until its scripts are hashed

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
                if CSP not in present and _is_html(headers):
                    held.append(message)
                    return
            elif held and message["type"] == "http.response.pathsend":  # a static file (Granian)
                body = await asyncio.to_thread(Path(message["path"]).read_bytes)
                held.append({"type": "http.response.body", "body": body})
                await _send_page(held, send, str(scope.get("path", "")), settings())
                return
            elif held and message["type"] == "http.response.body":
                held.append(message)
                if message.get("more_body", False):
                    return
                await _send_page(held, send, str(scope.get("path", "")), settings())
                return
            await send(message)

        await app(scope, receive, send_secured)

    return secured


def _is_html(headers: list[tuple[bytes, bytes]]) -> bool:
    kind = next((value for name, value in headers if name.lower() == b"content-type"), b"")
    return kind.lower().startswith(b"text/html")


async def _send_page(held: list[Message], send: Send, path: str, settings: Settings) -> None:
    """The held page with its policy: the usual one plus the scripts of this very page."""
    start, bodies = held[0], held[1:]
    body = b"".join(m.get("body", b"") for m in bodies)
    encoding = next((v for n, v in start["headers"] if n.lower() == b"content-encoding"), b"identity")
    scripts = page_script_policy(path, _decoded(body, encoding), settings.auth_provider == "firebase")
    policy = PAGE_HEADERS[0][1] + b"; " + scripts.encode("ascii")
    headers = [(n, policy if n == CSP else v) for n, v in start["headers"]]
    held.clear()
    await send({**start, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


def _decoded(body: bytes, encoding: bytes) -> bytes:
    """The page's text, to hash its scripts: Reflex serves its compiled pages gzipped (the
    build's precompressed `.gz` files). Another encoding gives no hashes (its inline scripts
    are refused, and the browser tests say so)."""
    if encoding.lower() in (b"identity", b""):
        return body
    if encoding.lower() == b"gzip":
        try:
            return gzip.decompress(body)
        except (OSError, EOFError):
            return b""
    return b""


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
