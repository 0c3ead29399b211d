"""Every HTTP route of the API, found by walking `create_api(...).routes`, refuses a
request without a valid token with 401, except an explicit allowlist.

Field class: a new or forgotten route without the auth dependency (Open WebUI and
Dify advisories on unauthenticated API endpoints; LiteLLM proxy routes that skipped
the key check). The list of routes is not written here: a route added later is
enumerated and must either answer 401 or be added to PUBLIC with a reason.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence

import pytest
from starlette.routing import BaseRoute, Route

from backend.api.app import create_api
from backend.runtime import Runtime
from tests.security.support import SQL_TAUTOLOGIES, anonymous, saved_rows, shows_no_db_error

# (method, path template) -> why it needs no token.
PUBLIC: dict[tuple[str, str], str] = {
    ("GET", "/api/v1/health"): "load balancer probe; reports only up/down of dependencies",
    ("GET", "/api/v1/openapi.json"): "the API's public description",
    ("HEAD", "/api/v1/openapi.json"): "the API's public description",
    ("GET", "/api/v1/docs"): "static Swagger UI page, no data",
    ("HEAD", "/api/v1/docs"): "static Swagger UI page, no data",
    ("GET", "/api/v1/docs/assets/{name}"): "Swagger UI's own files (three, named), no data",
    ("HEAD", "/api/v1/docs/assets/{name}"): "Swagger UI's own files (three, named), no data",
    ("GET", "/api/v1/shares/{token}"): "public share link: the 256-bit token in the path is the secret",
    ("GET", "/api/v1/verify-email"): "the emailed link's page: a button, uses nothing",
    ("POST", "/api/v1/verify-email"): "the emailed proof of address: the 256-bit token is the secret",
}

# A public route whose parameter must name something real to answer 200 (the others take any id).
PUBLIC_EXAMPLES = {"/api/v1/docs/assets/{name}": "/api/v1/docs/assets/favicon-32x32.png"}

BAD_CREDENTIALS: list[dict[str, str]] = [
    {},
    {"Authorization": "Bearer "},
    {"Authorization": "Basic YWRhOnB3"},
    {"Authorization": "Bearer llmd_0000000000000000000000000000000000000000000"},
    {"X-API-Key": "llmd_0000000000000000000000000000000000000000000"},
    {"Authorization": f"Bearer {SQL_TAUTOLOGIES[0]}"},
]


def _walk(routes: Sequence[BaseRoute], prefix: str = "") -> Iterator[tuple[str, str]]:
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:  # FastAPI keeps an included router as one entry: walk into it
            yield from _walk(inner.routes, prefix + route.include_context.prefix)  # type: ignore[attr-defined]
            continue
        assert isinstance(route, Route), f"unexpected route type {type(route).__name__}: {route}"
        for method in sorted(route.methods or ()):
            yield method, prefix + route.path


def _routes() -> list[tuple[str, str]]:
    return list(_walk(create_api(lambda: None).routes))  # type: ignore[arg-type,return-value]


ROUTES = _routes()


def _concrete(path: str) -> str:
    """The template with every {param} filled in (ids of nothing: refusal must come first)."""
    return re.sub(r"\{[^}]+\}", "0123456789abcdef0123456789abcdef", path)


def test_the_enumeration_sees_the_whole_api() -> None:
    """Guards the guard: if routes moved elsewhere this test would silently check nothing."""
    templates = {path for _, path in ROUTES}
    assert len(ROUTES) >= 20, ROUTES
    for expected in ("/api/v1/comparisons", "/api/v1/projects/{project_id}/members", "/api/v1/models"):
        assert expected in templates
    stale = set(PUBLIC) - set(ROUTES)
    assert not stale, f"allowlisted routes that no longer exist: {stale}"


@pytest.mark.parametrize(("method", "path"), [r for r in ROUTES if r not in PUBLIC])
async def test_route_refuses_requests_without_a_valid_token(
    rt: Runtime, method: str, path: str, record_property: Callable[[str, object], None]
) -> None:
    record_property("cases_tried", len(BAD_CREDENTIALS) * 2)  # for scripts/security-report
    before = await saved_rows(rt)
    for headers in BAD_CREDENTIALS:
        async with anonymous(rt, headers) as client:
            bodies: tuple[dict[str, object] | None, ...] = (None, {})  # no body, and an empty JSON object
            for body in bodies:
                response = await client.request(method, _concrete(path), json=body)
                assert response.status_code == 401, (method, path, headers, body, response.text)
                assert response.headers.get("www-authenticate") == "Bearer"
                assert shows_no_db_error(response.text)
    assert await saved_rows(rt) == before


@pytest.mark.parametrize(("method", "path"), sorted(PUBLIC))
async def test_public_routes_answer_without_a_token_and_leak_nothing(
    rt: Runtime, method: str, path: str
) -> None:
    async with anonymous(rt) as client:
        response = await client.request(method, PUBLIC_EXAMPLES.get(path) or _concrete(path))
    # An unknown share link is 404; an unknown proof-of-address token is the page's 400.
    expected = (
        404 if "{token}" in path else 400 if (method, path) == ("POST", "/api/v1/verify-email") else 200
    )
    assert response.status_code == expected, response.text
    assert shows_no_db_error(response.text)
