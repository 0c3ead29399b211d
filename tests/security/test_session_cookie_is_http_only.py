"""The session cookie is out of every script's reach (issue 15, browser hardening).

It was an ordinary cookie: the page read it from `document.cookie` to send it in the hydrate
event, so any script running on the page (an XSS, a compromised dependency) could read the
session and take it elsewhere. Now it is HttpOnly (and Secure in production), set only by the
server's answer to a one-time grant, and the event socket learns the session from the cookie
its handshake carries, without Reflex keeping the header in its router data (which the
browser's state receives). Tried here:

- the `/_session` route: a grant buys the cookie once; made-up, late, foreign-key, wrong-kind
  (a stored provider key's ciphertext, sealed with the same key), empty and oversized grants,
  a request without the header or from another site's page buy nothing; a used grant spelled
  otherwise (a character base64 skips, a last letter's unused bits) buys nothing either;
- once across replicas: two runtimes sharing Redis (each its own client), a grant used on one
  is refused on the other, and of twelve requests racing with one grant on both, one wins; in
  one embedded process the same race; Redis unreachable: 503, nothing granted;
- the event socket's layer: the Cookie header (one or several, with other cookies) never
  reaches Reflex; only the session's value goes aside; other paths keep their cookies;
- the running app: a session sent by the page in an event proves nothing, the handshake's
  cookie does, and no received state carries the cookie header or the session;
- a real browser: `document.cookie` holds no session; sign-in, reload, a streaming run and
  sign-out still work, with no CSP violation.

Field class: session theft by script (HttpOnly missing: OWASP session management; Open WebUI
tokens in localStorage), Reflex router data exposing request headers to the client.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import string
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from cryptography.fernet import Fernet, MultiFernet
from playwright.sync_api import Browser, ConsoleMessage, expect

from backend.auth.crypto import SecretBox
from backend.auth.session_cookie import (
    COOKIE_PATH,
    GRANT_SECONDS,
    REQUEST_HEADER,
    SESSION_COOKIE,
    CookieGrants,
)
from backend.cache import InProcessResponseCache, make_response_cache
from backend.runtime import Runtime, running
from backend.settings import Settings
from dashboard.event_socket import SESSION_SCOPE_KEY, without_event_socket_cookies
from dashboard.session_cookie import with_session_cookie_route
from devstack.postgres import make_migrated_database_url
from tests.backend.runtime_support import make_settings
from tests.redis_support import TEST_REDIS_URL, redis_prefix
from tests.security.live_app import LiveApp
from tests.security.raw_socket import HYDRATE, RawTab

TOKEN = "a-session-token-0123456789abcdef"
ORIGIN = "http://app.example"


@dataclass
class _Runtime:
    """What the route reads of the runtime: its settings and its grants (both real)."""

    settings: Settings
    cookie_grants: CookieGrants


def _box() -> SecretBox:
    return SecretBox(MultiFernet([Fernet(Fernet.generate_key())]))


def _grants() -> CookieGrants:
    return CookieGrants(_box(), InProcessResponseCache())


async def _app_behind(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 404, "headers": []})
    await send({"type": "http.response.body", "body": b"the app"})


def _client_of(rt: Any) -> httpx.AsyncClient:
    """The route in front of an app, reading `rt` as it reads the running runtime."""
    app = with_session_cookie_route(_app_behind, get_runtime=lambda: rt)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=ORIGIN)


def _route(environment: str = "development") -> tuple[httpx.AsyncClient, _Runtime]:
    rt = _Runtime(Settings(_env_file=None, environment=environment), _grants())
    return _client_of(rt), rt


async def _post(client: httpx.AsyncClient, grant: str | bytes, **headers: str) -> httpx.Response:
    return await client.post(COOKIE_PATH, content=grant, headers={REQUEST_HEADER: "1", **headers})


async def test_a_grant_buys_the_http_only_cookie_once() -> None:
    client, rt = _route()
    grant = rt.cookie_grants.issue(TOKEN)
    assert TOKEN not in grant  # the page holds a sealed grant, never the session
    first = await _post(client, grant, origin=ORIGIN)
    assert first.status_code == 204
    cookie = first.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}={TOKEN};")
    assert {"HttpOnly", "SameSite=Strict", "Path=/"} <= {p.strip() for p in cookie.split(";")}
    assert "Secure" not in cookie  # development over http: a Secure cookie would never be sent
    again = await _post(client, grant)
    assert again.status_code == 403 and "set-cookie" not in again.headers
    gone = await client.delete(COOKIE_PATH, headers={REQUEST_HEADER: "1"})
    assert gone.status_code == 204 and re.match(rf"{SESSION_COOKIE}=;.*Max-Age=0", gone.headers["set-cookie"])
    assert "HttpOnly" in gone.headers["set-cookie"]
    other = await client.get("/login")  # every other request goes on to the app
    assert (other.status_code, other.text) == (404, "the app")


async def test_the_cookie_is_secure_in_production() -> None:
    client, rt = _route("production")
    answer = await _post(client, rt.cookie_grants.issue(TOKEN))
    assert answer.status_code == 204
    assert "Secure" in {part.strip() for part in answer.headers["set-cookie"].split(";")}
    gone = await client.delete(COOKIE_PATH, headers={REQUEST_HEADER: "1"})
    assert "Secure" in gone.headers["set-cookie"]


async def test_grants_that_buy_nothing(record_property: Any) -> None:
    client, rt = _route()
    box = rt.cookie_grants._box
    sealed_long_ago = int(time.time()) - GRANT_SECONDS - 5
    late = box._fernet.encrypt_at_time(b"session-grant:" + TOKEN.encode(), sealed_long_ago)
    attempts: dict[str, tuple[str | bytes, dict[str, str]]] = {
        "made up": ("gAAAAABmadeupmadeupmadeup", {}),
        "the session token itself": (TOKEN, {}),
        "sealed with another key": (_grants().issue(TOKEN), {}),
        "late": (late.decode(), {}),
        "a stored key's ciphertext (same key, not a grant)": (box.encrypt(TOKEN), {}),
        "empty": ("", {}),
        "oversized": (rt.cookie_grants.issue(TOKEN) + "x" * 10_000, {}),
        "from another site's page": (rt.cookie_grants.issue(TOKEN), {"origin": "https://evil.example"}),
        "from a look-alike origin": (
            rt.cookie_grants.issue(TOKEN),
            {"origin": "http://app.example.evil.example"},
        ),
    }
    for name, (grant, headers) in attempts.items():
        answer = await _post(client, grant, **headers)
        assert answer.status_code == 403 and "set-cookie" not in answer.headers, name
    # Without the header (a cross-site form or simple request cannot send it): nothing either.
    plain = await client.post(COOKIE_PATH, content=rt.cookie_grants.issue(TOKEN))
    assert plain.status_code == 403 and "set-cookie" not in plain.headers
    unplain = await client.delete(COOKIE_PATH)
    assert unplain.status_code == 403 and "set-cookie" not in unplain.headers
    record_property("cases_tried", len(attempts) + 2)


ALPHABET = string.ascii_uppercase + string.ascii_lowercase + string.digits + "-_"


def _unused_bits_set(grant: str) -> str:
    """The grant with its last letter's unused bits changed: the same bytes to a base64 decoder."""
    last = grant.rstrip("=")[-1]
    at = len(grant.rstrip("=")) - 1
    return grant[:at] + ALPHABET[ALPHABET.index(last) ^ 1] + grant[at + 1 :]


