"""The API's Swagger page is served whole by the app (issue 15, browser hardening).

FastAPI's page loaded Swagger UI from cdn.jsdelivr.net (a floating version, no Subresource
Integrity), and the page's script policy had to admit that host: whoever served the file ran
script on this origin. Now Swagger UI's files come from a package installed with the app
(backend/api/docs_routes.py). Tried:

- in process: the page's HTML names no other host (scripts, style sheets, icon, validator, any
  absolute address); each file it loads is served by the app, byte for byte the package's;
  other names (the package's other files, paths out of its folder) are 404; its policy admits
  this origin and its inline script only (no CDN, no eval, fetches to this origin);
- a real browser on the running app: the page lists the API's operations, with no policy
  violation and no request to any other host.

Field class: third-party script on the origin without integrity (supply-chain compromise of a
CDN: polyfill.io, 2024; OWASP's "Subresource Integrity" and "Third Party JavaScript").
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import Browser, ConsoleMessage, Request, expect
from swagger_ui_bundle import swagger_ui_path

from backend.api.app import DOCS_PATH, create_api
from backend.api.docs_routes import ASSETS
from backend.runtime import Runtime
from backend.settings import Settings
from dashboard.security_headers import with_security_headers
from tests.security.live_app import LiveApp

ADDRESS = re.compile(rb"""(?:src|href|url)\s*[=:(]\s*["']?([^"')\s>]+)""", re.I)


def _not_started() -> Runtime:
    raise RuntimeError("no runtime: the page and its files need none")


def _client(auth_provider: str = "builtin") -> httpx.AsyncClient:
    settings = Settings(_env_file=None, auth_provider=auth_provider)
    app = with_security_headers(create_api(_not_started), settings=lambda: settings)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://app.example")


def _directives(response: httpx.Response) -> dict[str, list[str]]:
    policy = response.headers["content-security-policy"]
    return {d.split()[0]: d.split()[1:] for d in (p.strip() for p in policy.split(";")) if d}


async def test_the_page_names_no_other_host(record_property: Any) -> None:
    async with _client() as client:
        page = await client.get(DOCS_PATH)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    addresses = [a.decode() for a in ADDRESS.findall(page.content)]
    assert len(addresses) >= 4, addresses  # the script, the style sheet, the icon, the description
    for address in addresses:
        parts = urlsplit(address)
        assert not parts.scheme and not parts.netloc and address.startswith("/"), address
    assert b"http://" not in page.content and b"https://" not in page.content and b"//cdn" not in page.content
    assert b'"validatorUrl": null' in page.content  # no badge fetched from validator.swagger.io
    record_property("cases_tried", len(addresses))


async def test_the_files_it_loads_are_served_by_the_app(record_property: Any) -> None:
    async with _client() as client:
        page = (await client.get(DOCS_PATH)).text
        for name, media_type in ASSETS.items():
            address = f"{DOCS_PATH}/assets/{name}"
            assert f'"{address}"' in page, name  # the page loads exactly these
            answer = await client.get(address)
            assert answer.status_code == 200, name
            assert answer.content == (Path(str(swagger_ui_path)) / name).read_bytes(), name
            assert answer.headers["content-type"] == media_type
            assert answer.headers["x-content-type-options"] == "nosniff"
        assert b"SwaggerUIBundle" in (await client.get(f"{DOCS_PATH}/assets/swagger-ui-bundle.js")).content
        refused = (
            "swagger-ui-bundle.js.map",
            "index.html",
            "oauth2-redirect.html",
            "..%2F..%2F__init__.py",
            "%2E%2E%2Fswagger-ui-5.31.0%2Fswagger-ui.css",
            "",
        )
        for name in refused:
            assert (await client.get(f"{DOCS_PATH}/assets/{name}")).status_code == 404, name
        gone = (await client.get("/docs/oauth2-redirect")).status_code  # FastAPI's default helper
        assert gone == 404
    record_property("cases_tried", len(ASSETS) + len(refused) + 1)


@pytest.mark.parametrize("auth_provider", ["builtin", "firebase"])
async def test_its_policy_admits_this_origin_and_its_own_script_only(auth_provider: str) -> None:
    async with _client(auth_provider) as client:
        page = await client.get(DOCS_PATH)
    directives = _directives(page)
    scripts = directives["script-src"]
    assert scripts[0] == "'self'" and len(scripts) == 2 and scripts[1].startswith("'sha256-"), scripts
    assert directives["connect-src"] == ["'self'"]
    assert directives["img-src"] == ["'self'", "data:"]
    policy = page.headers["content-security-policy"]
    for outside in ("jsdelivr", "https:", "http:", "'unsafe-eval'", "'unsafe-inline'", "apis.google.com"):
        assert outside not in policy, outside


# --- a real browser on the running app -------------------------------------------------------


@pytest.mark.browser
def test_a_browser_shows_the_operations_with_no_other_host(browser: Browser, live_app: LiveApp) -> None:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    violations: list[str] = []
    requests: list[str] = []

    def watch(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text or "Refused to" in message.text:
            violations.append(message.text)

    def record(request: Request) -> None:
        requests.append(request.url)

    page.on("console", watch)
    page.on("request", record)
    try:
        page.add_init_script(
            "window.__csp = []; document.addEventListener('securitypolicyviolation',"
            " e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));"
        )
        page.goto(live_app.url + DOCS_PATH)
        title = page.get_by_role("heading", name=re.compile(r"^LLM Dashboard API"))
        expect(title).to_be_visible(timeout=30_000)
        create = page.get_by_role("button", name=re.compile(r"POST\s*\/api\/v1\/comparisons\b(?!\/)"))
        expect(create).to_be_visible()
        expect(page.get_by_role("button", name=re.compile(r"GET\s*\/api\/v1\/health"))).to_be_visible()
        create.click()  # an operation opens: its parameters and "Try it out" come from the description
        expect(page.get_by_role("button", name="Try it out")).to_be_visible()
        assert page.evaluate("window.__csp") == [] and violations == []
        own = urlsplit(live_app.url).netloc
        elsewhere = [url for url in requests if urlsplit(url).netloc != own and not url.startswith("data:")]
        assert requests and elsewhere == []
        loaded = {urlsplit(url).path for url in requests}
        assert {f"{DOCS_PATH}/assets/swagger-ui-bundle.js", "/api/v1/openapi.json"} <= loaded
    finally:
        context.close()
