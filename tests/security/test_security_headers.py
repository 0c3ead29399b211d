"""Every HTTP response of the running app carries the browser-hardening headers: pages (signed
in or not, the public share page), static assets, and the API, whose answers are never cached.

Field class: clickjacking of a signed-in page in a foreign iframe; MIME sniffing; share tokens
leaking through Referer; shared caches keeping a once-shown secret (a new API token)."""

from __future__ import annotations

import httpx
import pytest

from backend.auth.session_cookie import SESSION_COOKIE
from dashboard.security_headers import PAGE_HEADERS
from tests.security.live_app import LiveApp

pytestmark = [pytest.mark.redis]


def _hardened(response: httpx.Response) -> list[str]:
    """Which of the page headers are missing or different (an HTML page's policy goes on with
    its script policy: tests/security/test_script_policy.py)."""
    return [
        name.decode()
        for name, value in PAGE_HEADERS
        if response.headers.get(name.decode()) != value.decode()
        and not str(response.headers.get(name.decode(), "")).startswith(value.decode() + "; script-src ")
    ]


def test_pages_and_assets_cannot_be_framed_or_sniffed(live_app: LiveApp) -> None:
    with httpx.Client(base_url=live_app.url, timeout=30) as client:
        client.cookies.set(SESSION_COOKIE, live_app.ada.session_token)
        for path in ("/", "/login", "/history", "/share/not-a-token", "/favicon.ico", "/ping"):
            response = client.get(path)
            assert response.status_code < 500, path
            assert _hardened(response) == [], path
            assert "frame-ancestors 'none'" in response.headers["content-security-policy"]


def test_api_answers_are_never_stored(live_app: LiveApp) -> None:
    with httpx.Client(base_url=live_app.url, timeout=30, headers=live_app.ada.api_headers) as client:
        for method, path in (
            ("GET", "/api/v1/health"),
            ("GET", "/api/v1/comparisons"),
            ("GET", "/api/v1/models"),
            ("POST", "/api/v1/comparisons"),  # a 422: errors are private too
        ):
            response = client.request(method, path, json={} if method == "POST" else None)
            assert response.headers.get("cache-control") == "no-store", (method, path, response.status_code)
            assert _hardened(response) == [], path
