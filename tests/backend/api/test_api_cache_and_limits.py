"""The HTTP API's side of the response cache (use_cache, cache_hit, original figures) and of
the rate limits (429 with Retry-After), on the in-process and the Redis implementations."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from backend.runtime import Runtime
from tests.backend.runtime_support import ProviderCalls, api_client, owner, running_on, wait_until_final
from tests.redis_support import BACKENDS
from tests.support.clock import FakeClock

PREFIX = "/api/v1"
PROMPT = "[[simulate:tokens=6]] Name three prime numbers"


@pytest.fixture(params=BACKENDS)
async def api_rt(
    request: pytest.FixtureRequest,
    runtime_database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[tuple[Runtime, ProviderCalls]]:
    calls = ProviderCalls(monkeypatch)
    async with running_on(
        str(request.param), runtime_database_url, tmp_path, FakeClock(), rate_limit_requests_per_minute=3
    ) as runtime:
        yield runtime, calls


@pytest.fixture
async def client(api_rt: tuple[Runtime, ProviderCalls]) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(api_rt[0]) as c:
        yield c


async def post(client: httpx.AsyncClient, **extra: object) -> httpx.Response:
    panes = [{"model": "simulated:swift", "temperature": 0.8}]
    return await client.post(f"{PREFIX}/comparisons", json={"prompt": PROMPT, "panes": panes, **extra})


async def test_use_cache_replays_and_reports_the_original_figures(
    client: httpx.AsyncClient, api_rt: tuple[Runtime, ProviderCalls]
) -> None:
    rt, calls = api_rt
    ids = []
    for _ in range(2):
        response = await post(client, use_cache=True)
        assert response.status_code == 201, response.text
        ids.append(response.json()["id"])
        await wait_until_final(rt.comparisons, ids[-1])
    first, second = [(await client.get(f"{PREFIX}/comparisons/{i}")).json()["runs"][0] for i in ids]
    assert len(calls.calls) == 1
    assert first["cache_hit"] is False and second["cache_hit"] is True
    assert second["output_text"] == first["output_text"] != ""
    assert second["original_ttft_ms"] == pytest.approx(first["ttft_ms"])
    assert second["original_total_ms"] == pytest.approx(first["total_ms"])
    assert first["original_ttft_ms"] is None


async def test_over_the_limit_is_429_with_retry_after_and_starts_nothing(
    client: httpx.AsyncClient, api_rt: tuple[Runtime, ProviderCalls]
) -> None:
    rt, calls = api_rt
    for _ in range(3):
        assert (await post(client)).status_code == 201
    response = await post(client)
    assert response.status_code == 429
    retry_after = int(response.headers["Retry-After"])
    assert 1 <= retry_after <= 60
    body = response.json()
    assert body["limit"] == "requests_per_minute"
    assert body["retry_after_s"] == pytest.approx(retry_after, abs=1.0)
    assert body["detail"].startswith("Rate limit reached: at most 3 model requests a minute")
    page = await rt.comparisons.history(await owner(rt))
    assert page.total == 3
    for item in page.items:
        await wait_until_final(rt.comparisons, item.id)
    assert len(calls.calls) == 3


async def test_use_cache_must_be_a_boolean(client: httpx.AsyncClient) -> None:
    response = await post(client, use_cache="sometimes")
    assert response.status_code == 422
    assert "use_cache" in response.json()["errors"]
