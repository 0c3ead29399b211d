"""The response cache around an execution: a hit is replayed, a miss runs and is stored.

A task that allows caching (temperature 0, or `use_cache` set by the user) is first
looked up: a hit publishes the stored chunks at once, as the original call cut them,
and its final event is marked `cache_hit` with the original call's timings; the
wrapped execution (the provider call) does not run.  A miss that ends "done" is
stored.  A failing cache never fails a run: it counts as a miss.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable

from backend.cache.base import CachedResponse, ResponseCache, cache_allowed, cache_key
from backend.execution.recorder import Execution, RunRecorder
from backend.observability import CACHE_LOOKUPS
from backend.providers.base import Usage
from backend.queue.messages import ChunkEvent, FinalEvent, RunTask
from backend.time_slice import TimeSlice

log = logging.getLogger(__name__)


class CachedExecution:
    """An `Execution` that answers from `cache` when it can, else runs `inner`."""

    def __init__(
        self,
        inner: Execution,
        cache: ResponseCache,
        ttl_s: float,
        publish: Callable[[ChunkEvent], Awaitable[None]],
    ) -> None:
        self._inner = inner
        self._cache = cache
        self._ttl_s = ttl_s
        self._publish = publish

    async def __call__(self, task: RunTask, recorder: RunRecorder) -> FinalEvent:
        if not cache_allowed(task.temperature, task.use_cache):
            return await self._inner(task, recorder)
        key = cache_key(
            task.model,
            task.system_prompt,
            _conversation(task),
            task.temperature,
            task.max_tokens,
            task.seed,
            owner=task.user_id,
            extra=task.options.cache_part() + "".join(f"\x00{image.key}" for image in task.images),
        )
        cached = await self._get(key)
        if cached is not None:
            return await self._replay(cached, recorder)
        final = await self._inner(task, recorder)
        if final.status == "done":  # errors are not answers: the next call tries the provider again
            await self._put(key, recorder.cached_response(final))
        return final

    async def _get(self, key: str) -> CachedResponse | None:
        try:
            found = await self._cache.get(key)
        except Exception:
            log.warning("response cache lookup failed; calling the provider", exc_info=True)
            CACHE_LOOKUPS.labels("error").inc()
            return None
        CACHE_LOOKUPS.labels("miss" if found is None else "hit").inc()
        return found

    async def _put(self, key: str, value: CachedResponse) -> None:
        try:
            await self._cache.put(key, value, self._ttl_s)
        except Exception:
            log.warning("could not store a response in the cache", exc_info=True)

    async def _replay(self, cached: CachedResponse, recorder: RunRecorder) -> FinalEvent:
        """Publish a cached answer's chunks at once, as the original call chunked it (handing the
        event loop over between slices: a long answer is tens of thousands of chunks)."""
        budget = TimeSlice()
        for text in cached.chunks:
            if text:
                await self._publish(recorder.chunk(text))
                await budget.pause()
        final = recorder.final(
            "done",
            Usage(input_tokens=cached.input_tokens, output_tokens=cached.output_tokens),
            cached.finish_reason,
        )
        return final.model_copy(
            update={
                "output_text": cached.output_text,
                "cache_hit": True,
                "original_ttft_ms": cached.ttft_ms,
                "original_total_ms": cached.total_ms,
            }
        )


def _conversation(task: RunTask) -> str:
    """The prompt as the cache keys it: a follow-up's answer depends on the whole conversation."""
    if not task.history:
        return task.prompt
    return json.dumps([*task.history, task.prompt])
