"""Background tasks stop when cancelled even if something they await swallowed the cancellation."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import pytest

from backend.cancellation import raise_if_cancelled, stop_tasks


async def _swallows_one_cancel() -> None:
    """Carries on after its first cancellation, as a loop over a library that swallows one does."""
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.sleep(60)
    await asyncio.sleep(60)


async def test_a_task_still_running_after_the_grace_is_cancelled_again_and_named(
    caplog: pytest.LogCaptureFixture,
) -> None:
    swallower = asyncio.create_task(_swallows_one_cancel(), name="swallower")
    polite = asyncio.create_task(asyncio.sleep(60), name="polite")
    await asyncio.sleep(0)
    with caplog.at_level(logging.WARNING, logger="backend.cancellation"):
        await asyncio.wait_for(stop_tasks([swallower, polite], grace_s=0.05, again_s=0.05), 5)
    assert swallower.cancelled() and polite.cancelled()
    assert [r.getMessage() for r in caplog.records] == [
        "task swallower did not stop when cancelled; cancelling it again"
    ]


async def test_a_task_that_fails_while_stopping_is_logged_and_the_others_still_stop(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def fails_on_cancel() -> None:
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            raise RuntimeError("broken clean-up") from None

    failing = asyncio.create_task(fails_on_cancel(), name="failing")
    other = asyncio.create_task(asyncio.sleep(60), name="other")
    await asyncio.sleep(0)
    with caplog.at_level(logging.ERROR, logger="backend.cancellation"):
        await stop_tasks([failing, other], grace_s=1.0)
    assert other.cancelled()
    assert [r.getMessage() for r in caplog.records] == ["task failing failed while stopping"]


async def test_raise_if_cancelled_stops_a_loop_whose_call_turned_the_cancel_into_an_error() -> None:
    passes = 0

    async def call_that_converts_cancel() -> None:
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            raise ConnectionError("cancelled mid-reply") from None

    async def loop() -> None:
        nonlocal passes
        while True:
            passes += 1
            try:
                await call_that_converts_cancel()
            except ConnectionError:
                raise_if_cancelled()

    task = asyncio.create_task(loop())
    await asyncio.sleep(0)
    task.cancel()
    done, _ = await asyncio.wait([task], timeout=2)
    assert done and task.cancelled() and passes == 1


async def test_raise_if_cancelled_does_nothing_in_a_task_not_asked_to_stop() -> None:
    raise_if_cancelled()
