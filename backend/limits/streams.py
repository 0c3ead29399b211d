"""Bounded work per account: live streams held open at once (issue 15).

One API token could open any number of SSE streams, each a follow loop re-reading the database
every few seconds. `take` refuses a stream past MAX_STREAMS_PER_USER with RateLimitExceeded, so
the API answers 429 with Retry-After before the stream starts. A slot is given back when its
stream ends, however it ends.

- Embedded (`StreamSlots`): counted in this process.
- With REDIS_URL (`RedisStreamSlots`): counted in Redis, so the bound holds across replicas. An
  account's slots are one sorted set (slot id -> when it expires, by Redis's clock); a script
  drops the expired ones, counts and adds in one atomic step. A held slot is renewed every
  `ttl/3` while its stream runs, and removed when it ends; a replica that dies without removing
  its slots stops renewing them, and they expire within `ttl`. While Redis is unreachable the
  streams are counted in the process meanwhile (as the rate limits are).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
import weakref
from collections import Counter
from typing import Protocol

from redis.asyncio import Redis

from backend.cancellation import raise_if_cancelled
from backend.i18n import N_, Message
from backend.limits.base import RateLimitExceeded
from backend.redis_client import REDIS_ERRORS, RedisOutage, redis_client
from backend.settings import Settings

log = logging.getLogger(__name__)

RETRY_AFTER_S = 5.0
STREAMS = N_("Too many live streams open at once ({limit}). Close one, or try again shortly.")
SLOT_TTL_S = 30.0  # a slot no one renews (its replica died) is free after this


class Slot(Protocol):
    def release(self) -> None:
        """Give the slot back (at once in this process; in Redis by a task of its own, so a
        cancelled stream's clean-up cannot be cancelled half-way). Idempotent."""
        ...


class _LocalSlot:
    def __init__(self, owner: StreamSlots, user_id: str) -> None:
        self._owner = owner
        self._user_id = user_id
        self._held = True

    def release(self) -> None:
        if self._held:
            self._held = False
            self._owner._release(self._user_id)


class StreamSlots:
    """The streams each account holds open in this process."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._open: Counter[str] = Counter()

    async def take(self, user_id: str) -> Slot:
        return self.take_now(user_id)

    def take_now(self, user_id: str) -> _LocalSlot:
        if self._open[user_id] >= self._limit:
            raise RateLimitExceeded(Message(STREAMS, limit=self._limit), RETRY_AFTER_S, "concurrent_streams")
        self._open[user_id] += 1
        return _LocalSlot(self, user_id)

    def open_for(self, user_id: str) -> int:
        """Streams the account holds open through this process."""
        return self._open[user_id]

    async def close(self) -> None:
        return None

    def _release(self, user_id: str) -> None:
        self._open[user_id] -= 1
        if self._open[user_id] <= 0:
            del self._open[user_id]


# KEYS[1]: the account's slots. ARGV: limit, slot id, ttl (ms). 1 when taken, 0 when full.
_TAKE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
"""
# KEYS[1]: the account's slots. ARGV: slot id, ttl (ms). Renews a slot still there (XX: a slot
# given back is not brought back by a renewal that crossed its removal).
_RENEW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if redis.call('ZADD', KEYS[1], 'XX', 'CH', now + tonumber(ARGV[2]), ARGV[1]) == 1 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 1
"""


class _SharedSlot:
    def __init__(self, owner: RedisStreamSlots, user_id: str, slot_id: str) -> None:
        self._owner = owner
        self._user_id = user_id
        self._slot_id = slot_id
        self._held = True
        owner._held[user_id] += 1
        # The renewal holds the slot weakly: a slot dropped without release (a response whose
        # stream never started) stops being renewed and expires.
        self._renewal = asyncio.get_running_loop().create_task(owner._renew(weakref.ref(self)))

    def release(self) -> None:
        if self._held:
            self._held = False
            self._renewal.cancel()
            self._owner._give_back(self._user_id, self._slot_id)


class RedisStreamSlots:
    """The streams each account holds open on every replica sharing this Redis."""

    def __init__(
        self,
        client: Redis,
        limit: int,
        prefix: str = "llmdash:",
        *,
        ttl_s: float = SLOT_TTL_S,
        owns_client: bool = True,
    ) -> None:
        self._client = client
        self._limit = limit
        self._prefix = f"{prefix}streams:"
        self._ttl_ms = max(1, round(ttl_s * 1000))
        self._owns_client = owns_client
        self._take = client.register_script(_TAKE)
        self._renew_script = client.register_script(_RENEW)
        self._held: Counter[str] = Counter()  # slots in Redis that this process holds
        self._here = StreamSlots(limit)  # the count while Redis is down
        self._outage = RedisOutage("live streams are counted in this process meanwhile")
        self._removals: set[asyncio.Task[None]] = set()

    def _key(self, user_id: str) -> str:
        return f"{self._prefix}{user_id}"

    async def take(self, user_id: str) -> Slot:
        if self._outage.down():
            return self._here.take_now(user_id)
        slot_id = uuid.uuid4().hex
        try:
            taken = await self._take(keys=[self._key(user_id)], args=[self._limit, slot_id, self._ttl_ms])
        except REDIS_ERRORS as exc:
            self._outage.failed(exc)
            return self._here.take_now(user_id)
        self._outage.recovered()
        if not taken:
            raise RateLimitExceeded(Message(STREAMS, limit=self._limit), RETRY_AFTER_S, "concurrent_streams")
        return _SharedSlot(self, user_id, slot_id)

    def open_for(self, user_id: str) -> int:
        """Streams the account holds open through this process."""
        return self._held[user_id] + self._here.open_for(user_id)

    async def open_everywhere(self, user_id: str) -> int:
        """Streams the account holds open on every replica (slots not yet expired)."""
        seconds, micros = await self._client.time()
        now_ms = seconds * 1000 + micros // 1000
        return int(await self._client.zcount(self._key(user_id), f"({now_ms}", "+inf"))

    async def _renew(self, slot_ref: weakref.ref[_SharedSlot]) -> None:
        while True:
            await asyncio.sleep(self._ttl_ms / 3000)
            slot = slot_ref()
            if slot is None or not slot._held:
                return
            key, slot_id = self._key(slot._user_id), slot._slot_id
            del slot  # no strong reference across the await
            try:
                await self._renew_script(keys=[key], args=[slot_id, self._ttl_ms])
            except REDIS_ERRORS as exc:  # the next renewal tries again; past ttl the slot is free
                log.warning("could not renew a stream's slot (%s)", type(exc).__name__)
            raise_if_cancelled()  # released during the call (backend/cancellation.py)

    def _give_back(self, user_id: str, slot_id: str) -> None:
        self._held[user_id] -= 1
        if self._held[user_id] <= 0:
            del self._held[user_id]
        task = asyncio.get_running_loop().create_task(self._remove(user_id, slot_id))
        self._removals.add(task)
        task.add_done_callback(self._removals.discard)

    async def _remove(self, user_id: str, slot_id: str) -> None:
        try:
            await self._client.zrem(self._key(user_id), slot_id)
        except REDIS_ERRORS as exc:  # it expires within ttl
            log.warning("could not give a stream's slot back (%s); it expires", type(exc).__name__)

    async def close(self) -> None:
        for task in list(self._removals):  # slots given back reach Redis before the client closes
            with contextlib.suppress(Exception):
                await task
        if self._owns_client:
            await self._client.aclose()


def make_stream_slots(settings: Settings, shared: Redis | None = None) -> StreamSlots | RedisStreamSlots:
    """`shared`: the process's Redis client (the runtime's), which the slots then do not close."""
    if shared is not None:
        return RedisStreamSlots(
            shared, settings.max_streams_per_user, settings.redis_key_prefix, owns_client=False
        )
    if settings.redis_url:
        return RedisStreamSlots(
            redis_client(settings.redis_url), settings.max_streams_per_user, settings.redis_key_prefix
        )
    return StreamSlots(settings.max_streams_per_user)
