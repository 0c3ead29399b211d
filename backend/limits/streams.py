"""Bounded work per account: live streams held open at once (issue 15).

One API token could open any number of SSE streams, each a follow loop re-reading the database
every few seconds. `StreamSlots` counts an account's open streams in this process (a replica
bounds the work it is given; behind a balancer each replica has the same bound) and refuses one
past the limit with RateLimitExceeded, so the API answers 429 with Retry-After before the
stream starts. A slot is given back when its stream ends, however it ends.
"""

from __future__ import annotations

from collections import Counter

from backend.i18n import N_, Message
from backend.limits.base import RateLimitExceeded

RETRY_AFTER_S = 5.0
STREAMS = N_("Too many live streams open at once ({limit}). Close one, or try again shortly.")


class Slot:
    def __init__(self, owner: StreamSlots, user_id: str) -> None:
        self._owner = owner
        self._user_id = user_id
        self._held = True

    def release(self) -> None:
        if self._held:
            self._held = False
            self._owner._release(self._user_id)


class StreamSlots:
    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._open: Counter[str] = Counter()

    def take(self, user_id: str) -> Slot:
        if self._open[user_id] >= self._limit:
            raise RateLimitExceeded(Message(STREAMS, limit=self._limit), RETRY_AFTER_S, "concurrent_streams")
        self._open[user_id] += 1
        return Slot(self, user_id)

    def open_for(self, user_id: str) -> int:
        return self._open[user_id]

    def _release(self, user_id: str) -> None:
        self._open[user_id] -= 1
        if self._open[user_id] <= 0:
            del self._open[user_id]
