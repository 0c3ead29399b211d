"""Hostile request bodies against the HTTP API: a 10 MB prompt, invalid UTF-8, NUL bytes,
JSON nested 100,000 deep, 10,000 panes in one call. Each gets a clear 4xx (never a
500), nothing is saved, and the server's memory stays bounded (MAX_REQUEST_BYTES
refuses big bodies before they are parsed).

Field class: denial of service and crashes through unbounded request parsing (Dify,
Open WebUI and LiteLLM issues on huge or malformed payloads) and database errors
surfacing as 500s (NUL bytes, which PostgreSQL refuses in text).
"""

from __future__ import annotations

import json
import resource
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from backend.runtime import Runtime, running
from backend.settings import Settings
from tests.backend.runtime_support import api_client, make_settings
from tests.security.support import PREFIX, saved_rows, shows_no_db_error

PANE = {"model": "simulated:instant"}
JSON_TYPE = {"content-type": "application/json"}


def _rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


async def test_the_default_request_limit_is_one_megabyte() -> None:
    assert Settings(_env_file=None).max_request_bytes == 1_000_000


async def test_a_10_mb_prompt_is_refused_with_413_before_parsing(rt: Runtime) -> None:
    start_rss = _rss_mb()
    async with api_client(rt) as client:
        before = await saved_rows(rt)
        body = json.dumps({"prompt": "A" * 10_000_000, "panes": [PANE]}).encode()
        declared = await client.post(
            f"{PREFIX}/comparisons", content=body, headers={"content-type": "application/json"}
        )
        assert declared.status_code == 413, declared.text[:200]
        assert "MAX_REQUEST_BYTES" in declared.json()["detail"]

        async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: the limit counts what arrives
            for _ in range(100):
                yield b"A" * 100_000

        streamed = await client.post(
            f"{PREFIX}/comparisons", content=chunks(), headers={"content-type": "application/json"}
        )
        assert streamed.status_code == 413
        # The same limit on every route that takes a body.
        big_name = await client.post(f"{PREFIX}/projects", json={"name": "n" * 2_000_000})
        assert big_name.status_code == 413
    assert await saved_rows(rt) == before
    # 10 MB bodies were built here (and in httpx); the app must not have parsed one into
    # Python objects on top (a 10 MB JSON string costs far more than 10 MB once decoded).
    assert _rss_mb() - start_rss < 200


async def test_a_prompt_just_under_the_limit_gets_the_prompt_length_422(rt: Runtime) -> None:
    async with api_client(rt) as client:
        response = await client.post(f"{PREFIX}/comparisons", json={"prompt": "A" * 900_000, "panes": [PANE]})
    assert response.status_code == 422
    assert "prompt" in response.json()["errors"]


@pytest.mark.parametrize(
    "raw",
    [
        b'{"prompt": "\xff\xfe\xfa", "panes": [{"model": "simulated:instant"}]}',
        b'{"prompt": "ok", "panes": [{"model": "\xc3\x28"}]}',
        b"\xef\xbb\xbf\xff" * 10,
        b'{"prompt": "unterminated',
        b"[" * 100_000 + b"]" * 100_000,
        b'{"prompt": ' + b'{"a": ' * 50_000 + b"1" + b"}" * 50_000 + b', "panes": []}',
        b"",
        b"null",
        b'"just a string"',
    ],
    ids=[
        "invalid-utf8-prompt",
        "invalid-utf8-model",
        "bom-then-garbage",
        "truncated",
        "array-nested-100k",
        "object-nested-50k",
        "empty",
        "null",
        "string",
    ],
)
async def test_malformed_bodies_get_a_4xx(rt: Runtime, raw: bytes) -> None:
    async with api_client(rt) as client:
        before = await saved_rows(rt)
        for path in ("/comparisons", "/projects"):
            response = await client.post(PREFIX + path, content=raw, headers=JSON_TYPE)
            assert 400 <= response.status_code < 500, (path, response.status_code, response.text[:300])
            assert shows_no_db_error(response.text)
    assert await saved_rows(rt) == before


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/comparisons", {"prompt": "a\x00b", "panes": [PANE]}),
        ("POST", "/comparisons", {"prompt": "ok", "system_prompt": "\x00", "panes": [PANE]}),
        ("POST", "/comparisons", {"prompt": "ok", "project_id": "\x00", "panes": [PANE]}),
        ("POST", "/comparisons", {"prompt": "ok", "panes": [{"model": "simulated:in\x00stant"}]}),
        ("POST", "/projects", {"name": "team\x00"}),
        ("PATCH", "/projects/%00", {"name": "x"}),
        ("PUT", "/projects/%00/members", {"email": "a@b.co", "role": "viewer"}),
        ("PUT", "/projects/x/members", {"email": "a\x00@example.org", "role": "viewer"}),
        ("GET", "/comparisons/%00", None),
        ("GET", "/comparisons/%00/events", None),
        ("GET", "/comparisons?project_id=%00", None),
        ("DELETE", "/shares/%00", None),
        ("GET", "/shares/%00", None),
        ("POST", "/shares/%00/fork", None),
        ("DELETE", "/projects/x/members/a%00b", None),
    ],
)
async def test_nul_bytes_get_a_4xx_not_a_database_error(
    rt: Runtime, method: str, path: str, body: dict[str, object] | None
) -> None:
    async with api_client(rt) as client:
        before = await saved_rows(rt)
        response = await client.request(method, PREFIX + path, json=body)
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:300])
    assert shows_no_db_error(response.text), response.text
    assert await saved_rows(rt) == before


async def test_ten_thousand_panes_in_one_call_are_refused_quickly(rt: Runtime) -> None:
    async with api_client(rt) as client:
        before = await saved_rows(rt)
        response = await client.post(f"{PREFIX}/comparisons", json={"prompt": "hi", "panes": [PANE] * 10_000})
    assert response.status_code == 422
    assert response.json()["errors"] == {"panes": "At most 8 panes can run at once."}
    assert await saved_rows(rt) == before


async def test_the_limit_is_a_setting(runtime_database_url: str, tmp_path: Path) -> None:
    settings = make_settings(runtime_database_url, tmp_path, max_request_bytes=2_048)
    async with running(settings) as rt, api_client(rt) as client:
        small = await client.post(f"{PREFIX}/projects", json={"name": "fits"})
        big = await client.post(f"{PREFIX}/projects", json={"name": "x" * 3_000})
    assert small.status_code == 201
    assert big.status_code == 413
