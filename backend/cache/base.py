"""The response cache: an exact-match cache of whole provider answers.

A key is the sha256 of a canonical JSON of everything that shapes an answer
(model id, system prompt, prompt, temperature, max tokens, seed), so two panes
asking the same model the same thing with the same parameters share an entry.
Values keep the original chunking, usage, finish reason and the ORIGINAL
timings, so a replay can show them apart from its own (near-zero) figures.
"""

from __future__ import annotations

import hashlib
import json
from typing import Protocol

from pydantic import BaseModel, ConfigDict

KEY_VERSION = 2  # bump when the key's inputs change, so old entries are never matched


class CachedResponse(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    output_text: str
    chunks: list[str]
    input_tokens: int = 0
    output_tokens: int = 0
    finish_reason: str = "stop"
    ttft_ms: float | None = None  # of the provider call that produced the answer
    total_ms: float = 0.0

    def to_json(self) -> str:
        return self.model_dump_json()

    @classmethod
    def from_json(cls, data: str | bytes) -> CachedResponse:
        return cls.model_validate_json(data)


def cache_key(
    model: str,
    system_prompt: str,
    prompt: str,
    temperature: float,
    max_tokens: int,
    seed: int | None,
    owner: str = "",
    extra: str = "",
) -> str:
    """sha256 (hex) of a canonical JSON of the request; the provider is the model id's family.

    ``owner`` (the requesting user) scopes entries per user: a hit across users would tell one
    user, through the "cached" badge, what another asked, and replay an answer paid with
    someone else's key.
    """
    provider = model.split(":", 1)[0]
    # `extra`: the run's other options and its images' keys; keys without any stay as they were.
    parts = {"extra": extra} if extra else {}
    canonical = json.dumps(
        parts
        | {
            "v": KEY_VERSION,
            "owner": owner,
            "provider": provider,
            "model": model,
            "system_prompt": system_prompt,
            "prompt": prompt,
            "temperature": float(temperature),
            "max_tokens": int(max_tokens),
            "seed": seed,
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def cache_allowed(temperature: float, use_cache: bool) -> bool:
    """Only deterministic requests are cached, unless the user asked for the cache anyway."""
    return use_cache or temperature == 0


class ResponseCache(Protocol):
    async def get(self, key: str) -> CachedResponse | None: ...

    async def put(self, key: str, value: CachedResponse, ttl: float) -> None:
        """Store `value` for `ttl` seconds (replacing any entry under `key`)."""
        ...

    async def claim(self, key: str, ttl: float) -> bool:
        """Record `key` for `ttl` seconds unless it is recorded already, in one atomic step: True
        for the one caller (of every process sharing the cache) that recorded it. What must
        happen once across replicas (a one-time grant's use) claims its key here."""
        ...

    async def close(self) -> None: ...