async def test_a_used_grant_spelled_otherwise_buys_nothing(record_property: Any) -> None:
    """Found here: the used grants were recorded by their text, and Fernet's base64 decoding
    skips characters outside its alphabet and a last letter's unused bits, so a used grant with
    a `!` appended opened as a fresh one (a replay within the minute).

    Which spellings open depends on cryptography's version: up to 50 all of these did; 51's
    Fernet (in Rust) refuses the `!`, the dot and the padding but still opens the tab and the
    unused bits. Every spelling must buy nothing either way; at least one must open, or the
    check has nothing to catch."""
    client, rt = _route()
    grant = rt.cookie_grants.issue(secrets.token_urlsafe(32))  # a session token's length: padded
    assert grant.endswith("=")
    assert (await _post(client, grant)).status_code == 204
    respelled = {
        "a character base64 skips, appended": grant + "!",
        "a dot inside": grant[:10] + "." + grant[10:],
        "a tab inside": grant[:20] + "\t" + grant[20:],
        "the last letter's unused bits set": _unused_bits_set(grant),
        "without its padding": grant.rstrip("=") + "==" + "=",
    }
    opening = [
        name for name, spelling in respelled.items() if rt.cookie_grants._box.unseal(spelling, GRANT_SECONDS)
    ]
    assert "the last letter's unused bits set" in opening  # opens under cryptography 50 and 51
    for name, spelling in respelled.items():
        assert spelling != grant
        answer = await _post(client, spelling)
        assert answer.status_code == 403 and "set-cookie" not in answer.headers, name
    record_property("cases_tried", len(respelled))
    record_property("cases_that_open", len(opening))


