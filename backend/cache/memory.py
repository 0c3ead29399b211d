"""In-process response cache (the embedded default): cachetools' TLRUCache,
so every entry carries its own time to live."""

from __future__ import annotations

import time
from collections.abc import Callable

from cachetools import TLRUCache

from backend.cache.base import CachedResponse

DEFAULT_MAX_ENTRIES = 2_048


def _expires_at(_key: str, value: tuple[CachedResponse, float], now: float) -> float:
    return now + value[1]


class InProcessResponseCache:
    def __init__(
        self, max_entries: int = DEFAULT_MAX_ENTRIES, timer: Callable[[], float] = time.monotonic
    ) -> None:
        self._entries: TLRUCache[str, tuple[CachedResponse, float]] = TLRUCache(
            maxsize=max_entries, ttu=_expires_at, timer=timer
        )
        self._timer = timer
        # Claimed keys -> when they expire. Not an LRU: evicting a live claim would let it be
        # claimed twice; the expired ones are dropped on every claim.
        self._claims: dict[str, float] = {}

    async def get(self, key: str) -> CachedResponse | None:
        entry = self._entries.get(key)
        return entry[0] if entry is not None else None

    async def put(self, key: str, value: CachedResponse, ttl: float) -> None:
        if ttl > 0:
            self._entries[key] = (value, ttl)

    async def claim(self, key: str, ttl: float) -> bool:
        now = self._timer()
        self._claims = {k: until for k, until in self._claims.items() if until > now}
        if key in self._claims:
            return False
        self._claims[key] = now + ttl  # no await between the check and the record: atomic
        return True

    async def close(self) -> None:
        self._entries.clear()
        self._claims.clear()
