"""A foreign page cannot read the app's answers with the visitor's cookies (issue 15).

Reflex adds Starlette's CORSMiddleware with any origin and credentials allowed, which reflects
whatever Origin a request carries. The app's outermost layer drops the Access-Control-Allow-*
headers for an Origin that is not the app's own, not configured (CORS_ALLOWED_ORIGINS) and not
(outside production) a loopback address. Tried against that same middleware, with simple and
preflight requests, several foreign origins, the own origin, a configured one and loopback in
development and production."""

from __future__ import annotations

import httpx
import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from backend.settings import Settings
from dashboard.security_headers import with_security_headers

FOREIGN = ["https://evil.example", "http://app.test.evil.example", "null", "https://app.test:444"]


def _app() -> Starlette:
    async def private(request: Request) -> Response:
        return JSONResponse({"email": "ada@example.org"})

    return Starlette(
        routes=[Route("/private", private)],
        # What Reflex adds (reflex/app.py, _add_cors): every origin, credentials allowed.
        middleware=[
            Middleware(
                CORSMiddleware,
                allow_origins=["*"],
                allow_credentials=True,
                allow_methods=["*"],
                allow_headers=["*"],
            )
        ],
    )


def _client(settings: Settings | None, wrapped: bool = True) -> httpx.AsyncClient:
    the_settings = settings or Settings(_env_file=None)
    app = with_security_headers(_app(), lambda: the_settings) if wrapped else _app()
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://app.test")


async def _simple(client: httpx.AsyncClient, origin: str) -> httpx.Response:
    return await client.get("/private", headers={"Origin": origin, "Cookie": "llmdash_session=s"})


async def _preflight(client: httpx.AsyncClient, origin: str) -> httpx.Response:
    return await client.options(
        "/private", headers={"Origin": origin, "Access-Control-Request-Method": "GET", "Cookie": "a=b"}
    )


@pytest.mark.parametrize("origin", FOREIGN)
async def test_a_foreign_origin_gets_no_cors_grant(origin: str) -> None:
    async with _client(None, wrapped=False) as bare:  # the hole: the middleware alone reflects it
        assert (await _simple(bare, origin)).headers.get("access-control-allow-origin") == origin
    async with _client(None) as client:
        for response in (await _simple(client, origin), await _preflight(client, origin)):
            assert not [h for h in response.headers if h.lower().startswith("access-control-allow-")]


@pytest.mark.parametrize(
    ("origin", "settings"),
    [
        ("https://app.test", Settings(_env_file=None, environment="development")),  # the app itself
        (
            "https://tools.example.org",
            Settings(_env_file=None, cors_allowed_origins=["https://tools.example.org"]),
        ),
        ("http://localhost:3000", Settings(_env_file=None, environment="development")),
    ],
)
async def test_own_configured_and_development_origins_keep_the_grant(origin: str, settings: Settings) -> None:
    async with _client(settings) as client:
        assert (await _simple(client, origin)).headers.get("access-control-allow-origin") == origin
        assert (await _preflight(client, origin)).headers.get("access-control-allow-origin") == origin


async def test_loopback_origins_get_no_grant_in_production() -> None:
    production = Settings(_env_file=None, environment="production")
    async with _client(production) as client:
        for origin in ("http://localhost:3000", "http://127.0.0.1:8000"):
            assert "access-control-allow-origin" not in (await _simple(client, origin)).headers
