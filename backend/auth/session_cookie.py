"""The browser's session cookie: HttpOnly, so no script on the page can read it.

A script cannot set an HttpOnly cookie either, so the server sets it in an HTTP answer. A
sign-in happens over the page's event socket; the handler then gives the page a *grant*: the
session token sealed with the server's key (ENCRYPTION_KEY), good for `GRANT_SECONDS` and
once. The page posts the grant to `COOKIE_PATH` and the answer sets the cookie. The grant is
not the session: the cookie it buys is one a script cannot read, and a used or late grant buys
nothing. Sign-out deletes the cookie the same way (`DELETE`).

The event socket learns the session from the cookie its handshake carries (dashboard/
event_socket.py), never from the page.
"""

from __future__ import annotations

import hashlib
import time
from http.cookies import CookieError, SimpleCookie

from backend.auth.crypto import SecretBox

SESSION_COOKIE = "llmdash_session"
COOKIE_PATH = "/_session"  # where the page trades a grant for the cookie (dashboard/session_cookie.py)
# A header no cross-site form or simple request can send: a foreign page's POST needs a preflight,
# which the CORS layer refuses, so no other site can plant its own session in a visitor's browser.
REQUEST_HEADER = "x-llmdash-session"
GRANT_SECONDS = 60
_GRANT_PREFIX = "session-grant:"


class CookieGrants:
    """Seals a session token into a one-time grant and opens it once (in this process; on
    other replicas, once each within GRANT_SECONDS)."""

    def __init__(self, box: SecretBox) -> None:
        self._box = box
        self._used: dict[str, float] = {}  # sha256 of used grants -> when they expire

    def issue(self, session_token: str) -> str:
        return self._box.seal(_GRANT_PREFIX + session_token)

    def redeem(self, grant: str) -> str | None:
        """The session token of a fresh, unused grant (None for anything else)."""
        now = time.monotonic()
        self._used = {k: until for k, until in self._used.items() if until > now}
        digest = hashlib.sha256(grant.encode("utf-8", "replace")).hexdigest()
        if digest in self._used:
            return None
        opened = self._box.unseal(grant, GRANT_SECONDS)
        if opened is None or not opened.startswith(_GRANT_PREFIX):
            return None
        self._used[digest] = now + GRANT_SECONDS + 1
        return opened.removeprefix(_GRANT_PREFIX) or None


def set_cookie_header(token: str, max_age_s: int, secure: bool) -> str:
    """The Set-Cookie value for the session: HttpOnly, same-site only, Secure in production."""
    parts = [f"{SESSION_COOKIE}={token}", "Path=/", f"Max-Age={max_age_s}", "HttpOnly", "SameSite=Strict"]
    if secure:
        parts.append("Secure")
    return "; ".join(parts)


def clear_cookie_header(secure: bool) -> str:
    return set_cookie_header("", 0, secure)


def session_in(cookie_header: str) -> str:
    """The session cookie's value in a Cookie header ("" when it has none or cannot be read)."""
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(cookie_header)
    except CookieError:
        return ""
    morsel = jar.get(SESSION_COOKIE)
    return morsel.value if morsel is not None else ""
