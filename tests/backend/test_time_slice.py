"""TimeSlice and run_sliced: long loops hand the event loop over after each slice of work, and
only then (issue 15)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Generator

from backend.time_slice import TimeSlice, run_sliced, run_through


async def _turns_of_another_task_during(work: asyncio.Future[object] | asyncio.Task[object]) -> int:
    turns = 0
    while not work.done():
        await asyncio.sleep(0)
        turns += 1
    return turns


async def _busy_loop(budget: TimeSlice, seconds: float) -> None:
    until = time.perf_counter() + seconds
    while time.perf_counter() < until:
        await budget.pause()


async def test_a_busy_loop_hands_the_loop_over_once_per_slice() -> None:
    work = asyncio.ensure_future(_busy_loop(TimeSlice(0.001), 0.1))
    turns = await _turns_of_another_task_during(work)
    assert turns >= 5  # about 100 slices of wall time (fewer when the OS gives the core away)


async def test_pause_does_not_suspend_before_the_slice_is_spent() -> None:
    work = asyncio.ensure_future(_busy_loop(TimeSlice(10.0), 0.02))
    turns = await _turns_of_another_task_during(work)
    assert turns == 1  # the loop ran it to its end in one go (the waiting task's first turn)


def _stepped(n: int) -> Generator[None, None, int]:
    total = 0
    for i in range(n):
        total += i
        time.sleep(0.0002)
        yield
    return total


async def test_run_sliced_and_run_through_give_the_same_result() -> None:
    assert run_through(_stepped(100)) == sum(range(100))
    work = asyncio.ensure_future(run_sliced(_stepped(100), TimeSlice(0.001)))
    turns = await _turns_of_another_task_during(work)
    assert work.result() == sum(range(100)) and turns >= 3  # 20 ms of steps, 1 ms slices
