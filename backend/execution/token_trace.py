"""Watching a worker's tokens as they leave the provider, without the worker knowing who watches.

The worker calls a `TokenObserver` (if it was given one) for each chunk, just before
the chunk is published, and once when a run ends, before its final event goes out.
The one implementation today is the benchmark's file trace, switched on by
LLMDASH_TRACE_TOKENS=path and wired where worker processes are started (python -m
workers, and the runtime's embedded worker): the worker itself reads no environment.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from typing import Protocol

from backend.queue.messages import ChunkEvent

TRACE_ENV = "LLMDASH_TRACE_TOKENS"


class TokenObserver(Protocol):
    """Told of every chunk a worker publishes and of every run it finishes.  Called on the
    worker's event loop, in its hot path: it must not block (buffer, and write later)."""

    def chunk_sent(self, event: ChunkEvent, t_wall: float) -> None:
        """`event` left the provider at `t_wall` (time.time()) and is about to be published."""

    def run_ended(self, run_id: str, attempt: int) -> None:
        """The run's attempt ended here; its final event (if any) is published right after."""


class FileTokenTrace:
    """Benchmark aid (LLMDASH_TRACE_TOKENS=path): when each chunk left the provider.

    One JSON line per chunk with the wall-clock time and the run's text length
    after it, so bench/ can measure token-to-DOM latency against the browser's
    clock on the same machine.

    Lines are kept in memory and written at most every FLUSH_S, and when a run ends:
    a write per chunk cost a third of the event loop at 16,000 chunks/s and slowed
    the very streams the benchmark measures.
    """

    FLUSH_S = 0.2

    def __init__(self, path: str) -> None:
        self._file = open(path, "a")  # noqa: SIM115 - lives as long as the worker
        self._lines: list[str] = []
        self._lengths: dict[tuple[str, int], int] = {}
        self._flushed_at = time.monotonic()

    def chunk_sent(self, event: ChunkEvent, t_wall: float) -> None:
        key = (event.run_id, event.attempt)
        # Lengths in UTF-16 code units: what the browser's string lengths count.
        text = event.text
        units = len(text) if text.isascii() else len(text.encode("utf-16-le")) // 2
        length = self._lengths.get(key, 0) + units
        self._lengths[key] = length
        # The layout json.dumps gives; run ids are hex, the rest numbers: nothing to escape.
        self._lines.append(
            f'{{"run_id": "{event.run_id}", "attempt": {event.attempt}, "seq": {event.seq}, '
            f'"t_wall": {t_wall!r}, "text_len": {length}}}\n'
        )
        if time.monotonic() - self._flushed_at >= self.FLUSH_S:
            self.flush()

    def run_ended(self, run_id: str, attempt: int) -> None:
        """Written out before the run's final event goes: readers wait for that event."""
        self._lengths.pop((run_id, attempt), None)
        self.flush()

    def flush(self) -> None:
        self._flushed_at = time.monotonic()
        if self._lines:
            self._file.write("".join(self._lines))
            self._file.flush()
            self._lines.clear()


def token_trace_from_env(environ: Mapping[str, str] = os.environ) -> FileTokenTrace | None:
    """The file trace LLMDASH_TRACE_TOKENS asks for, or None (the default: no observer)."""
    path = environ.get(TRACE_ENV, "")
    return FileTokenTrace(path) if path else None
