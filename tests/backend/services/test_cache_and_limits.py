"""Response cache and rate limits through the whole runtime (service, worker, pump, database),
on the in-process and the Redis implementations, over SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from backend.catalog import estimate_tokens
from backend.db.models import Comparison, Run
from backend.db.records import ComparisonRecord
from backend.runtime import Runtime
from backend.services.comparisons import RateLimitExceeded
from tests.backend.runtime_support import ProviderCalls, expected_output, owner, running_on, wait_until_final
from tests.redis_support import BACKENDS
from tests.support.clock import FakeClock

PROMPT = "[[simulate:tokens=10]] Explain how a bloom filter works"
SYSTEM = "Be exact."


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> ProviderCalls:
    return ProviderCalls(monkeypatch)


@pytest.fixture
async def crt(
    backend: str, runtime_database_url: str, tmp_path: Path, calls: ProviderCalls
) -> AsyncIterator[Runtime]:
    async with running_on(backend, runtime_database_url, tmp_path) as runtime:
        yield runtime


async def compare(
    rt: Runtime,
    temperature: float,
    use_cache: bool = False,
    models: tuple[str, ...] = ("simulated:swift",),
    email: str = "ada@example.org",
) -> ComparisonRecord:
    payload = {
        "prompt": PROMPT,
        "system_prompt": SYSTEM,
        "panes": [{"model": m, "temperature": temperature, "max_tokens": 200} for m in models],
        "use_cache": use_cache,
    }
    created = await rt.comparisons.create(await owner(rt, email), payload)
    return await wait_until_final(rt.comparisons, created.id)


async def row_counts(rt: Runtime) -> tuple[int, int]:
    async with rt.db.session() as session:
        comparisons = (await session.execute(select(func.count()).select_from(Comparison))).scalar_one()
        runs = (await session.execute(select(func.count()).select_from(Run))).scalar_one()
    return comparisons, runs


# --- cache ----------------------------------------------------------------------


async def test_second_identical_comparison_at_temperature_zero_is_a_cache_hit(
    crt: Runtime, calls: ProviderCalls
) -> None:
    first = await compare(crt, temperature=0.0, models=("simulated:swift", "simulated:coder"))
    second = await compare(crt, temperature=0.0, models=("simulated:swift", "simulated:coder"))
    assert sorted(calls.calls) == ["coder", "swift"]  # the second comparison called no provider

    for before, after in zip(first.runs, second.runs, strict=True):
        assert before.status == after.status == "done"
        assert after.output_text == before.output_text == expected_output(before, PROMPT, SYSTEM)
        assert before.cache_hit is False and after.cache_hit is True
        # the original call's figures are kept apart from the replay's
        assert before.original_ttft_ms is None and before.original_total_ms is None
        assert after.original_ttft_ms == pytest.approx(before.ttft_ms)
        assert after.original_total_ms == pytest.approx(before.total_ms)
        assert after.ttft_ms is not None and before.ttft_ms is not None and after.ttft_ms < before.ttft_ms
        assert (after.input_tokens, after.output_tokens) == (before.input_tokens, before.output_tokens)
        assert after.output_tokens == 10
        assert after.cost_usd == 0.0


async def test_another_users_identical_request_is_not_served_from_the_cache(
    crt: Runtime, calls: ProviderCalls
) -> None:
    """A hit would reveal, through the "cached" badge, that someone else asked exactly this."""
    await compare(crt, temperature=0.0, email="ada@example.org")
    theirs = await compare(crt, temperature=0.0, email="eve@example.org")
    assert calls.calls == ["swift", "swift"]
    assert theirs.runs[0].cache_hit is False
    again = await compare(crt, temperature=0.0, email="eve@example.org")
    assert again.runs[0].cache_hit is True and calls.calls == ["swift", "swift"]


async def test_temperature_above_zero_calls_the_provider_unless_use_cache(
    crt: Runtime, calls: ProviderCalls
) -> None:
    first = await compare(crt, temperature=0.7)
    second = await compare(crt, temperature=0.7)
    assert len(calls.calls) == 2
    assert [first.runs[0].cache_hit, second.runs[0].cache_hit] == [False, False]
    assert first.settings == {}

    # runs that skipped the cache stored nothing either: the first use_cache run is a miss
    third = await compare(crt, temperature=0.7, use_cache=True)
    fourth = await compare(crt, temperature=0.7, use_cache=True)
    assert third.settings == fourth.settings == {"use_cache": True}
    assert len(calls.calls) == 3
    assert [third.runs[0].cache_hit, fourth.runs[0].cache_hit] == [False, True]
    assert fourth.runs[0].output_text == third.runs[0].output_text


async def test_a_retried_pane_of_a_use_cache_comparison_still_uses_the_cache(
    crt: Runtime, calls: ProviderCalls
) -> None:
    record = await compare(crt, temperature=0.9, use_cache=True)
    run = await crt.comparisons.retry(await owner(crt), record.id, record.runs[0].id)
    saved = await wait_until_final(crt.comparisons, record.id, attempt={run.id: run.attempt})
    assert len(calls.calls) == 1
    assert saved.runs[0].attempt == 1 and saved.runs[0].cache_hit is True
    assert saved.runs[0].output_text == record.runs[0].output_text


# --- rate limits ------------------------------------------------------------------


@pytest.fixture
async def limited(
    backend: str, runtime_database_url: str, tmp_path: Path, calls: ProviderCalls
) -> AsyncIterator[Runtime]:
    async with running_on(
        backend,
        runtime_database_url,
        tmp_path,
        rate_limit_requests_per_minute=3,
        clock=FakeClock(),  # the limits' windows stay put while the test runs
        rate_limit_tokens_per_day=1_000,
    ) as runtime:
        yield runtime


async def test_requests_over_the_minute_limit_are_refused_and_nothing_is_saved(
    limited: Runtime, calls: ProviderCalls
) -> None:
    await compare(limited, temperature=0.7, models=("simulated:instant", "simulated:swift"))
    assert await row_counts(limited) == (1, 2)
    with pytest.raises(RateLimitExceeded) as refused:
        await limited.comparisons.create(
            await owner(limited),
            {"prompt": PROMPT, "panes": [{"model": "simulated:instant", "max_tokens": 10}] * 2},
        )
    assert refused.value.limit == "requests_per_minute"
    assert 0 < refused.value.retry_after_s <= 60
    assert "at most 3 model requests a minute (one per pane; 2 used)" in refused.value.message
    assert await row_counts(limited) == (1, 2)
    assert len(calls.calls) == 2


async def test_the_daily_token_budget_refuses_and_saves_nothing(
    limited: Runtime, calls: ProviderCalls
) -> None:
    prompt_tokens = estimate_tokens(SYSTEM + "\n" + PROMPT)
    await compare(limited, temperature=0.7)  # reserves prompt + 200
    with pytest.raises(RateLimitExceeded) as refused:
        await limited.comparisons.create(
            await owner(limited),
            {
                "prompt": PROMPT,
                "system_prompt": SYSTEM,
                "panes": [{"model": "simulated:instant", "max_tokens": 900}],
            },
        )
    assert refused.value.limit == "tokens_per_day"
    assert refused.value.message.startswith(
        f"Daily token budget reached: {prompt_tokens + 200:,} of 1,000 tokens used today and this "
        f"comparison reserves {prompt_tokens + 900:,}"
    )
    assert 0 < refused.value.retry_after_s <= 86_400
    assert await row_counts(limited) == (1, 1)
    assert len(calls.calls) == 1
