"""Redis clients of the backend, and what callers do while Redis is unreachable.

Redis holds things the app can do without for a while: the response cache (a miss),
the rate limits and the sign-in throttle (counted in the process meanwhile).  So a
client here fails fast: short timeouts and one quick retry, not redis-py's default
of three retries with up to ten seconds of backoff on a request's path.  And after a
failure `RedisOutage` sends callers straight to their fallback for a couple of
seconds instead of waiting on a dead server every time; redis-py reconnects by
itself once the server is back.
"""

from __future__ import annotations

import logging
import time

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

# What an unreachable or failing Redis raises (ConnectionError and TimeoutError are RedisErrors).
REDIS_ERRORS: tuple[type[BaseException], ...] = (RedisError, OSError, TimeoutError)
CONNECT_TIMEOUT_S = 1.0
COMMAND_TIMEOUT_S = 2.0


def redis_client(url: str) -> Redis:
    return Redis.from_url(
        url,
        socket_connect_timeout=CONNECT_TIMEOUT_S,
        socket_timeout=COMMAND_TIMEOUT_S,
        retry=Retry(ExponentialBackoff(cap=0.1, base=0.02), retries=1),
    )


class RedisOutage:
    """Remembers that Redis failed lately (one per use: cache, limits, throttle)."""

    def __init__(self, what: str, retry_after_s: float = 2.0) -> None:
        self._what = what
        self._retry_after_s = retry_after_s
        self._until = 0.0
        self._failing = False

    def down(self) -> bool:
        """True for a short while after a failure: use the fallback without asking Redis."""
        return time.monotonic() < self._until

    def failed(self, exc: BaseException) -> None:
        if not self._failing:
            log.warning("Redis unreachable (%s: %r); %s", type(exc).__name__, exc, self._what)
        self._failing = True
        self._until = time.monotonic() + self._retry_after_s

    def recovered(self) -> None:
        if self._failing:
            log.warning("Redis reachable again; %s back in Redis", self._what)
        self._failing = False
