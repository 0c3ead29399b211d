"""Per-user rate limits: provider requests per minute and tokens per day.

Algorithm (both implementations): fixed windows.  A request counter per user
per clock minute (epoch seconds // 60) and a token counter per user per UTC
day (epoch seconds // 86400).  `reserve` checks both counters and, only if
both fit, adds to both in one atomic step, so a refused comparison consumes
nothing.  A refusal says which limit was hit and when its window ends
(`retry_after_s`).  A limit of 0 is off.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

from backend.i18n import Duration, Message

MINUTE_S = 60
DAY_S = 86_400


class RateLimitExceeded(Exception):
    """A user is over a limit; `message` is shown as is, `retry_after_s` is when to try again."""

    def __init__(self, message: str, retry_after_s: float, limit: str) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after_s = retry_after_s
        self.limit = limit  # "requests_per_minute" | "tokens_per_day"

    @property
    def retry_after_header(self) -> str:
        return str(max(1, math.ceil(self.retry_after_s)))


@dataclass(frozen=True, slots=True)
class Limits:
    requests_per_minute: int = 60
    tokens_per_day: int = 2_000_000


def window_remaining(now: float, window_s: int) -> float:
    """Seconds until the fixed window that contains `now` ends."""
    return (math.floor(now / window_s) + 1) * window_s - now


def requests_refused(limit: int, used: int, wanted: int, retry_after_s: float) -> RateLimitExceeded:
    if wanted > limit:
        message = Message(
            "Rate limit: at most {limit:,} model requests a minute, and this comparison needs "
            "{wanted:,} (one per pane). Remove some panes.",
            limit=limit,
            wanted=wanted,
        )
    else:
        message = Message(
            "Rate limit reached: at most {limit:,} model requests a minute (one per pane; "
            "{used:,} used). Try again in {wait}.",
            limit=limit,
            used=used,
            wait=Duration(retry_after_s),
        )
    return RateLimitExceeded(message, retry_after_s, "requests_per_minute")


def tokens_refused(limit: int, used: int, wanted: int, retry_after_s: float) -> RateLimitExceeded:
    message = Message(
        "Daily token budget reached: {used:,} of {limit:,} tokens used today and this comparison "
        "reserves {wanted:,} (prompt + max tokens per pane). Lower max tokens, or try again in "
        "{wait}.",
        used=used,
        limit=limit,
        wanted=wanted,
        wait=Duration(retry_after_s),
    )
    return RateLimitExceeded(message, retry_after_s, "tokens_per_day")


class RateLimiter(Protocol):
    async def reserve(self, user_id: str, requests: int, tokens: int) -> None:
        """Count `requests` and `tokens` against the user's limits, or raise RateLimitExceeded
        (and count nothing)."""
        ...

    async def close(self) -> None: ...
