"""The health endpoint's report: checked beside the probes, never served older than max_age_s."""

from __future__ import annotations

import asyncio
import contextlib
import random
from typing import Any

import pytest

from backend.health_watch import HealthWatch
from backend.redis_client import redis_client
from backend.runtime import _redis_state
from tests.redis_support import TEST_REDIS_URL


class Checks:
    def __init__(self) -> None:
        self.count = 0
        self.database = "ok"

    async def __call__(self) -> dict[str, Any]:
        self.count += 1
        return {"ok": self.database == "ok", "database": self.database}


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_probes_answer_the_latest_check_with_its_age_and_check_for_themselves_when_it_is_old() -> None:
    checks, clock = Checks(), Clock()
    watch = HealthWatch(checks, interval_s=1.0, max_age_s=3.0, clock=clock)
    assert await watch.report() == {"ok": True, "database": "ok", "checked_ms_ago": 0}  # nothing yet
    assert checks.count == 1

    checks.database = "error: OperationalError"
    clock.now += 2.5
    assert await watch.report() == {"ok": True, "database": "ok", "checked_ms_ago": 2500}
    assert checks.count == 1  # within max_age_s: the probe did no work of its own

    clock.now += 1.0  # 3.5 s old: too old to serve
    assert await watch.report() == {"ok": False, "database": "error: OperationalError", "checked_ms_ago": 0}
    assert checks.count == 2


async def test_the_watch_checks_every_interval_so_probes_see_a_change_within_it() -> None:
    checks = Checks()
    watch = HealthWatch(checks, interval_s=0.05, max_age_s=60.0)
    task = asyncio.create_task(watch.run())
    try:
        await asyncio.sleep(0.01)
        assert (await watch.report())["ok"] is True
        checks.database = "error: OperationalError"
        await asyncio.sleep(0.2)
        report = await watch.report()
        assert report["ok"] is False and report["checked_ms_ago"] < 100
        assert checks.count >= 3
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_a_report_is_a_copy() -> None:
    watch = HealthWatch(Checks())
    first = await watch.report()
    first.pop("ok")  # as the endpoint does
    assert "ok" in await watch.report()


class RemoteChecks:
    """The remote parts (Redis, the Kafka brokers), counted."""

    def __init__(self) -> None:
        self.count = 0
        self.redis = "ok"

    async def __call__(self) -> dict[str, Any]:
        self.count += 1
        return {"ok": self.redis == "ok", "redis": self.redis}


async def test_remote_parts_are_checked_every_remote_interval_and_every_interval_while_failing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The watch's loop driven by a clock that one sleep moves by one interval."""
    checks, remote, clock = Checks(), RemoteChecks(), Clock()
    watch = HealthWatch(
        checks, interval_s=1.0, max_age_s=3.0, clock=clock, remote=remote, remote_interval_s=5.0
    )
    ticks = 0

    async def sleep(seconds: float) -> None:
        nonlocal ticks
        clock.now += seconds
        ticks += 1
        if ticks == 10:  # 10 s: Redis goes down
            remote.redis = "error: ConnectionError"
        if ticks == 13:  # 13 s: back
            remote.redis = "ok"
        if ticks == 20:
            raise asyncio.CancelledError

    monkeypatch.setattr("backend.health_watch.asyncio.sleep", sleep)
    with pytest.raises(asyncio.CancelledError):
        await watch.run()
    assert checks.count == 20  # the local parts: every second
    # The remote ones at 0, 5 and 10 s (down: then every second) 11, 12, 13 (ok again), 18 s.
    assert remote.count == 7
    report = await watch.report()
    assert report == {
        "ok": True,
        "database": "ok",
        "redis": "ok",
        "checked_ms_ago": 1000,
        "remote_checked_ms_ago": 2000,
    }


async def test_a_probe_checks_the_remote_parts_itself_when_their_report_is_older_than_promised() -> None:
    checks, remote, clock = Checks(), RemoteChecks(), Clock()
    watch = HealthWatch(
        checks, interval_s=1.0, max_age_s=3.0, clock=clock, remote=remote, remote_interval_s=5.0
    )
    assert (await watch.report())["remote_checked_ms_ago"] == 0
    remote.redis = "error: ConnectionError"
    clock.now += 8.0  # remote_interval_s + max_age_s: still served
    await watch.refresh()
    report = await watch.report()
    assert report["ok"] is True and report["remote_checked_ms_ago"] == 8000 and remote.count == 1
    clock.now += 0.5  # older than promised: the probe asks
    report = await watch.report()
    assert report["ok"] is False and report["redis"] == "error: ConnectionError"
    assert report["remote_checked_ms_ago"] == 0 and remote.count == 2
    assert report["database"] == "ok" and report["checked_ms_ago"] == 500  # the local part was fresh


@pytest.mark.redis
async def test_the_watch_stops_when_cancelled_even_mid_redis_check() -> None:
    """redis-py (with the socket timeout our client sets) swallows most cancellations that land
    while a command waits for its reply (backend/cancellation.py); the watch must stop anyway,
    or the runtime's shutdown waits for it for ever. Cancelled at random points of real PINGs."""
    client = redis_client(TEST_REDIS_URL)

    async def local() -> dict[str, Any]:
        return {"ok": True}

    async def remote() -> dict[str, Any]:
        return {"ok": await _redis_state(client) == "ok"}  # the runtime's check of Redis

    try:
        landed_mid_check = 0
        for _ in range(300):
            watch = HealthWatch(local, interval_s=0.0, remote=remote, remote_interval_s=0.0)
            task = asyncio.create_task(watch.run())
            await asyncio.sleep(random.random() * 0.001)
            landed_mid_check += _in_redis_call(task)
            task.cancel()
            done, _ = await asyncio.wait([task], timeout=2.0)
            assert done, "the watch went on after it was cancelled"
            assert task.cancelled()
        assert landed_mid_check >= 30  # the test exercised the case it is about
    finally:
        await client.aclose()


def _in_redis_call(task: asyncio.Task[None]) -> bool:
    """Whether the task waits inside redis-py now (down its chain of awaits)."""
    awaiting: Any = task.get_coro()
    while awaiting is not None:
        frame = getattr(awaiting, "cr_frame", None) or getattr(awaiting, "gi_frame", None)
        if frame is not None and "/redis/" in frame.f_code.co_filename:
            return True
        awaiting = getattr(awaiting, "cr_await", None) or getattr(awaiting, "gi_yieldfrom", None)
    return False
