"""The 413 of BodySizeLimit speaks the request's language, like the API's other messages."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
from starlette.responses import JSONResponse
from starlette.types import Receive, Scope, Send

from backend.api.body_limit import BodySizeLimit


async def _echo(scope: Scope, receive: Receive, send: Send) -> None:
    await JSONResponse({"ok": True})(scope, receive, send)


def _client() -> httpx.AsyncClient:
    app = BodySizeLimit(_echo, limit=lambda: 1_000, prefix="/api")
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


async def test_too_large_is_said_in_the_accept_language() -> None:
    async with _client() as client:
        english = await client.post("/api/x", content=b"A" * 2_000, headers={"accept-language": "en"})
        japanese = await client.post(
            "/api/x", content=b"A" * 2_000, headers={"accept-language": "ja,en;q=0.5"}
        )
    assert english.status_code == japanese.status_code == 413
    assert english.json()["detail"] == "The request body is larger than 1,000 bytes (MAX_REQUEST_BYTES)."
    assert japanese.json()["detail"] == "リクエスト本文が 1,000 バイト（MAX_REQUEST_BYTES）を超えています。"


async def test_the_language_cookie_wins_and_a_streamed_body_is_refused_alike() -> None:
    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: the limit counts what arrives
        for _ in range(3):
            yield b"A" * 600

    async with _client() as client:
        response = await client.post(
            "/api/x", content=chunks(), headers={"accept-language": "en", "cookie": "theme=dark; lang=ja"}
        )
        small = await client.post("/api/x", content=b"A" * 10, headers={"accept-language": "ja"})
    assert response.status_code == 413
    assert response.json()["detail"] == "リクエスト本文が 1,000 バイト（MAX_REQUEST_BYTES）を超えています。"
    assert small.status_code == 200
