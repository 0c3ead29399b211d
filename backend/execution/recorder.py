"""One attempt's output and timings, and the events built from them.

Every event of an attempt is built here, so its chunk numbers (which consumers use
to drop duplicates), its time to first token and its final counts agree whichever
path produced them: the provider, a cache replay, or an error before either.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Literal

from backend.cache.base import CachedResponse
from backend.providers.base import Usage
from backend.queue.messages import ChunkEvent, FinalEvent, RunTask
from backend.run_errors import STOPPED

FinalStatus = Literal["done", "error", "cancelled"]


class RunRecorder:
    """Accumulates one attempt's output and timings and builds its events."""

    def __init__(self, task: RunTask, started: float) -> None:
        self._task = task
        self._started = started  # time.perf_counter() when the attempt began
        self._parts: list[str] = []
        self.chunks = 0
        self.ttft_ms: float | None = None

    def _elapsed_ms(self) -> float:
        return (time.perf_counter() - self._started) * 1000.0

    def chunk(self, text: str) -> ChunkEvent:
        elapsed = self._elapsed_ms()
        if self.ttft_ms is None:
            self.ttft_ms = elapsed
        self._parts.append(text)
        event = ChunkEvent(
            run_id=self._task.run_id,
            attempt=self._task.attempt,
            seq=self.chunks,
            text=text,
            elapsed_ms=elapsed,
            output_tokens=self.chunks + 1,
        )
        self.chunks += 1
        return event

    def cached_response(self, final: FinalEvent) -> CachedResponse:
        """What the response cache keeps of a finished call: its chunks as the provider cut them."""
        return CachedResponse(
            output_text=final.output_text,
            chunks=list(self._parts),
            input_tokens=final.input_tokens,
            output_tokens=final.output_tokens,
            finish_reason=final.finish_reason,
            ttft_ms=final.ttft_ms,
            total_ms=final.total_ms,
        )

    def final(
        self, status: FinalStatus, usage: Usage, finish_reason: str, *, error: str = "", error_kind: str = ""
    ) -> FinalEvent:
        return FinalEvent(
            run_id=self._task.run_id,
            attempt=self._task.attempt,
            status=status,
            output_text="".join(self._parts),
            chunks=self.chunks,
            error=error,
            error_kind=error_kind,
            finish_reason=finish_reason,
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens or self.chunks,
            ttft_ms=self.ttft_ms,
            total_ms=self._elapsed_ms(),
        )


def stopped_final(run_id: str, attempt: int) -> FinalEvent:
    """The final event of a run stopped before it called its provider."""
    return FinalEvent(
        run_id=run_id,
        attempt=attempt,
        status="cancelled",
        output_text="",
        chunks=0,
        error=STOPPED,
        finish_reason="cancelled",
    )


# One way of running an attempt: publishes its chunks (built by the recorder) and returns its
# final event.  The provider call is one; the response cache wraps it in another.
Execution = Callable[[RunTask, RunRecorder], Awaitable[FinalEvent]]
