"""Helpers for tests that drive a whole started `Runtime` (service, pump, worker, database)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from backend.auth.accounts import principal_of
from backend.auth.permissions import Principal
from backend.db import accounts as accounts_repo
from backend.db.records import ComparisonRecord, RunRecord
from backend.providers.base import ChatProvider, ChatRequest, StreamItem
from backend.providers.simulated import simulated_text
from backend.runtime import Runtime, running
from backend.services.comparisons import ComparisonService
from backend.settings import Settings
from tests.redis_support import TEST_REDIS_URL, redis_prefix


def make_settings(database_url: str, tmp_path: Path, **overrides: Any) -> Settings:
    """Settings that ignore the developer's environment and `.env`: no keys, nothing remote."""
    values: dict[str, Any] = {
        "data_dir": tmp_path,
        "database_url": database_url,
        "openai_api_key": "",
        "openai_base_url": "",
        "anthropic_api_key": "",
        "anthropic_base_url": "",
        "google_cloud_project": "",
        "ollama_base_url": "http://127.0.0.1:9",  # nothing listens: Ollama counts as unavailable
        "openai_compatible_endpoints": {},
        "simulated_enabled": True,
        "embedded_workers": 16,
        "provider_timeout_seconds": 30.0,
        "provider_probe_timeout_seconds": 0.3,
        "redis_url": "",  # in-process cache and limits unless a test asks for Redis
        "rate_limit_requests_per_minute": 60,
        "rate_limit_tokens_per_day": 2_000_000,
        # No embedding in tests of other features (the CPU is shared): search tests turn it on.
        "search_embedder": "none",
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)


def expected_output(run: RunRecord, prompt: str, system_prompt: str = "") -> str:
    """The exact text the simulated model of `run` streams for this comparison."""
    name = run.model.split(":", 1)[1]
    request = ChatRequest(
        model=name,
        prompt=prompt,
        system_prompt=system_prompt,
        temperature=float(run.params.get("temperature", 0.7)),
        max_tokens=int(run.params.get("max_tokens", 1024)),
        seed=run.params.get("seed"),
    )
    return "".join(simulated_text(name, request))


async def wait_until_final(
    service: ComparisonService,
    comparison_id: str,
    timeout: float = 10.0,
    attempt: dict[str, int] | None = None,
) -> ComparisonRecord:
    """Poll the database until every run is final (at the given attempts, if any)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        record = await service.get_unchecked(comparison_id)
        if all(
            run.is_final and (attempt is None or run.attempt == attempt.get(run.id, run.attempt))
            for run in record.runs
        ):
            return record
        if loop.time() > deadline:
            states = [(r.model, r.attempt, r.status) for r in record.runs]
            raise AssertionError(f"runs not final after {timeout} s: {states}")
        await asyncio.sleep(0.02)


async def wait_for_live_text(
    service: ComparisonService, comparison_id: str, run_id: str, timeout: float = 5.0
) -> str:
    """Wait until the run has streamed some text (as the page would see it)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        record = service.with_live_output(await service.get_unchecked(comparison_id))
        run = next(r for r in record.runs if r.id == run_id)
        if run.output_text:
            return run.output_text
        if loop.time() > deadline:
            raise AssertionError(f"run {run_id} produced no text in {timeout} s (status {run.status})")
        await asyncio.sleep(0.02)


@contextlib.asynccontextmanager
async def running_on(
    backend: str,
    database_url: str,
    tmp_path: Path,
    clock: Callable[[], float] = time.time,
    **overrides: Any,
) -> AsyncIterator[Runtime]:
    """A started runtime whose response cache and rate limits are in-process ("memory") or on
    the test Redis ("redis", under a fresh key prefix that is deleted afterwards); `clock` is
    the rate limits' (a FakeClock keeps a test's requests in one window)."""
    if backend == "memory":
        async with running(make_settings(database_url, tmp_path, **overrides), clock) as runtime:
            yield runtime
        return
    async with redis_prefix() as (_, prefix):
        settings = make_settings(
            database_url, tmp_path, redis_url=TEST_REDIS_URL, redis_key_prefix=prefix, **overrides
        )
        async with running(settings, clock) as runtime:
            yield runtime


class ProviderCalls:
    """Counts provider calls per model by wrapping what the worker's resolver returns
    (install it before the runtime starts: the worker takes the resolver at start)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: list[str] = []
        real = Runtime.resolve_provider
        calls = self.calls

        class Counting:
            def __init__(self, inner: ChatProvider) -> None:
                self._inner = inner

            async def stream(self, request: ChatRequest) -> AsyncIterator[StreamItem]:
                calls.append(request.model)
                async for item in self._inner.stream(request):
                    yield item

        def resolve(runtime: Runtime, model_id: str) -> ChatProvider:
            return Counting(real(runtime, model_id))

        monkeypatch.setattr(Runtime, "resolve_provider", resolve)


OWNER_EMAIL = "ada@example.org"


async def owner(rt: Runtime, email: str = OWNER_EMAIL) -> Principal:
    """A signed-up user of this runtime's database (created on first use), as a Principal."""
    async with rt.db.session() as session:
        account = await accounts_repo.account_by_email(session, email)
        if account is None:
            account = await accounts_repo.create_account(
                session, email=email, display_name="Ada", email_verified=True
            )
    return principal_of(account)


@contextlib.asynccontextmanager
async def api_client(rt: Runtime, email: str = OWNER_EMAIL) -> AsyncIterator[httpx.AsyncClient]:
    """An in-process client of the HTTP API that acts for `email` with a personal API token."""
    from backend.api.app import create_api

    token = await rt.accounts.create_api_token(await owner(rt, email), "tests")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_api(lambda: rt)),
        base_url="http://testserver",
        timeout=15.0,
        headers={"Authorization": f"Bearer {token}"},
    ) as client:
        yield client


async def wait_for_workers(rt: Runtime, n: int, timeout: float = 60.0) -> dict[str, Any]:
    """Until `n` worker processes report healthy (a worker's start imports the providers' SDKs:
    seconds on a loaded machine, so the limit is generous; it costs nothing when they are quick)."""
    deadline = time.monotonic() + timeout
    while True:
        health = await rt.health()
        if len(health["workers"]) >= n:
            return health
        if time.monotonic() > deadline:
            raise AssertionError(f"{n} workers not healthy in {timeout} s: {health}")
        await asyncio.sleep(0.2)
