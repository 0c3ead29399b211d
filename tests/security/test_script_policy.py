"""HTML pages carry a script policy without 'unsafe-inline' (issue 15, browser hardening).

The app sent no script policy: any script that markup injection put in a page would run. Now
every HTML answer says `script-src 'self' 'unsafe-eval'` plus the SHA-256 of each inline script
the page itself carries (the compiled pages are static files; dashboard/script_policy.py says
why eval stays: Reflex runs `rx.call_script` through it). Tried:

- in process: an HTML page (whole, and sent in chunks) gets the hashes of exactly its inline
  scripts and never 'unsafe-inline'; scripts with `src` and JSON are not hashed; a non-HTML
  answer gets no script policy; a route's own policy is kept; Firebase's pages get its one extra
  origin; the Swagger page (served whole by the app) gets none, and no eval;
- the running app: every page's policy covers each of its inline scripts, and nothing else
  inline;
- a real browser: the pages run with no policy violation, while a script element, an `onerror`
  attribute and a `javascript:` link put into the page by hand are refused (and reported).

Field class: XSS without a script policy as the second line (OWASP CSP; Open WebUI and
LibreChat advisories on rendered model output).
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import re
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, ConsoleMessage, expect

from backend.api.app import DOCS_PATH
from backend.auth.session_cookie import SESSION_COOKIE
from backend.settings import Settings
from dashboard.script_policy import FIREBASE_SCRIPTS, inline_script_hashes
from dashboard.security_headers import with_security_headers
from tests.security.live_app import LiveApp

PAGE = (
    b"<!doctype html><html><head><script>window.a=1</script>"
    b'<script type="module" async="">import "/assets/x.js";</script>'
    b'<script src="/assets/y.js"></script></head><body><script>window.a=1</script></body></html>'
)


def _sha(text: bytes) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text).digest()).decode() + "'"


HTML = b"text/html; charset=utf-8"


def _app(body: bytes, content_type: bytes = HTML, chunks: int = 1, own: bytes = b"") -> Any:
    async def page(scope: Any, receive: Any, send: Any) -> None:
        headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
        if own:
            headers.append((b"content-security-policy", own))
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        size = -(-len(body) // chunks)
        for i in range(chunks):
            part = body[i * size : (i + 1) * size]
            await send({"type": "http.response.body", "body": part, "more_body": i < chunks - 1})

    return page


async def _get(app: Any, path: str = "/", auth_provider: str = "builtin") -> httpx.Response:
    settings = Settings(_env_file=None, auth_provider=auth_provider)
    secured = with_security_headers(app, settings=lambda: settings)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=secured), base_url="http://t") as client:
        return await client.get(path)


def _script_src(response: httpx.Response) -> str:
    policy = response.headers["content-security-policy"]
    found = [d.strip() for d in policy.split(";") if d.strip().startswith("script-src ")]
    assert len(found) <= 1, policy
    return found[0] if found else ""


@pytest.mark.parametrize("chunks", [1, 7], ids=["whole", "in-chunks"])
async def test_a_page_gets_the_hashes_of_exactly_its_inline_scripts(chunks: int) -> None:
    response = await _get(_app(PAGE, chunks=chunks))
    assert response.content == PAGE  # the page itself is untouched
    assert response.headers["content-security-policy"].startswith("frame-ancestors 'none';")
    expected = [_sha(b"window.a=1"), _sha(b'import "/assets/x.js";')]
    assert _script_src(response) == "script-src 'self' 'unsafe-eval' " + " ".join(expected)
    assert "unsafe-inline" not in response.headers["content-security-policy"]
    assert inline_script_hashes(PAGE) == expected  # the src script is not hashed; no repeats


@pytest.mark.parametrize("gzipped", [False, True], ids=["plain", "gzip"])
async def test_a_static_page_sent_by_path_is_hashed_too(tmp_path: Any, gzipped: bool) -> None:
    """Starlette's FileResponse hands the file to the server by path (Granian's pathsend), not
    as a body, and Reflex serves its compiled pages from precompressed `.gz` files: both found
    by the live tests' first runs (a crash, then pages with no hashes)."""
    page_file = tmp_path / ("index.html.gz" if gzipped else "index.html")
    page_file.write_bytes(gzip.compress(PAGE) if gzipped else PAGE)

    async def by_path(scope: Any, receive: Any, send: Any) -> None:
        headers = [(b"content-type", HTML), (b"content-length", str(page_file.stat().st_size).encode())]
        if gzipped:
            headers.append((b"content-encoding", b"gzip"))
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.pathsend", "path": str(page_file)})

    response = await _get(by_path)
    assert response.content == PAGE  # httpx undoes the gzip
    assert _script_src(response).endswith(_sha(b'import "/assets/x.js";'))


