"""The sign-in throttle on both stores: in-process and Redis (shared by replicas)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from backend.auth.throttle import Lockout, SignInThrottle
from tests.redis_support import BACKENDS, redis_prefix


@pytest.fixture(params=BACKENDS)
async def make_throttle(request: pytest.FixtureRequest) -> AsyncIterator[object]:
    if request.param == "memory":
        yield lambda max_failures, lockout_s: SignInThrottle(max_failures, lockout_s, sleep=False)
        return
    async with redis_prefix() as (client, prefix):
        yield lambda max_failures, lockout_s: SignInThrottle(
            max_failures, lockout_s, redis=client, prefix=prefix, sleep=False
        )


async def test_locks_after_the_limit_and_unlocks_after_the_window(make_throttle) -> None:  # type: ignore[no-untyped-def]
    throttle: SignInThrottle = make_throttle(2, 0.5)
    for _ in range(2):
        await throttle.before_attempt("ada@example.org", "192.0.2.1")
        await throttle.failed("ada@example.org", "192.0.2.1")
    with pytest.raises(Lockout) as locked:
        await throttle.before_attempt("ADA@example.org ", "198.51.100.2")  # same account, any case
    assert 0 < locked.value.retry_after_s <= 0.5
    await asyncio.sleep(0.6)
    await throttle.before_attempt("ada@example.org", "192.0.2.1")  # the window has passed


async def test_success_clears_the_account_count_but_not_the_address(make_throttle) -> None:  # type: ignore[no-untyped-def]
    throttle: SignInThrottle = make_throttle(2, 30.0)
    await throttle.failed("ada@example.org", "192.0.2.1")
    await throttle.succeeded("ada@example.org")
    await throttle.failed("ada@example.org", "192.0.2.1")
    await throttle.before_attempt("ada@example.org", "198.51.100.2")  # 1 failure since success
    with pytest.raises(Lockout):
        await throttle.before_attempt("bob@example.org", "192.0.2.1")  # the address saw 2


@pytest.mark.redis
async def test_two_throttles_on_one_redis_share_counts() -> None:
    async with redis_prefix() as (client, prefix):
        one = SignInThrottle(2, 30.0, redis=client, prefix=prefix, sleep=False)
        two = SignInThrottle(2, 30.0, redis=client, prefix=prefix, sleep=False)
        await one.failed("ada@example.org", "192.0.2.1")
        await two.failed("ada@example.org", "192.0.2.9")
        with pytest.raises(Lockout):
            await one.before_attempt("ada@example.org", "203.0.113.5")


def test_the_lockout_message_rounds_up_to_whole_minutes() -> None:
    assert Lockout(1).message == "Too many failed sign-ins. Try again in 1 minute."
    assert Lockout(61).message == "Too many failed sign-ins. Try again in 2 minutes."