@asynccontextmanager
async def _replicas(tmp_path: Path, prefix: str, encryption_key: str) -> AsyncIterator[list[Runtime]]:
    """Two started runtimes as two replicas: one database, one Redis (each its own client)."""
    with make_migrated_database_url("sqlite", tmp_path) as url:
        settings = make_settings(
            url, tmp_path, redis_url=TEST_REDIS_URL, redis_key_prefix=prefix, encryption_key=encryption_key
        )
        async with running(settings) as first, running(settings) as second:
            yield [first, second]


async def _race(clients: list[httpx.AsyncClient], grant: str, tries: int) -> list[int]:
    answers = await asyncio.gather(*(_post(clients[i % len(clients)], grant) for i in range(tries)))
    return sorted(answer.status_code for answer in answers)


@pytest.mark.redis
async def test_a_grant_is_used_once_across_replicas(tmp_path: Path, record_property: Any) -> None:
    key = Fernet.generate_key().decode()
    async with redis_prefix() as (redis, prefix), _replicas(tmp_path, prefix, key) as rts:
        one, other = (_client_of(rt) for rt in rts)
        assert rts[0].cache is not rts[1].cache  # each replica its own client of the one Redis
        grant = rts[0].cookie_grants.issue(TOKEN)
        assert (await _post(other, grant)).status_code == 204  # used on the replica that did not issue it
        for client in (one, other):
            answer = await _post(client, grant)
            assert answer.status_code == 403 and "set-cookie" not in answer.headers
        assert (await _race([one, other], rts[1].cookie_grants.issue(TOKEN), 12)) == [204] + [403] * 11
        # What Redis keeps: one key per used grant, expiring with the grant, no session in it.
        keys = [key async for key in redis.scan_iter(match=f"{prefix}once:*")]
        assert len(keys) == 2
        for key in keys:
            assert GRANT_SECONDS < await redis.ttl(key) <= GRANT_SECONDS + 61
            assert TOKEN.encode() not in key and await redis.get(key) == b"1"
    record_property("cases_tried", 4)


async def test_a_grant_is_used_once_in_one_embedded_process() -> None:
    client, rt = _route()
    assert (await _race([client], rt.cookie_grants.issue(TOKEN), 12)) == [204] + [403] * 11


async def test_no_grant_while_redis_is_unreachable(tmp_path: Path) -> None:
    """Its use could not be recorded where the other replicas look: refused, not granted twice."""
    settings = make_settings("sqlite://", tmp_path, redis_url="redis://127.0.0.1:9/0")  # nothing listens
    rt = _Runtime(settings, CookieGrants(_box(), make_response_cache(settings)))
    answer = await _post(_client_of(rt), rt.cookie_grants.issue(TOKEN))
    assert answer.status_code == 503 and "set-cookie" not in answer.headers


async def _through_socket_layer(path: str, headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}

    async def reflex(scope: Any, receive: Any, send: Any) -> None:
        seen.update(scope)

    scope = {"type": "websocket", "path": path, "headers": headers, "query_string": b"token=t"}
    await without_event_socket_cookies(reflex)(scope, None, None)  # type: ignore[arg-type]
    return seen


@pytest.mark.parametrize(
    "cookies",
    [
        [b"llmdash_session=" + TOKEN.encode()],
        [b"llmdash_lang=ja; llmdash_session=" + TOKEN.encode() + b"; other=1"],
        [b"llmdash_lang=ja", b"llmdash_session=" + TOKEN.encode()],  # two Cookie headers
    ],
    ids=["alone", "among-others", "two-headers"],
)
async def test_the_event_socket_keeps_only_the_session_aside(cookies: list[bytes]) -> None:
    headers = [(b"host", b"app.example")] + [(b"cookie", c) for c in cookies]
    seen = await _through_socket_layer("/_event/", headers)
    assert [n for n, _ in seen["headers"]] == [b"host"]  # Reflex's router data gets no cookie
    assert seen[SESSION_SCOPE_KEY] == TOKEN
    none = await _through_socket_layer("/_event/", [(b"host", b"app.example")])
    assert none[SESSION_SCOPE_KEY] == ""
    api = await _through_socket_layer("/api/v1/health", headers)  # other paths keep their cookies
    assert api["headers"] == headers and SESSION_SCOPE_KEY not in api


