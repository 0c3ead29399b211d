"""Redis rate limits, shared by every backend replica.

Fixed windows, as in `base`: the window index is part of each counter's key
(`<prefix>rl:<user>:rpm:<minute>`, `<prefix>rl:<user>:tpd:<day>`).  One Lua
script reads both counters, refuses if either would go over, and otherwise
INCRBYs both and sets their expiry: Redis runs a script atomically, so two
replicas can never both take the last slot.

While Redis is unreachable the limits are counted in this process instead (each
replica then allows the limit on its own): a Redis outage slows nothing down and
refuses no comparison that the limits would allow.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from redis.asyncio import Redis

from backend.limits.base import (
    DAY_S,
    MINUTE_S,
    Limits,
    requests_refused,
    tokens_refused,
    window_remaining,
)
from backend.limits.memory import InProcessRateLimiter
from backend.redis_client import REDIS_ERRORS, RedisOutage

# KEYS: requests counter, tokens counter.
# ARGV: requests wanted, requests limit, tokens wanted, tokens limit, requests ttl, tokens ttl.
# Returns {0, 0} when reserved, {1, used} when over the request limit, {2, used} for tokens.
_RESERVE = """
local used_req = tonumber(redis.call('GET', KEYS[1]) or '0')
local used_tok = tonumber(redis.call('GET', KEYS[2]) or '0')
local want_req, max_req = tonumber(ARGV[1]), tonumber(ARGV[2])
local want_tok, max_tok = tonumber(ARGV[3]), tonumber(ARGV[4])
if max_req > 0 and used_req + want_req > max_req then return {1, used_req} end
if max_tok > 0 and used_tok + want_tok > max_tok then return {2, used_tok} end
if max_req > 0 then
  redis.call('INCRBY', KEYS[1], want_req)
  redis.call('EXPIRE', KEYS[1], ARGV[5])
end
if max_tok > 0 then
  redis.call('INCRBY', KEYS[2], want_tok)
  redis.call('EXPIRE', KEYS[2], ARGV[6])
end
return {0, 0}
"""


class RedisRateLimiter:
    def __init__(
        self,
        client: Redis,
        limits: Limits,
        prefix: str = "llmdash:",
        *,
        clock: Callable[[], float] = time.time,
        owns_client: bool = True,
    ) -> None:
        self._client = client
        self._limits = limits
        self._prefix = f"{prefix}rl:"
        self._clock = clock
        self._owns_client = owns_client
        self._script = client.register_script(_RESERVE)
        self._fallback = InProcessRateLimiter(limits, clock=clock)
        self._outage = RedisOutage("rate limits are counted in this process meanwhile")

    async def reserve(self, user_id: str, requests: int, tokens: int) -> None:
        rpm, tpd = self._limits.requests_per_minute, self._limits.tokens_per_day
        if not rpm and not tpd:
            return
        now = self._clock()
        minute, day = math.floor(now / MINUTE_S), math.floor(now / DAY_S)
        keys = [f"{self._prefix}{user_id}:rpm:{minute}", f"{self._prefix}{user_id}:tpd:{day}"]
        # Keys outlive their window a little, so a slow clock on another replica still counts.
        args = [requests, rpm, tokens, tpd, MINUTE_S + 60, DAY_S + 3_600]
        if self._outage.down():
            return await self._fallback.reserve(user_id, requests, tokens)
        try:
            verdict, used = await self._script(keys=keys, args=args)
        except REDIS_ERRORS as exc:
            self._outage.failed(exc)
            return await self._fallback.reserve(user_id, requests, tokens)
        self._outage.recovered()
        if int(verdict) == 1:
            raise requests_refused(rpm, int(used), requests, window_remaining(now, MINUTE_S))
        if int(verdict) == 2:
            raise tokens_refused(tpd, int(used), tokens, window_remaining(now, DAY_S))

    async def close(self) -> None:
        if self._owns_client:
            await self._client.aclose()
