"""A clock a test moves by hand, for code that takes `clock: Callable[[], float]`."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass


@dataclass
class FakeClock:
    now: float = 1_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


async def clear_of_a_minute_boundary(margin_s: float = 15.0) -> None:
    """Wait, if need be, until the wall clock is at least `margin_s` before the next minute.

    The rate limiter counts requests in fixed windows of the wall clock's minutes.  A test of the
    whole runtime (whose limiter reads the real clock) that makes its requests across a minute
    boundary sees two windows and no refusal; starting it clear of the boundary keeps its
    requests in one window, so long as the test takes less than `margin_s`."""
    left = 60.0 - time.time() % 60.0
    if left < margin_s:
        await asyncio.sleep(left + 0.05)
