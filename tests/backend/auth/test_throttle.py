"""The sign-in throttle on both stores: in-process and Redis (shared by replicas)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from backend.auth.throttle import Lockout, SignInThrottle
from backend.i18n import gettext
from tests.redis_support import BACKENDS, redis_prefix
from tests.support.clock import FakeClock

ThrottleFactory = Callable[[int, float], SignInThrottle]
# Waits out a lockout window: the fake clock's hands move in-process; Redis expires its keys
# (PEXPIRE) on the server's own clock, which only a real wait moves.
WaitOut = Callable[[float], Awaitable[None]]


@pytest.fixture(params=BACKENDS)
async def make_throttle(request: pytest.FixtureRequest) -> AsyncIterator[tuple[ThrottleFactory, WaitOut]]:
    if request.param == "memory":
        clock = FakeClock()

        def in_process(max_failures: int, lockout_s: float) -> SignInThrottle:
            return SignInThrottle(max_failures, lockout_s, sleep=False, clock=clock)

        async def step_past(seconds: float) -> None:
            clock.advance(seconds)

        yield in_process, step_past
        return
    async with redis_prefix() as (client, prefix):

        def on_redis(max_failures: int, lockout_s: float) -> SignInThrottle:
            return SignInThrottle(max_failures, lockout_s, redis=client, prefix=prefix, sleep=False)

        yield on_redis, asyncio.sleep


async def test_locks_the_address_out_of_the_account_until_the_window_ends(
    make_throttle: tuple[ThrottleFactory, WaitOut],
) -> None:
    factory, wait_out = make_throttle
    throttle = factory(2, 0.5)
    for _ in range(2):
        await throttle.before_attempt("ada@example.org", "192.0.2.1")
        await throttle.failed("ada@example.org", "192.0.2.1")
    with pytest.raises(Lockout) as locked:
        await throttle.before_attempt("ADA@example.org ", "192.0.2.1")  # same account, any case
    assert 0 < locked.value.retry_after_s <= 0.5
    await throttle.before_attempt("ada@example.org", "198.51.100.2")  # another address may still try
    await wait_out(0.6)
    await throttle.before_attempt("ada@example.org", "192.0.2.1")  # the window has passed


async def test_success_clears_this_addresss_count_for_the_account(
    make_throttle: tuple[ThrottleFactory, WaitOut],
) -> None:
    factory, _ = make_throttle
    throttle = factory(2, 30.0)
    await throttle.failed("ada@example.org", "192.0.2.1")
    await throttle.succeeded("ada@example.org", "192.0.2.1")
    await throttle.failed("ada@example.org", "192.0.2.1")
    await throttle.before_attempt("ada@example.org", "192.0.2.1")  # 1 failure since success
    await throttle.failed("ada@example.org", "192.0.2.1")
    with pytest.raises(Lockout):
        await throttle.before_attempt("ada@example.org", "192.0.2.1")


@pytest.mark.redis
async def test_two_throttles_on_one_redis_share_counts() -> None:
    async with redis_prefix() as (client, prefix):
        one = SignInThrottle(2, 30.0, redis=client, prefix=prefix, sleep=False)
        two = SignInThrottle(2, 30.0, redis=client, prefix=prefix, sleep=False)
        await one.failed("ada@example.org", "192.0.2.1")
        await two.failed("ada@example.org", "192.0.2.1")
        with pytest.raises(Lockout):
            await one.before_attempt("ada@example.org", "192.0.2.1")


def test_the_lockout_message_rounds_up_to_whole_minutes() -> None:
    assert Lockout(1).message == "Too many failed sign-ins. Try again in 1 minute."
    assert Lockout(61).message == "Too many failed sign-ins. Try again in 2 minutes."
    # In the reader's language (the API's 429 and the sign-in form say it so).
    said = "サインインの失敗が多すぎます。{} 分後にもう一度お試しください。"
    assert gettext("ja", Lockout(1).message) == said.format(1)
    assert gettext("ja", Lockout(61).message) == said.format(2)
