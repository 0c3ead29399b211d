"""A forged Host header does not make the app redirect off-site (issue 15, browser hardening).

Starlette builds its "add the trailing slash" redirect (the production static server's
`/login` -> `/login/`) from the request's Host header; the app's outermost layer
(dashboard/security_headers.py) sends such self-redirects relative. Tried against Starlette's
own StaticFiles and RedirectResponse, with several forged hosts, ports, a query string and a
path that would read as protocol-relative; a redirect to another site the app chose stays."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from dashboard.security_headers import with_security_headers

HOSTS = ["evil.example", "evil.example:8443", "EVIL.example", "127.0.0.1:3000"]


def _app(static_dir: Path) -> Starlette:
    async def self_redirect(request: Request) -> Response:
        return RedirectResponse(str(request.url.replace(path="//evil.example/x", query="a=1")))

    async def elsewhere(request: Request) -> Response:
        return RedirectResponse("https://accounts.google.com/o/oauth2/auth")

    return Starlette(
        routes=[
            Route("/self", self_redirect),
            Route("/elsewhere", elsewhere),
            Mount("/", StaticFiles(directory=static_dir, html=True)),
        ]
    )


@pytest.fixture
def static_dir(tmp_path: Path) -> Path:
    (tmp_path / "login").mkdir()
    (tmp_path / "login" / "index.html").write_text("<!doctype html><title>login</title>")
    return tmp_path


@pytest.mark.parametrize("host", HOSTS)
async def test_the_trailing_slash_redirect_stays_relative(static_dir: Path, host: str) -> None:
    bare_transport = httpx.ASGITransport(app=_app(static_dir))
    async with httpx.AsyncClient(transport=bare_transport, base_url="http://app.test") as bare_client:
        bare = await bare_client.get("/login", headers={"Host": host})  # what Starlette alone does
    assert bare.status_code in (301, 302, 307, 308) and host.lower() in bare.headers["location"].lower()
    transport = httpx.ASGITransport(app=with_security_headers(_app(static_dir)))
    async with httpx.AsyncClient(transport=transport, base_url="http://app.test") as client:
        response = await client.get("/login", headers={"Host": host})
        assert response.status_code in (301, 302, 307, 308)
        assert response.headers["location"] == "/login/"


@pytest.mark.parametrize("host", HOSTS)
async def test_a_self_redirect_never_becomes_protocol_relative(static_dir: Path, host: str) -> None:
    transport = httpx.ASGITransport(app=with_security_headers(_app(static_dir)))
    async with httpx.AsyncClient(transport=transport, base_url="http://app.test") as client:
        response = await client.get("/self", headers={"Host": host})
        location = response.headers["location"]
        assert location == "/evil.example/x?a=1"
        assert not location.startswith("//")


async def test_a_redirect_the_app_chose_to_another_site_is_kept(static_dir: Path) -> None:
    transport = httpx.ASGITransport(app=with_security_headers(_app(static_dir)))
    async with httpx.AsyncClient(transport=transport, base_url="http://app.test") as client:
        response = await client.get("/elsewhere")
        assert response.headers["location"] == "https://accounts.google.com/o/oauth2/auth"
