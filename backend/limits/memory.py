"""In-process rate limits (the embedded default): fixed-window counters in a dict.

`reserve` never awaits between its check and its update, so on one event loop
it is atomic.  Old windows are dropped as new ones start.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from backend.limits.base import (
    DAY_S,
    MINUTE_S,
    Limits,
    requests_refused,
    tokens_refused,
    window_remaining,
)


class InProcessRateLimiter:
    def __init__(self, limits: Limits, clock: Callable[[], float] = time.time) -> None:
        self._limits = limits
        self._clock = clock
        # (user, kind) -> (window index, count)
        self._counters: dict[tuple[str, str], tuple[int, int]] = {}

    def _used(self, user_id: str, kind: str, window: int) -> int:
        entry = self._counters.get((user_id, kind))
        return entry[1] if entry is not None and entry[0] == window else 0

    async def reserve(self, user_id: str, requests: int, tokens: int) -> None:
        now = self._clock()
        minute, day = math.floor(now / MINUTE_S), math.floor(now / DAY_S)
        rpm, tpd = self._limits.requests_per_minute, self._limits.tokens_per_day
        used_requests = self._used(user_id, "requests", minute)
        used_tokens = self._used(user_id, "tokens", day)
        if rpm and used_requests + requests > rpm:
            raise requests_refused(rpm, used_requests, requests, window_remaining(now, MINUTE_S))
        if tpd and used_tokens + tokens > tpd:
            raise tokens_refused(tpd, used_tokens, tokens, window_remaining(now, DAY_S))
        if rpm:
            self._counters[(user_id, "requests")] = (minute, used_requests + requests)
        if tpd:
            self._counters[(user_id, "tokens")] = (day, used_tokens + tokens)

    async def close(self) -> None:
        self._counters.clear()
