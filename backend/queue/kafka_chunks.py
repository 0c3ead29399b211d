"""A worker's chunks, gathered per partition for one linger window and sent as one record each.

Every chunk was a Kafka record of its own: at 20 sessions (84 runs x 100 chunks a second) that
is 8,400 records a second, and each costs every process on the way something whatever its size:
the worker's `send` (a future, the partitioner, the batch append), the broker's validation of
each record of a batch, and the web process's record parsing (bench/kafka_intake.py measures
them).  The producer already held chunks for its linger (10 ms) before sending them, so holding
them here for the same window and appending what gathered as one record per partition
(`ChunkBatch`, built from the chunks' own JSON) delays nothing; the producer then sends at once
(its linger is for other sends).  A lone chunk in its window goes as the plain chunk record it
always was.

Order is kept: a run's chunks share its partition and are gathered in order, hand-overs to the
producer run one after another, and `flush` (awaited before a run's final event, or anything
else, is sent) hands over what waits first.  While the producer takes nothing (the broker is
down), at most two windows wait here before publishers are held back, as `send` held them when
the producer's batch was full.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from backend.queue.messages import chunk_batch_bytes

log = logging.getLogger(__name__)

# A gathered record stays well under the producer's batch (512 KiB) and the broker's default
# message.max.bytes (1 MiB); a cache replay publishes thousands of chunks in one window.
RECORD_BYTES = 256 * 1024
BEHIND = 2  # hand-overs not done yet before a publisher waits for them

# (partition, value, key of a lone chunk's run or None for a batch) -> appended to the producer
SendRecord = Callable[[int, bytes, str | None], Awaitable[None]]


class ChunkGatherer:
    def __init__(self, send: SendRecord, window_s: float) -> None:
        self._send = send
        self._window_s = window_s
        self._waiting: dict[int, list[tuple[str, bytes]]] = {}  # partition -> (run id, chunk JSON)
        self._bytes: dict[int, int] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._last: asyncio.Task[None] | None = None  # the latest hand-over (each awaits the one before)
        self._behind = 0

    async def add(self, partition: int, run_id: str, chunk: bytes) -> None:
        """Gather one chunk (returns at once unless hand-overs are `BEHIND`)."""
        if self._behind >= BEHIND and self._last is not None:
            await asyncio.shield(self._last)
        self._waiting.setdefault(partition, []).append((run_id, chunk))
        size = self._bytes[partition] = self._bytes.get(partition, 0) + len(chunk)
        if size >= RECORD_BYTES:
            self.flush()
        elif self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self._window_s, self.flush)

    def flush(self) -> asyncio.Task[None] | None:
        """Hand what waits to the producer, after the hand-overs before; the task doing it (None:
        nothing was ever handed over)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._waiting:
            records: list[tuple[int, bytes, str | None]] = [
                (partition, chunks[0][1], chunks[0][0])
                if len(chunks) == 1
                else (partition, chunk_batch_bytes([chunk for _, chunk in chunks]), None)
                for partition, chunks in self._waiting.items()
            ]
            self._waiting, self._bytes = {}, {}
            self._behind += 1
            self._last = asyncio.ensure_future(self._hand_over(self._last, records))
        return self._last

    async def drain(self) -> None:
        """Flush and wait until the producer has everything gathered (not its acknowledgement)."""
        last = self.flush()
        if last is not None:
            await asyncio.shield(last)

    async def _hand_over(
        self, before: asyncio.Task[None] | None, records: list[tuple[int, bytes, str | None]]
    ) -> None:
        try:
            if before is not None:
                with contextlib.suppress(Exception):
                    await asyncio.shield(before)
            for partition, value, key in records:
                try:
                    await self._send(partition, value, key)
                except Exception as exc:  # lost to live viewers only: the final event has the text
                    log.warning("chunks for partition %s were not sent: %r", partition, exc)
        finally:
            self._behind -= 1