# --- the running app ---------------------------------------------------------------------------
async def _tab(live_app: LiveApp, whose: str, token: str | None = None) -> RawTab:
    tab = RawTab(live_app.url, token=token)
    live_app.tabs.append((whose, tab))  # the secrets scan reads every tab's deltas
    return tab


def test_the_session_is_proved_by_the_handshake_never_by_the_page(live_app: LiveApp) -> None:
    asyncio.run(_handshake_not_page(live_app))


async def _handshake_not_page(live_app: LiveApp) -> None:
    from state.auth import AuthState

    old_var = f"{AuthState.get_full_name()}.session_token_rx_state_"
    # Ada's session sent the old way (in the hydrate's client storage), with no handshake cookie.
    page_sent = await (await _tab(live_app, "eve")).connect(cookie=None, hydrate=False, path="/settings")
    await page_sent.send(HYDRATE, {"vars": {old_var: live_app.ada.session_token}}, "/settings")
    await page_sent.settle(quiet_s=1.5)
    await page_sent.close()
    assert live_app.ada.email not in page_sent.text()
    assert "/login" in " ".join(page_sent.redirects())

    # The handshake's cookie proves it: Ada's page loads, and neither the Cookie header nor the
    # session reaches anything the tab receives (router data, deltas, scripts).
    ada = await (await _tab(live_app, "ada")).connect(cookie=live_app.ada.session_token, path="/settings")
    await ada.wait_for(live_app.ada.email)
    await ada.settle()
    await ada.close()
    received = ada.text()
    assert live_app.ada.session_token not in received
    assert SESSION_COOKIE not in received and '"cookie"' not in received.lower()


# --- a real browser ------------------------------------------------------------------------------
@pytest.mark.browser
def test_no_script_reads_the_session_and_the_app_still_works(browser: Browser, live_app: LiveApp) -> None:
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, base_url=live_app.url)
    page = context.new_page()
    violations: list[str] = []

    def watch(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text or "Content-Security-Policy" in message.text:
            violations.append(message.text)

    page.on("console", watch)
    page.goto("/login")
    page.get_by_role("textbox", name="Email").fill(live_app.eve.email)
    page.get_by_label("Password").fill(live_app.secrets["eve password"])
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.wait_for_url(lambda url: "/login" not in url, timeout=30_000)
    account = page.get_by_role("button", name=re.compile(r"^Account"))
    expect(account).to_contain_text("Eve", timeout=30_000)

    def session_cookie() -> dict[str, Any] | None:
        return next((dict(c) for c in context.cookies() if c["name"] == SESSION_COOKIE), None)

    deadline = time.monotonic() + 15
    while session_cookie() is None and time.monotonic() < deadline:
        page.wait_for_timeout(100)
    cookie = session_cookie()
    assert cookie is not None, "the sign-in set no session cookie"
    assert cookie["httpOnly"] is True and cookie["sameSite"] == "Strict"
    assert SESSION_COOKIE not in page.evaluate("document.cookie")
    assert cookie["value"] not in page.evaluate("document.cookie + JSON.stringify(sessionStorage)")

    # A reload (a new connection, proved by its handshake's cookie) stays signed in, and a run
    # streams to the end.
    page.goto("/compare?" + urlencode({"models": "simulated:swift", "prompt": "hello [[simulate:tokens=6]]"}))
    expect(account).to_contain_text("Eve", timeout=30_000)
    page.reload()
    expect(account).to_contain_text("Eve", timeout=30_000)
    page.get_by_role("button", name="Run").click()
    pane = page.locator("[data-testid=pane]").first
    expect(pane).to_have_attribute("data-status", "done", timeout=60_000)
    assert SESSION_COOKIE not in page.evaluate("document.cookie")

    # Sign-out ends the session and deletes the cookie; the next page is the login page.
    account.click()
    page.get_by_role("menuitem", name="Sign out").click()
    page.wait_for_url(lambda url: "/login" in url, timeout=15_000)
    deadline = time.monotonic() + 15
    while session_cookie() is not None and time.monotonic() < deadline:
        page.wait_for_timeout(100)
    assert session_cookie() is None
    page.goto("/settings")
    expect(page).to_have_url(re.compile(r"/login"), timeout=30_000)
    assert violations == []
    context.close()
