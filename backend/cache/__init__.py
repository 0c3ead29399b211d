"""Response cache (and one-time claims): in-process by default, Redis when REDIS_URL is set."""

from __future__ import annotations

from redis.asyncio import Redis

from backend.cache.base import CachedResponse, ResponseCache, cache_allowed, cache_key
from backend.cache.memory import InProcessResponseCache
from backend.cache.redis_cache import RedisResponseCache
from backend.redis_client import redis_client
from backend.settings import Settings


def make_response_cache(settings: Settings, shared: Redis | None = None) -> ResponseCache:
    """`shared`: the process's Redis client (the runtime's), which the cache then does not close."""
    if shared is not None:
        return RedisResponseCache(shared, settings.redis_key_prefix, owns_client=False)
    if settings.redis_url:
        return RedisResponseCache(redis_client(settings.redis_url), settings.redis_key_prefix)
    return InProcessResponseCache()


__all__ = [
    "CachedResponse",
    "InProcessResponseCache",
    "RedisResponseCache",
    "ResponseCache",
    "cache_allowed",
    "cache_key",
    "make_response_cache",
]
