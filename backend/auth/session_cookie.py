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

import base64
import hashlib
from http.cookies import CookieError, SimpleCookie
from typing import Protocol

from backend.auth.crypto import SecretBox

SESSION_COOKIE = "llmdash_session"
COOKIE_PATH = "/_session"  # where the page trades a grant for the cookie (dashboard/session_cookie.py)
# A header no cross-site form or simple request can send: a foreign page's POST needs a preflight,
# which the CORS layer refuses, so no other site can plant its own session in a visitor's browser.
REQUEST_HEADER = "x-llmdash-session"
GRANT_SECONDS = 60
_GRANT_PREFIX = "session-grant:"
# How long a used grant stays recorded: as long as any replica could still open it. Fernet
# accepts a token stamped up to 60 s in its future (clock skew), so a replica whose clock lags
# the sealing one's opens it for up to GRANT_SECONDS + 60 s; +1 for the stamp's whole seconds.
CLAIM_SECONDS = GRANT_SECONDS + 60 + 1
_CLAIM_PREFIX = "session-grant:"  # the claim's key: this and the sha256 of the grant


class OneTimeClaims(Protocol):
    """The shared cache's set-if-absent (backend/cache: Redis with REDIS_URL, else in-process)."""

    async def claim(self, key: str, ttl: float) -> bool: ...


class CookieGrants:
    """Seals a session token into a one-time grant and opens it once, across every replica:
    a grant's use is claimed in the shared cache (Redis's SET NX PX with REDIS_URL), for as
    long as the grant could still be opened."""

    def __init__(self, box: SecretBox, claims: OneTimeClaims) -> None:
        self._box = box
        self._claims = claims

    def issue(self, session_token: str) -> str:
        return self._box.seal(_GRANT_PREFIX + session_token)

    async def redeem(self, grant: str) -> str | None:
        """The session token of a fresh, unused grant (None for anything else). A cache that
        cannot be reached raises: nothing is granted that might have been used elsewhere."""
        opened = self._box.unseal(grant, GRANT_SECONDS)
        if opened is None or not opened.startswith(_GRANT_PREFIX):
            return None  # only a genuine grant is recorded: made-up ones cost no cache entry
        if not await self._claims.claim(_CLAIM_PREFIX + _canonical_digest(grant), CLAIM_SECONDS):
            return None
        return opened.removeprefix(_GRANT_PREFIX) or None


def _canonical_digest(grant: str) -> str:
    """The sha256 of the grant's bytes, not of its text: Fernet's base64 decoding skips
    characters outside its alphabet and ignores a last character's unused bits, so `grant + "!"`
    or one letter up in the last place opens too. Keyed on the text, each spelling was a fresh
    grant (a used grant replayed); keyed on the decoded bytes, they are all one."""
    canonical = base64.urlsafe_b64decode(grant.encode("ascii"))  # opened above: valid base64
    return hashlib.sha256(canonical).hexdigest()


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
