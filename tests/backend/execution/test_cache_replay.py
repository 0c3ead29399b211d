"""The worker with a response cache: hits replay without calling the provider, on both caches."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from backend.cache import CachedResponse, InProcessResponseCache, RedisResponseCache, ResponseCache
from backend.providers.base import ChatProvider, ChatRequest, ProviderError, StreamItem
from backend.queue.embedded import EmbeddedBroker
from backend.queue.messages import RunTask
from tests.backend.execution.test_worker import (
    events_until_final,
    make_task,
    simulated,
    split,
    worker_running,
)
from tests.redis_support import BACKENDS, redis_prefix

PROMPT = "[[simulate:tokens=9]] Why is the sky blue?"


class CountingProvider:
    """A ChatProvider test double: the simulated model, counting how often it is called."""

    def __init__(self, fail: bool = False) -> None:
        self.calls: list[ChatRequest] = []
        self.fail = fail

    def resolve(self, model_id: str) -> ChatProvider:
        self._inner = simulated(model_id)
        return self

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamItem]:
        self.calls.append(request)
        if self.fail:
            raise ProviderError("boom")
        async for item in self._inner.stream(request):
            yield item


class BrokenCache:
    async def get(self, key: str) -> CachedResponse | None:
        raise ConnectionError("cache down")

    async def put(self, key: str, value: CachedResponse, ttl: float) -> None:
        raise ConnectionError("cache down")

    async def claim(self, key: str, ttl: float) -> bool:
        raise ConnectionError("cache down")

    async def close(self) -> None:
        pass


@pytest.fixture(params=BACKENDS)
async def cache(request: pytest.FixtureRequest) -> AsyncIterator[ResponseCache]:
    if request.param == "memory":
        yield InProcessResponseCache()
        return
    async with redis_prefix() as (client, prefix):
        yield RedisResponseCache(client, prefix, owns_client=False)


async def run_once(broker: EmbeddedBroker, task: RunTask) -> list[Any]:
    await broker.submit(task)
    return await events_until_final(broker, task.run_id)


async def test_second_identical_run_at_temperature_zero_replays_from_the_cache(
    cache: ResponseCache,
) -> None:
    broker = EmbeddedBroker()
    provider = CountingProvider()
    async with worker_running(broker, provider.resolve, cache=cache, cache_ttl_s=60):
        first_events = await run_once(broker, make_task(PROMPT, "simulated:swift", "r1", temperature=0.0))
        second_events = await run_once(broker, make_task(PROMPT, "simulated:swift", "r2", temperature=0.0))
    assert len(provider.calls) == 1
    _, first_chunks, first = split(first_events)
    started, chunks, second = split(second_events)
    assert first.status == second.status == "done"
    assert first.cache_hit is False and first.original_ttft_ms is None
    assert second.cache_hit is True
    assert len(started) == 1 and second_events[0] is started[0]
    # the same answer, in the same chunks, with the same usage and finish reason
    assert second.output_text == first.output_text and len(first.output_text) > 0
    assert [c.text for c in chunks] == [c.text for c in first_chunks]
    assert [c.seq for c in chunks] == list(range(len(first_chunks)))
    assert (
        (second.input_tokens, second.output_tokens)
        == (first.input_tokens, first.output_tokens)
        == (
            first.input_tokens,
            9,
        )
    )
    assert second.finish_reason == first.finish_reason
    # the original call's figures travel apart from the replay's own (near zero) ones
    assert second.original_ttft_ms == first.ttft_ms
    assert second.original_total_ms == first.total_ms
    assert first.ttft_ms is not None and first.ttft_ms >= 20  # swift waits for its first token
    assert second.ttft_ms is not None and second.ttft_ms < first.ttft_ms
    assert second.total_ms < first.total_ms


async def test_temperature_above_zero_skips_the_cache_unless_asked(cache: ResponseCache) -> None:
    broker = EmbeddedBroker()
    provider = CountingProvider()
    async with worker_running(broker, provider.resolve, cache=cache):
        finals = []
        for run_id in ("a", "b"):
            _, _, final = split(await run_once(broker, make_task(PROMPT, run_id=run_id, temperature=0.7)))
            finals.append(final)
        assert len(provider.calls) == 2
        assert [f.cache_hit for f in finals] == [False, False]

        for run_id in ("c", "d"):
            task = make_task(PROMPT, run_id=run_id, temperature=0.7, use_cache=True)
            _, _, final = split(await run_once(broker, task))
            finals.append(final)
    assert len(provider.calls) == 3  # "c" was a miss and stored it, "d" replayed it
    assert [f.cache_hit for f in finals] == [False, False, False, True]
    assert finals[3].output_text == finals[2].output_text


async def test_other_parameters_are_other_entries(cache: ResponseCache) -> None:
    broker = EmbeddedBroker()
    provider = CountingProvider()
    async with worker_running(broker, provider.resolve, cache=cache):
        cases: list[tuple[str, dict[str, Any]]] = [
            ("a", {}),
            ("b", {"max_tokens": 100}),
            ("c", {"system_prompt": "Be terse."}),
        ]
        for run_id, kw in cases:
            _, _, final = split(await run_once(broker, make_task(PROMPT, run_id=run_id, temperature=0, **kw)))
            assert final.cache_hit is False
    assert len(provider.calls) == 3


async def test_failures_are_not_cached(cache: ResponseCache) -> None:
    broker = EmbeddedBroker()
    provider = CountingProvider(fail=True)
    async with worker_running(broker, provider.resolve, cache=cache):
        for run_id in ("a", "b"):
            _, _, final = split(await run_once(broker, make_task(PROMPT, run_id=run_id, temperature=0)))
            assert final.status == "error" and final.cache_hit is False
    assert len(provider.calls) == 2


async def test_expired_entries_call_the_provider_again(cache: ResponseCache) -> None:
    broker = EmbeddedBroker()
    provider = CountingProvider()
    async with worker_running(broker, provider.resolve, cache=cache, cache_ttl_s=0.3):
        _, _, first = split(await run_once(broker, make_task(PROMPT, run_id="a", temperature=0)))
        _, _, second = split(await run_once(broker, make_task(PROMPT, run_id="b", temperature=0)))
        await asyncio.sleep(0.5)
        _, _, third = split(await run_once(broker, make_task(PROMPT, run_id="c", temperature=0)))
    assert [first.cache_hit, second.cache_hit, third.cache_hit] == [False, True, False]
    assert len(provider.calls) == 2


async def test_a_failing_cache_never_fails_the_run() -> None:
    broker = EmbeddedBroker()
    provider = CountingProvider()
    async with worker_running(broker, provider.resolve, cache=BrokenCache()):
        _, _, final = split(await run_once(broker, make_task(PROMPT, temperature=0)))
    assert final.status == "done" and final.cache_hit is False
    assert len(provider.calls) == 1


async def test_without_a_cache_every_run_calls_the_provider() -> None:
    broker = EmbeddedBroker()
    provider = CountingProvider()
    async with worker_running(broker, provider.resolve):
        for run_id in ("a", "b"):
            _, _, final = split(await run_once(broker, make_task(PROMPT, run_id=run_id, temperature=0)))
            assert final.cache_hit is False
    assert len(provider.calls) == 2
