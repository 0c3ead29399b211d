"""Redis for tests: the local server, a dedicated database number, one key prefix per test.

``LLMDASH_TEST_REDIS_URL`` (default ``redis://127.0.0.1:6379/9``) names it.
Every test gets its own prefix and its keys are deleted afterwards, so tests
never see each other's entries (or a developer's, who would use database 0).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from redis.asyncio import Redis

TEST_REDIS_URL = os.environ.get("LLMDASH_TEST_REDIS_URL", "redis://127.0.0.1:6379/9")

BACKENDS = ("memory", pytest.param("redis", marks=pytest.mark.redis))
"""Fixture params for tests that must pass on the in-process and the Redis implementation."""


def new_prefix() -> str:
    return f"llmdash-test:{uuid.uuid4().hex}:"


async def delete_prefix(client: Redis, prefix: str) -> int:
    deleted = 0
    async for key in client.scan_iter(match=f"{prefix}*", count=500):
        deleted += await client.delete(key)
    return deleted


@asynccontextmanager
async def redis_prefix() -> AsyncIterator[tuple[Redis, str]]:
    """A client on the test database and a fresh key prefix, cleaned up on exit."""
    client = Redis.from_url(TEST_REDIS_URL)
    prefix = new_prefix()
    try:
        yield client, prefix
    finally:
        await delete_prefix(client, prefix)
        await client.aclose()
