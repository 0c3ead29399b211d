"""The health endpoint's answer, checked off the probe's path (issue 15).

A load balancer probes every few seconds and gives up after a timeout; what it needs is a quick
answer that says whether the process and its dependencies work. Checking them inside the probe
made the probe wait for the database thread and the network behind whatever else the event loop
was doing: under the largest request a probe took up to 220 ms while the loop itself was never
held more than 35 ms. So a task of the runtime checks every `interval_s` and the probe answers the
latest report, with its age. If that report is older than `max_age_s` (the checker is stuck, or
has not run yet) the probe checks for itself, so a stale "ok" is never served.

The parts are checked at two paces. The local ones (the database, the workers heard from) every
`interval_s`. The remote ones (Redis, the Kafka brokers: a network round trip to another
service, in every process) every `remote_interval_s` (HEALTH_REMOTE_CHECK_SECONDS), and every
`interval_s` while one of them is failing, so a recovery shows as soon as a failure did; their
age is `remote_checked_ms_ago`, never more than `remote_interval_s + max_age_s`. The remote
services are used all the time by the requests themselves (a failure there is handled on the
request's path: `backend/redis_client.py`'s `RedisOutage`, Kafka's retries); the health check
only reports them.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from backend.cancellation import raise_if_cancelled

Report = dict[str, Any]
Check = Callable[[], Awaitable[Report]]


class HealthWatch:
    def __init__(
        self,
        check: Check,
        interval_s: float = 1.0,
        max_age_s: float = 3.0,
        clock: Callable[[], float] = time.monotonic,
        *,
        remote: Check | None = None,
        remote_interval_s: float = 5.0,
    ) -> None:
        """`check` and `remote` each answer their parts and an "ok"; the report is ok if both are.
        Without `remote` (no Redis, no Kafka) the report has no `remote_checked_ms_ago`."""
        self._check = check
        self._remote = remote
        self._interval_s = interval_s
        self._remote_interval_s = remote_interval_s
        self._max_age_s = max_age_s
        self._clock = clock
        self._latest: tuple[float, Report] | None = None
        self._latest_remote: tuple[float, Report] | None = None

    async def run(self) -> None:
        """Forever: check (the remote parts when they are due), keep the report, wait."""
        while True:
            await self.refresh()
            if self._remote_due():
                await self.refresh_remote()
            raise_if_cancelled()  # the checks catch their errors, and Redis's client may swallow a cancel
            await asyncio.sleep(self._interval_s)

    async def refresh(self) -> Report:
        started = self._clock()
        report = await self._check()
        self._latest = (started, report)
        return report

    async def refresh_remote(self) -> Report:
        assert self._remote is not None
        started = self._clock()
        report = await self._remote()
        self._latest_remote = (started, report)
        return report

    def _remote_due(self) -> bool:
        if self._remote is None:
            return False
        if self._latest_remote is None or not self._latest_remote[1]["ok"]:
            return True  # never checked, or failing: check at the local pace
        return self._clock() - self._latest_remote[0] >= self._remote_interval_s

    async def report(self) -> Report:
        """The latest report (a copy, with `checked_ms_ago`), or a fresh one if it is too old."""
        if self._latest is None or self._clock() - self._latest[0] > self._max_age_s:
            await self.refresh()
        if self._remote is not None and (
            self._latest_remote is None
            or self._clock() - self._latest_remote[0] > self._remote_interval_s + self._max_age_s
        ):
            await self.refresh_remote()
        assert self._latest is not None
        checked_at, local = self._latest
        report = {**local, "checked_ms_ago": round((self._clock() - checked_at) * 1000)}
        if self._latest_remote is not None:
            remote_at, remote = self._latest_remote
            report.update(remote)
            report["ok"] = bool(local["ok"] and remote["ok"])
            report["remote_checked_ms_ago"] = round((self._clock() - remote_at) * 1000)
        return report
