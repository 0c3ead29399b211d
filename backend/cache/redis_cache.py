"""Redis response cache: one JSON string per entry, written with SET ... PX so
Redis itself expires it; every backend replica and worker shares it. Claims (`claim`) are
keys written with SET NX PX under `<prefix>once:`."""

from __future__ import annotations

import logging

from pydantic import ValidationError
from redis.asyncio import Redis

from backend.cache.base import CachedResponse

log = logging.getLogger(__name__)


class RedisResponseCache:
    def __init__(self, client: Redis, prefix: str = "llmdash:", *, owns_client: bool = True) -> None:
        self._client = client
        self._prefix = f"{prefix}cache:"
        self._claim_prefix = f"{prefix}once:"
        self._owns_client = owns_client

    def _key(self, key: str) -> str:
        return self._prefix + key

    async def get(self, key: str) -> CachedResponse | None:
        raw = await self._client.get(self._key(key))
        if raw is None:
            return None
        try:
            return CachedResponse.from_json(raw)
        except ValidationError:  # written by an incompatible version: a miss, not a failure
            log.warning("ignoring an unreadable cache entry %s", key)
            return None

    async def put(self, key: str, value: CachedResponse, ttl: float) -> None:
        milliseconds = round(ttl * 1000)
        if milliseconds > 0:
            await self._client.set(self._key(key), value.to_json(), px=milliseconds)

    async def claim(self, key: str, ttl: float) -> bool:
        """SET NX PX: Redis records the key only if it is absent, atomically, and expires it."""
        milliseconds = max(1, round(ttl * 1000))
        return bool(await self._client.set(self._claim_prefix + key, b"1", nx=True, px=milliseconds))

    async def close(self) -> None:
        if self._owns_client:
            await self._client.aclose()
