"""Long loops on the event loop hand it over at a bounded interval.

asyncio switches tasks only where a task suspends, and many awaits never do: a queue that
has items, an uncontended lock, an async iterator whose next item is ready, a publish that
only appends. A loop over such awaits (the event pump draining a backlog, the worker
publishing an instant model's or a cache replay's 32,000 chunks) holds the event loop for
as long as it has work: issue 15 measured 200-640 ms, and `/api/v1/health` waited that long.

A `TimeSlice` is the loop's budget: after `SLICE_S` of work it suspends once (`sleep(0)`,
so every other ready task runs) and starts a new slice. Between hand-overs a pause is one clock
read, so the streaming hot path pays no sleep per item, only one per slice.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Generator
from typing import TypeVar

SLICE_S = 0.001  # at most this much work between two hand-overs (about a hundred chunks)

T = TypeVar("T")


class TimeSlice:
    """Say `await slice.pause()` between the items of a long loop."""

    __slots__ = ("_budget_s", "_until")

    def __init__(self, budget_s: float = SLICE_S) -> None:
        self._budget_s = budget_s
        self._until = time.perf_counter() + budget_s

    def spent(self) -> bool:
        """Whether the slice is spent: a hot loop says `if slice.spent(): await slice.pause()`,
        which spares it a coroutine per item (tens of thousands a second when streaming)."""
        return time.perf_counter() >= self._until

    async def pause(self) -> None:
        """Hand the loop over once the slice is spent; otherwise return at once."""
        if time.perf_counter() >= self._until:
            await asyncio.sleep(0)
            self._until = time.perf_counter() + self._budget_s


def run_through(steps: Generator[None, None, T]) -> T:
    """A stepped computation (a generator that yields between steps and returns its result),
    run to its end at once: for callers that are not on the event loop."""
    while True:
        try:
            next(steps)
        except StopIteration as done:
            return done.value


async def run_sliced(steps: Generator[None, None, T], budget: TimeSlice | None = None) -> T:
    """The same computation on the event loop, handing it over after each spent slice."""
    budget = budget or TimeSlice()
    while True:
        try:
            next(steps)
        except StopIteration as done:
            return done.value
        await budget.pause()
