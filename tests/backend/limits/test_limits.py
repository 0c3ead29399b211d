"""Rate limits: the same fixed-window behaviour in-process and on Redis."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from backend.i18n import gettext
from backend.limits import (
    InProcessRateLimiter,
    Limits,
    RateLimiter,
    RateLimitExceeded,
    RedisRateLimiter,
    make_rate_limiter,
)
from tests.backend.runtime_support import make_settings
from tests.redis_support import BACKENDS, TEST_REDIS_URL, redis_prefix

T0 = 1_800_000_015.0  # 15 s into a minute; 86_400 * 20833 + 28_815: 8 h 0 min 15 s into a UTC day


@dataclass
class Clock:
    now: float = T0

    def __call__(self) -> float:
        return self.now


LimiterFactory = Callable[[Limits], RateLimiter]


@pytest.fixture(params=BACKENDS)
async def make(request: pytest.FixtureRequest) -> AsyncIterator[tuple[LimiterFactory, Clock]]:
    clock = Clock()
    if request.param == "memory":
        yield (lambda limits: InProcessRateLimiter(limits, clock)), clock
        return
    async with redis_prefix() as (client, prefix):
        yield (lambda limits: RedisRateLimiter(client, limits, prefix, clock=clock, owns_client=False)), clock


async def test_the_n_plus_first_request_in_a_minute_is_refused(
    make: tuple[LimiterFactory, Clock],
) -> None:
    factory, clock = make
    limiter = factory(Limits(requests_per_minute=5, tokens_per_day=0))
    for _ in range(5):
        await limiter.reserve("alice", requests=1, tokens=100)
    with pytest.raises(RateLimitExceeded) as refused:
        await limiter.reserve("alice", requests=1, tokens=100)
    assert refused.value.limit == "requests_per_minute"
    assert refused.value.retry_after_s == pytest.approx(45.0)
    assert refused.value.retry_after_header == "45"
    assert refused.value.message == (
        "Rate limit reached: at most 5 model requests a minute (one per pane; 5 used). "
        "Try again in 45 seconds."
    )
    # The wait is said in the reader's language too, not "45 s" in both.
    assert gettext("ja", refused.value.message).endswith("45 秒 後にもう一度お試しください。")
    await limiter.reserve("bob", requests=5, tokens=0)  # per user
    clock.now += 45.0  # the next minute starts
    await limiter.reserve("alice", requests=5, tokens=0)


async def test_a_comparison_counts_one_request_per_pane(make: tuple[LimiterFactory, Clock]) -> None:
    factory, _ = make
    limiter = factory(Limits(requests_per_minute=4, tokens_per_day=0))
    await limiter.reserve("alice", requests=3, tokens=0)
    with pytest.raises(RateLimitExceeded):
        await limiter.reserve("alice", requests=2, tokens=0)
    await limiter.reserve("alice", requests=1, tokens=0)  # the refused one counted nothing
    with pytest.raises(RateLimitExceeded) as refused:
        await factory(Limits(requests_per_minute=4, tokens_per_day=0)).reserve("carol", 5, 0)
    assert "needs 5 (one per pane). Remove some panes." in refused.value.message


async def test_the_token_budget_is_per_day_and_refusal_consumes_nothing(
    make: tuple[LimiterFactory, Clock],
) -> None:
    factory, clock = make
    limiter = factory(Limits(requests_per_minute=10, tokens_per_day=2_000))
    await limiter.reserve("alice", requests=1, tokens=1_500)
    with pytest.raises(RateLimitExceeded) as refused:
        await limiter.reserve("alice", requests=1, tokens=600)
    assert refused.value.limit == "tokens_per_day"
    assert refused.value.retry_after_s == pytest.approx(86_400 - 28_815)  # until 00:00 UTC
    assert refused.value.message == (
        "Daily token budget reached: 1,500 of 2,000 tokens used today and this comparison reserves "
        "600 (prompt + max tokens per pane). Lower max tokens, or try again in 16 hours."
    )
    # neither the requests nor the tokens of the refused call were counted
    await limiter.reserve("alice", requests=9, tokens=500)
    with pytest.raises(RateLimitExceeded) as again:
        await limiter.reserve("alice", requests=1, tokens=0)
    assert again.value.limit == "requests_per_minute"
    clock.now += 86_400 - 28_815  # midnight UTC: a fresh budget
    await limiter.reserve("alice", requests=1, tokens=2_000)


async def test_zero_turns_a_limit_off(make: tuple[LimiterFactory, Clock]) -> None:
    factory, _ = make
    limiter = factory(Limits(requests_per_minute=0, tokens_per_day=0))
    refused: list[str] = []
    for _ in range(3):
        try:
            await limiter.reserve("alice", requests=100, tokens=10_000_000)
        except RateLimitExceeded as exc:
            refused.append(exc.limit)
    assert refused == []
    # Only the limit set to zero is off: the other one still refuses.
    requests_off = factory(Limits(requests_per_minute=0, tokens_per_day=1_000))
    await requests_off.reserve("bob", requests=100, tokens=1_000)
    with pytest.raises(RateLimitExceeded) as tokens_refused:
        await requests_off.reserve("bob", requests=1, tokens=1)
    assert tokens_refused.value.limit == "tokens_per_day"
    tokens_off = factory(Limits(requests_per_minute=5, tokens_per_day=0))
    await tokens_off.reserve("carol", requests=5, tokens=10_000_000)
    with pytest.raises(RateLimitExceeded) as requests_refused:
        await tokens_off.reserve("carol", requests=1, tokens=0)
    assert requests_refused.value.limit == "requests_per_minute"


async def test_redis_reservations_are_atomic_across_clients() -> None:
    """Twenty concurrent reservations from two 'replicas' against a limit of 10: exactly 10 pass."""
    async with redis_prefix() as (client, prefix), redis_prefix() as (other, _):
        limits = Limits(requests_per_minute=10, tokens_per_day=0)
        replicas = [RedisRateLimiter(c, limits, prefix, owns_client=False) for c in (client, other)]

        async def attempt(i: int) -> bool:
            try:
                await replicas[i % 2].reserve("alice", requests=1, tokens=0)
            except RateLimitExceeded:
                return False
            return True

        results = await asyncio.gather(*(attempt(i) for i in range(20)))
        assert sum(results) == 10
        keys = [k async for k in client.scan_iter(match=f"{prefix}rl:alice:rpm:*")]
        assert len(keys) == 1
        assert int(await client.get(keys[0])) == 10
        assert 0 < await client.ttl(keys[0]) <= 120


async def test_factory_follows_redis_url(tmp_path: Path) -> None:
    settings = make_settings("sqlite://", tmp_path, rate_limit_requests_per_minute=7)
    embedded = make_rate_limiter(settings)
    assert isinstance(embedded, InProcessRateLimiter)
    shared = make_rate_limiter(make_settings("sqlite://", tmp_path, redis_url=TEST_REDIS_URL))
    assert isinstance(shared, RedisRateLimiter)
    await shared.close()
