"""The health endpoint's answer, checked off the probe's path (issue 15).

A load balancer probes every few seconds and gives up after a timeout; what it needs is a quick
answer that says whether the process and its dependencies work. Checking them inside the probe
made the probe wait for the database thread and the network behind whatever else the event loop
was doing: under the largest request a probe took up to 220 ms while the loop itself was never
held more than 35 ms. So a task of the runtime checks every `interval_s` and the probe answers the
latest report, with its age. If that report is older than `max_age_s` (the checker is stuck, or
has not run yet) the probe checks for itself, so a stale "ok" is never served.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

Report = dict[str, Any]


class HealthWatch:
    def __init__(
        self,
        check: Callable[[], Awaitable[Report]],
        interval_s: float = 1.0,
        max_age_s: float = 3.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._check = check
        self._interval_s = interval_s
        self._max_age_s = max_age_s
        self._clock = clock
        self._latest: tuple[float, Report] | None = None

    async def run(self) -> None:
        """Forever: check, keep the report, wait."""
        while True:
            await self.refresh()
            await asyncio.sleep(self._interval_s)

    async def refresh(self) -> Report:
        started = self._clock()
        report = await self._check()
        self._latest = (started, report)
        return report

    async def report(self) -> Report:
        """The latest report (a copy, with `checked_ms_ago`), or a fresh one if it is too old."""
        if self._latest is None or self._clock() - self._latest[0] > self._max_age_s:
            await self.refresh()
        assert self._latest is not None
        checked_at, report = self._latest
        return {**report, "checked_ms_ago": round((self._clock() - checked_at) * 1000)}
