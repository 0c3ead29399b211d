"""Brute-force protection for sign-in that a stranger cannot turn against the owner.

Failures are counted under three keys, each in a fixed window that starts at its first failure
(a steady trickle of guesses does not keep a window open for ever):

- account + address: past the limit that address may not try that account until the window
  ends (the guesser is stopped; the owner at home is not);
- address: past five times the limit the address may not sign in at all (one address
  spraying many accounts);
- account (any address): never a lock, a delay that grows with the failures (up to
  MAX_DELAY_S a try), so guesses spread over many addresses stay slow while the right password
  from the owner's own address still gets in.

The account key is the email in its canonical form (hashed), whether or not an account has it,
so the answers never tell which emails exist.  The address is the client's own, from the
configured trusted proxy hops (TRUSTED_PROXY_HOPS), never from a header a client could write.
Counts live in Redis when REDIS_URL is set (shared by every replica), else in this process;
while Redis is unreachable they are counted in this process, so sign-in keeps working and stays
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

from backend.email_address import canonical_email
from backend.i18n import N_, Message
from backend.redis_client import REDIS_ERRORS, RedisOutage

# Seconds that only go forward (time.monotonic by default): the in-process counts' windows are
# measured on it, so a test can pass a fake one and step past a lockout instead of sleeping through it.
Clock = Callable[[], float]

SLOW_AFTER = 3  # failures before attempts start to be slowed
MAX_DELAY_S = 4.0
ADDRESS_FACTOR = 5  # an address may fail this many times the per-account limit, over all accounts


@dataclass(frozen=True, slots=True)
class Lockout(Exception):
    retry_after_s: float

    @property
    def message(self) -> str:
        minutes = max(1, math.ceil(self.retry_after_s / 60))
        if minutes == 1:
            return N_("Too many failed sign-ins. Try again in 1 minute.")
        return Message(N_("Too many failed sign-ins. Try again in {n} minutes."), n=minutes)


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
        count, left = await self.get(key)
        # A fixed window from the first failure: later failures do not push its end away.
        expires = self._clock() + (left if count else window_s)
        self._counts[key] = (count + 1, expires)

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
            # The window starts with the first failure (SET NX PX) and is never extended.
            pipe.set(self._prefix + key, 0, nx=True, px=int(window_s * 1000))
            pipe.incr(self._prefix + key)
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
    def keys(email: str, address: str) -> tuple[str, str, str]:
        """(account + address, address, account) keys."""
        digest = hashlib.sha256(canonical_email(email).encode("utf-8", "surrogatepass")).hexdigest()[:32]
        addr = address or "unknown"
        return f"email-addr:{digest}:{addr}", f"addr:{addr}", f"email:{digest}"

    async def before_attempt(self, email: str, address: str) -> None:
        """Raise Lockout if this address may not try (this account, or at all); otherwise wait
        the slow-down the account's failures from every address earned, if any."""
        pair, addr, account = self.keys(email, address)
        count, left = await self._counter.get(pair)
        if count >= self._max:
            raise Lockout(left)
        count_addr, left_addr = await self._counter.get(addr)
        if count_addr >= self._max * ADDRESS_FACTOR:
            raise Lockout(left_addr)
        worst = max(count, (await self._counter.get(account))[0])
        if self._sleep and worst >= SLOW_AFTER:
            await asyncio.sleep(self.delay_for(worst))

    @staticmethod
    def delay_for(failures: int) -> float:
        return 0.0 if failures < SLOW_AFTER else min(MAX_DELAY_S, 0.25 * 2 ** min(failures - SLOW_AFTER, 16))

    async def failed(self, email: str, address: str) -> None:
        for key in self.keys(email, address):
            await self._counter.incr(key, self._lockout_s)

    async def succeeded(self, email: str, address: str = "") -> None:
        """The right password: this address's count for the account starts again. The account's
        count over all addresses is left to its window (a guesser elsewhere stays slowed)."""
        await self._counter.clear(self.keys(email, address)[0])
