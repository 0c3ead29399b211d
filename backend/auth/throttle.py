"""Brute-force protection for sign-in: failures are counted per account and per
address; past a few they slow every further attempt, past the limit they refuse
it for a while.

The account key is the email as typed (hashed), whether or not an account has it,
so the answers never tell which emails exist.  Counts live in Redis when
REDIS_URL is set (shared by every replica), else in this process; while Redis is
unreachable they are counted in this process, so sign-in keeps working and stays
throttled.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from redis.asyncio import Redis

from backend.redis_client import REDIS_ERRORS, RedisOutage

# Seconds that only go forward (time.monotonic by default): the in-process counts' windows are
# measured on it, so a test can pass a fake one and step past a lockout instead of sleeping through it.
Clock = Callable[[], float]

SLOW_AFTER = 3  # failures before attempts start to be slowed
MAX_DELAY_S = 2.0


@dataclass(frozen=True, slots=True)
class Lockout(Exception):
    retry_after_s: float

    @property
    def message(self) -> str:
        minutes = max(1, math.ceil(self.retry_after_s / 60))
        unit = "minute" if minutes == 1 else "minutes"
        return f"Too many failed sign-ins. Try again in {minutes} {unit}."


class _Counter(Protocol):
    async def get(self, key: str) -> tuple[int, float]: ...
    async def incr(self, key: str, window_s: float) -> None: ...
    async def clear(self, key: str) -> None: ...


class _MemoryCounter:
    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._counts: dict[str, tuple[int, float]] = {}  # key -> (failures, expires at)

    async def get(self, key: str) -> tuple[int, float]:
        count, expires = self._counts.get(key, (0, 0.0))
        left = expires - self._clock()
        if left <= 0:
            self._counts.pop(key, None)
            return 0, 0.0
        return count, left

    async def incr(self, key: str, window_s: float) -> None:
        count, _ = await self.get(key)
        # Each failure restarts the window: a steady trickle of guesses stays locked out.
        self._counts[key] = (count + 1, self._clock() + window_s)

    async def clear(self, key: str) -> None:
        self._counts.pop(key, None)


class _RedisCounter:
    def __init__(self, redis: Redis, prefix: str) -> None:
        self._redis = redis
        self._prefix = prefix + "signin:"

    async def get(self, key: str) -> tuple[int, float]:
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.get(self._prefix + key)
            pipe.pttl(self._prefix + key)
            raw, ttl_ms = await pipe.execute()
        if raw is None or ttl_ms is None or ttl_ms <= 0:
            return 0, 0.0
        return int(raw), ttl_ms / 1000

    async def incr(self, key: str, window_s: float) -> None:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.incr(self._prefix + key)
            pipe.pexpire(self._prefix + key, int(window_s * 1000))
            await pipe.execute()

    async def clear(self, key: str) -> None:
        await self._redis.delete(self._prefix + key)


class _FallbackCounter:
    """Redis, or this process's counts while Redis is unreachable."""

    def __init__(self, redis: _RedisCounter, clock: Clock) -> None:
        self._redis = redis
        self._memory = _MemoryCounter(clock)
        self._outage = RedisOutage("failed sign-ins are counted in this process meanwhile")

    async def get(self, key: str) -> tuple[int, float]:
        if not self._outage.down():
            try:
                counted = await self._redis.get(key)
            except REDIS_ERRORS as exc:
                self._outage.failed(exc)
            else:
                self._outage.recovered()
                mine = await self._memory.get(key)  # failures counted here during an outage still count
                return max(counted, mine)
        return await self._memory.get(key)

    async def incr(self, key: str, window_s: float) -> None:
        if not self._outage.down():
            try:
                await self._redis.incr(key, window_s)
                return
            except REDIS_ERRORS as exc:
                self._outage.failed(exc)
        await self._memory.incr(key, window_s)

    async def clear(self, key: str) -> None:
        await self._memory.clear(key)
        if not self._outage.down():
            try:
                await self._redis.clear(key)
            except REDIS_ERRORS as exc:
                self._outage.failed(exc)


class SignInThrottle:
    def __init__(
        self,
        max_failures: int,
        lockout_s: float,
        redis: Redis | None = None,
        prefix: str = "",
        sleep: bool = True,
        clock: Clock = time.monotonic,
    ) -> None:
        self._max = max_failures
        self._lockout_s = lockout_s
        # Redis keeps its own windows (PEXPIRE, on the server's clock); `clock` times the ones kept here.
        self._counter: _Counter = (
            _FallbackCounter(_RedisCounter(redis, prefix), clock)
            if redis is not None
            else _MemoryCounter(clock)
        )
        self._sleep = sleep

    @staticmethod
    def keys(email: str, address: str) -> tuple[str, str]:
        digest = hashlib.sha256(email.strip().lower().encode("utf-8", "surrogatepass")).hexdigest()[:32]
        return f"email:{digest}", f"addr:{address or 'unknown'}"

    async def before_attempt(self, email: str, address: str) -> None:
        """Raise Lockout if either key is locked; otherwise wait the slow-down, if any."""
        worst = 0
        for key in self.keys(email, address):
            count, left = await self._counter.get(key)
            if count >= self._max:
                raise Lockout(left)
            worst = max(worst, count)
        if self._sleep and worst >= SLOW_AFTER:
            await asyncio.sleep(min(MAX_DELAY_S, 0.25 * 2 ** (worst - SLOW_AFTER)))

    async def failed(self, email: str, address: str) -> None:
        for key in self.keys(email, address):
            await self._counter.incr(key, self._lockout_s)

    async def succeeded(self, email: str) -> None:
        await self._counter.clear(self.keys(email, "")[0])
