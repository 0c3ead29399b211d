"""Prometheus metrics: the web app's /metrics behind METRICS_TOKEN (no one's when unset), requests and
errors by route template, runs by model and outcome with TTFT, duration and tokens/s from the worker,
response-cache lookups, sessions following runs, the embedded queue's lag, and a worker process's
own metrics port (its Kafka consumer lag: tests/backend/queue/test_kafka_tracing.py)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from prometheus_client import REGISTRY

from backend.api.app import create_api
from backend.observability import serve_metrics
from backend.runtime import Runtime, running
from tests.backend.runtime_support import api_client, make_settings, wait_until_final

TOKEN = "metrics-token-for-tests"
MODEL = "simulated:instant"


@pytest.fixture
async def runtime(tmp_path: Path) -> AsyncIterator[Runtime]:
    settings = make_settings(f"sqlite:///{tmp_path / 'metrics.db'}", tmp_path, metrics_token=TOKEN)
    async with running(settings) as rt:
        yield rt


def _value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_metrics_need_the_token_and_count_requests_and_runs(runtime: Runtime) -> None:
    template = "/api/v1/comparisons/{comparison_id}"
    before = _value("llmdash_http_requests_total", route=template, method="GET", status="404")
    runs_before = _value("llmdash_runs_total", model=MODEL, status="done")
    ttft_before = _value("llmdash_run_ttft_seconds_count", model=MODEL)
    async with api_client(runtime) as ada:
        for _ in range(2):
            assert (await ada.get("/api/v1/comparisons/nope-1")).status_code == 404
        created = await ada.post(
            "/api/v1/comparisons", json={"prompt": "[[simulate:tokens=3]] hi", "panes": [{"model": MODEL}]}
        )
        await wait_until_final(runtime.comparisons, created.json()["id"])

    app = httpx.ASGITransport(app=create_api(lambda: runtime))
    async with httpx.AsyncClient(transport=app, base_url="http://testserver") as client:
        assert (await client.get("/metrics")).status_code == 401
        for wrong in ("Bearer nope", "Bearer caf\u00e9", f"Basic {TOKEN}"):
            answer = await client.get("/metrics", headers={b"Authorization": wrong.encode("latin-1")})
            assert answer.status_code == 401, wrong
        answer = await client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/plain")
    assert "llmdash_active_streams" in answer.text and "nope-1" not in answer.text  # templates, not paths
    assert _value("llmdash_http_requests_total", route=template, method="GET", status="404") == before + 2
    assert _value("llmdash_runs_total", model=MODEL, status="done") == runs_before + 1
    assert _value("llmdash_run_ttft_seconds_count", model=MODEL) == ttft_before + 1
    assert _value("llmdash_active_streams") == 0


async def test_no_metrics_token_means_no_metrics(tmp_path: Path) -> None:
    async with running(make_settings(f"sqlite:///{tmp_path / 'plain.db'}", tmp_path)) as rt:
        app = httpx.ASGITransport(app=create_api(lambda: rt))
        async with httpx.AsyncClient(transport=app, base_url="http://testserver") as client:
            answer = await client.get("/metrics", headers={"Authorization": "Bearer "})
    assert answer.status_code == 401  # an empty token never matches an unset one


async def test_tokens_per_second_cache_lookups_following_sessions_and_queue_lag(runtime: Runtime) -> None:
    model = "simulated:swift"
    rates = _value("llmdash_run_tokens_per_second_count", model=model)
    hits, misses = (
        _value("llmdash_cache_lookups_total", result="hit"),
        _value("llmdash_cache_lookups_total", result="miss"),
    )
    body = {"prompt": "[[simulate:tokens=20]] cache me", "panes": [{"model": model, "temperature": 0}]}
    async with api_client(runtime) as ada:
        first = (await ada.post("/api/v1/comparisons", json=body)).json()["id"]
        # Followed over SSE while it streams: one API session, none once the stream ends.
        following = asyncio.create_task(ada.get(f"/api/v1/comparisons/{first}/events"))
        for _ in range(200):
            if _value("llmdash_following_sessions", via="api") == 1 or following.done():
                break
            await asyncio.sleep(0.01)
        assert _value("llmdash_following_sessions", via="api") == 1
        assert "event: done" in (await following).text
        assert _value("llmdash_following_sessions", via="api") == 0
        await wait_until_final(runtime.comparisons, first)
        second = (await ada.post("/api/v1/comparisons", json=body)).json()["id"]  # the same call: a hit
        await wait_until_final(runtime.comparisons, second)
    assert _value("llmdash_cache_lookups_total", result="miss") == misses + 1
    assert _value("llmdash_cache_lookups_total", result="hit") == hits + 1
    assert _value("llmdash_run_tokens_per_second_count", model=model) == rates + 1  # the replay is not a pace
    assert _value("llmdash_queue_lag", partition="embedded") == 0  # nothing waits in the in-process queue


def test_a_worker_serves_its_metrics_on_its_own_loopback_port() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = serve_metrics(port)
    try:
        answer = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5)
        assert answer.status_code == 200 and "llmdash_runs_total" in answer.text
    finally:
        server.shutdown()
