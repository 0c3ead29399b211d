"""The response cache: key, policy, and the same behaviour in-process and on Redis."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from backend.cache import (
    CachedResponse,
    InProcessResponseCache,
    RedisResponseCache,
    ResponseCache,
    cache_allowed,
    cache_key,
    make_response_cache,
)
from tests.backend.runtime_support import make_settings
from tests.redis_support import BACKENDS, TEST_REDIS_URL, redis_prefix

ANSWER = CachedResponse(
    output_text="Hello, wörld 🌍!",
    chunks=["Hello", ", wörld", " 🌍", "!"],
    input_tokens=12,
    output_tokens=4,
    finish_reason="stop",
    ttft_ms=412.5,
    total_ms=1830.25,
)
BASE = {
    "model": "openai:gpt-4o-mini",
    "system_prompt": "Be brief.",
    "prompt": "What is a B-tree?",
    "temperature": 0.0,
    "max_tokens": 256,
    "seed": None,
}


@pytest.fixture(params=BACKENDS)
async def cache(request: pytest.FixtureRequest) -> AsyncIterator[ResponseCache]:
    if request.param == "memory":
        memory = InProcessResponseCache()
        yield memory
        await memory.close()
        return
    async with redis_prefix() as (client, prefix):
        yield RedisResponseCache(client, prefix, owns_client=False)


# --- key and policy -------------------------------------------------------------


def test_key_is_a_sha256_of_the_canonical_request() -> None:
    key = cache_key(**BASE)  # type: ignore[arg-type]
    assert len(key) == 64 and int(key, 16) >= 0
    assert cache_key(**BASE) == key  # type: ignore[arg-type]
    # ints and floats of the same temperature are the same request
    assert cache_key(**{**BASE, "temperature": 0}) == key  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("model", "openai:gpt-4o"),
        ("model", "openai-compatible:gpt-4o-mini"),  # same name, other provider
        ("system_prompt", ""),
        ("prompt", "What is a B+tree?"),
        ("temperature", 0.1),
        ("max_tokens", 257),
        ("seed", 7),
        ("owner", "another-user-id"),
    ],
)
def test_every_input_changes_the_key(field: str, value: object) -> None:
    assert cache_key(**{**BASE, field: value}) != cache_key(**BASE)  # type: ignore[arg-type]


def test_prompt_and_system_prompt_are_not_confused() -> None:
    one = cache_key(**{**BASE, "system_prompt": "ab", "prompt": "c"})  # type: ignore[arg-type]
    two = cache_key(**{**BASE, "system_prompt": "a", "prompt": "bc"})  # type: ignore[arg-type]
    assert one != two


@pytest.mark.parametrize(
    ("temperature", "use_cache", "allowed"),
    [(0.0, False, True), (0.0, True, True), (0.7, False, False), (0.7, True, True), (2.0, True, True)],
)
def test_cache_is_skipped_above_temperature_zero_unless_asked(
    temperature: float, use_cache: bool, allowed: bool
) -> None:
    assert cache_allowed(temperature, use_cache) is allowed


# --- both implementations -------------------------------------------------------


async def test_miss_then_hit_round_trips_exactly(cache: ResponseCache) -> None:
    key = cache_key(**BASE)  # type: ignore[arg-type]
    assert await cache.get(key) is None
    await cache.put(key, ANSWER, ttl=60)
    got = await cache.get(key)
    assert got == ANSWER
    assert got is not None and got.chunks == ["Hello", ", wörld", " 🌍", "!"]
    assert (got.ttft_ms, got.total_ms) == (412.5, 1830.25)
    assert await cache.get(cache_key(**{**BASE, "seed": 1})) is None  # type: ignore[arg-type]


async def test_put_replaces_an_entry(cache: ResponseCache) -> None:
    newer = ANSWER.model_copy(update={"output_text": "Bye", "chunks": ["Bye"], "output_tokens": 1})
    await cache.put("k", ANSWER, ttl=60)
    await cache.put("k", newer, ttl=60)
    assert await cache.get("k") == newer


async def test_entries_expire_after_their_ttl(cache: ResponseCache) -> None:
    await cache.put("short", ANSWER, ttl=0.3)
    await cache.put("long", ANSWER, ttl=60)
    assert await cache.get("short") == ANSWER
    await asyncio.sleep(0.5)
    assert await cache.get("short") is None
    assert await cache.get("long") == ANSWER


async def test_zero_ttl_stores_nothing(cache: ResponseCache) -> None:
    await cache.put("k", ANSWER, ttl=0)
    assert await cache.get("k") is None


async def test_a_key_is_claimed_once_until_its_ttl_ends(cache: ResponseCache) -> None:
    claims = await asyncio.gather(*(cache.claim("grant", ttl=0.4) for _ in range(20)))
    assert sorted(claims) == [False] * 19 + [True]  # of twenty at once, one
    assert await cache.claim("another", ttl=60) is True
    assert await cache.get("grant") is None  # claims are no cached answers
    await asyncio.sleep(0.6)
    assert await cache.claim("grant", ttl=60) is True  # expired: claimable again
    assert await cache.claim("another", ttl=60) is False


# --- Redis specifics --------------------------------------------------------------


async def test_redis_claims_hold_across_clients() -> None:
    """Two replicas: each its own client of the one Redis; a key one claimed the other cannot."""
    async with redis_prefix() as (client, prefix):
        other_client = Redis.from_url(TEST_REDIS_URL)
        try:
            one = RedisResponseCache(client, prefix, owns_client=False)
            other = RedisResponseCache(other_client, prefix, owns_client=False)
            assert await one.claim("g", ttl=30) is True
            assert await other.claim("g", ttl=30) is False
            assert 29_000 < await client.pttl(f"{prefix}once:g") <= 30_000
        finally:
            await other_client.aclose()


async def test_redis_stores_json_under_the_prefix_with_an_expiry() -> None:
    async with redis_prefix() as (client, prefix):
        cache = RedisResponseCache(client, prefix, owns_client=False)
        await cache.put("abc", ANSWER, ttl=30)
        raw = await client.get(f"{prefix}cache:abc")
        assert json.loads(raw) == ANSWER.model_dump()
        ttl_ms = await client.pttl(f"{prefix}cache:abc")
        assert 29_000 < ttl_ms <= 30_000


async def test_redis_unreadable_entry_is_a_miss() -> None:
    async with redis_prefix() as (client, prefix):
        cache = RedisResponseCache(client, prefix, owns_client=False)
        await client.set(f"{prefix}cache:bad", b'{"not": "a response"}', ex=30)
        assert await cache.get("bad") is None


async def test_factory_follows_redis_url(tmp_path: Path) -> None:
    embedded = make_response_cache(make_settings("sqlite://", tmp_path))
    assert isinstance(embedded, InProcessResponseCache)
    shared = make_response_cache(make_settings("sqlite://", tmp_path, redis_url=TEST_REDIS_URL))
    assert isinstance(shared, RedisResponseCache)
    await shared.close()
