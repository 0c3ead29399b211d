"""Per-user rate limits: in-process by default, Redis when REDIS_URL is set."""

from __future__ import annotations

import time
from collections.abc import Callable

from redis.asyncio import Redis

from backend.limits.base import Limits, RateLimiter, RateLimitExceeded
from backend.limits.memory import InProcessRateLimiter
from backend.limits.redis_limits import RedisRateLimiter
from backend.redis_client import redis_client
from backend.settings import Settings


def limits_from(settings: Settings) -> Limits:
    return Limits(
        requests_per_minute=settings.rate_limit_requests_per_minute,
        tokens_per_day=settings.rate_limit_tokens_per_day,
    )


def make_rate_limiter(
    settings: Settings, clock: Callable[[], float] = time.time, shared: Redis | None = None
) -> RateLimiter:
    """`clock` (epoch seconds) picks the limits' windows: tests pass one they move by hand.
    `shared`: the process's Redis client (the runtime's), which the limiter then does not close."""
    if shared is not None:
        return RedisRateLimiter(
            shared, limits_from(settings), settings.redis_key_prefix, clock=clock, owns_client=False
        )
    if settings.redis_url:
        return RedisRateLimiter(
            redis_client(settings.redis_url), limits_from(settings), settings.redis_key_prefix, clock=clock
        )
    return InProcessRateLimiter(limits_from(settings), clock=clock)


__all__ = [
    "InProcessRateLimiter",
    "Limits",
    "RateLimitExceeded",
    "RateLimiter",
    "RedisRateLimiter",
    "limits_from",
    "make_rate_limiter",
]