async def test_other_answers_and_own_policies_are_left_alone(record_property: Any) -> None:
    json_answer = await _get(_app(b'{"html": "<script>x</script>"}', b"application/json"))
    assert _script_src(json_answer) == ""
    own = await _get(_app(PAGE, own=b"default-src 'none'"))
    assert own.headers["content-security-policy"] == "default-src 'none'"
    empty = await _get(_app(b"<!doctype html><p>no scripts</p>"))
    assert _script_src(empty) == "script-src 'self' 'unsafe-eval'"
    record_property("cases_tried", 3)


async def test_firebase_gets_its_one_origin_and_the_swagger_page_none(record_property: Any) -> None:
    plain = _script_src(await _get(_app(PAGE)))
    firebase = _script_src(await _get(_app(PAGE), auth_provider="firebase"))
    hashes = " ".join(inline_script_hashes(PAGE))
    assert FIREBASE_SCRIPTS not in plain
    assert firebase == f"script-src 'self' 'unsafe-eval' {FIREBASE_SCRIPTS} {hashes}"
    for provider in ("builtin", "firebase"):  # the API's page: this origin and its own scripts
        swagger = _script_src(await _get(_app(PAGE), path=DOCS_PATH, auth_provider=provider))
        assert swagger == f"script-src 'self' {hashes}", provider
        assert "jsdelivr" not in (await _get(_app(PAGE), path=DOCS_PATH)).headers["content-security-policy"]
    record_property("cases_tried", 4)


# --- the running app -----------------------------------------------------------------------------
INLINE = re.compile(rb"<script\b(?![^>]*\bsrc=)[^>]*>(.*?)</script\s*>", re.S | re.I)


def test_every_page_of_the_app_has_each_inline_script_hashed(live_app: LiveApp, record_property: Any) -> None:
    paths = ("/", "/login", "/history", "/projects", "/settings", "/share/not-a-token", "/api/v1/docs")
    with httpx.Client(base_url=live_app.url, timeout=30, follow_redirects=True) as client:
        client.cookies.set(SESSION_COOKIE, live_app.ada.session_token)
        for path in paths:  # /login answers with a redirect to /login/ first
            response = client.get(path)
            assert response.status_code == 200 and "text/html" in response.headers["content-type"], path
            sources = set(_script_src(response).split()[1:])
            hashes = {_sha(s) for s in INLINE.findall(response.content)}
            assert hashes and hashes <= sources, path
            assert not {s for s in sources if s.startswith("'sha256-")} - hashes, path
            assert "'unsafe-inline'" not in sources, path
    record_property("cases_tried", len(paths))


# --- a real browser ------------------------------------------------------------------------------
INJECT = """() => {
  window.__csp = [];
  document.addEventListener('securitypolicyviolation', e => window.__csp.push(e.violatedDirective));
  const s = document.createElement('script'); s.textContent = 'window.__pwned = 1'; document.body.append(s);
  const i = document.createElement('img'); i.setAttribute('onerror', 'window.__pwned = 2');
  i.src = 'data:,'; document.body.append(i);
  const a = document.createElement('a'); a.href = 'javascript:window.__pwned = 3'; document.body.append(a);
  a.click();
}"""


@pytest.mark.browser
def test_the_pages_run_and_injected_scripts_do_not(browser: Browser, live_app: LiveApp) -> None:
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, base_url=live_app.url)
    context.add_cookies([live_app.ada.cookie(live_app.url)])  # type: ignore[list-item]
    page = context.new_page()
    violations: list[str] = []

    def watch(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            violations.append(message.text)

    page.on("console", watch)
    try:
        account = page.get_by_role("button", name=re.compile(r"^Account: Ada"))
        for path in ("/", "/history", "/projects", "/settings", "/usage"):
            page.goto(path)
            expect(account).to_be_visible(timeout=30_000)
        assert violations == []  # the app's own scripts all ran under the policy

        page.evaluate(INJECT)
        page.wait_for_function("() => window.__csp.length >= 3", timeout=10_000)
        assert page.evaluate("window.__pwned") is None
        assert set(page.evaluate("window.__csp")) >= {"script-src-elem", "script-src-attr"}
    finally:
        context.close()
