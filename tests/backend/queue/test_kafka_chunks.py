"""The worker's chunk gatherer alone (the records it hands to the producer; test_kafka.py has them
through a real broker): the window it waits follows the rate chunks come at."""

from __future__ import annotations

import asyncio
import json

from backend.queue.kafka_chunks import RATE_PERIOD_S, ChunkGatherer

WINDOW_S = 0.010
QUICK_S = 0.003
QUICK_BELOW = 1_000.0


class _Producer:
    """The other side of the seam: what was handed over, and when."""

    def __init__(self) -> None:
        self.records: list[tuple[int, bytes, str | None]] = []

    async def send(self, partition: int, value: bytes, key: str | None) -> None:
        self.records.append((partition, value, key))


def _chunk(i: int) -> bytes:
    return json.dumps({"i": i}).encode()


async def test_a_burst_gets_the_whole_window_and_a_trickle_the_quick_one() -> None:
    producer = _Producer()
    gatherer = ChunkGatherer(producer.send, WINDOW_S, QUICK_S, QUICK_BELOW)
    assert gatherer.window_s == QUICK_S  # idle at start: the first chunk waits only a little
    for i in range(5_000):  # far over 1,000 a second over the period, however slow the machine
        await gatherer.add(i % 3, f"run-{i % 3}", _chunk(i))
    await gatherer.drain()
    assert len(producer.records) == 3  # one record per partition for the burst
    await asyncio.sleep(RATE_PERIOD_S * 1.5)
    await gatherer.add(0, "run-0", _chunk(5_000))  # its flush ends the rate's period
    await asyncio.sleep(QUICK_S * 4)
    assert len(producer.records) == 4
    assert producer.records[-1] == (0, _chunk(5_000), "run-0")  # a lone chunk goes as itself
    assert gatherer.window_s == WINDOW_S
    # Then two chunks in a period: the worker is idle again.
    await gatherer.add(0, "run-0", _chunk(5_001))
    await asyncio.sleep(RATE_PERIOD_S * 1.5)
    await gatherer.add(0, "run-0", _chunk(5_002))
    await asyncio.sleep(WINDOW_S * 3)
    assert len(producer.records) == 6
    assert gatherer.window_s == QUICK_S


async def test_chunks_that_tick_together_keep_the_quick_window() -> None:
    """Four panes' chunks land in the same moment, 100 times a second: 400 a second, quick
    windows all along (measured over one window, each tick read as a burst)."""
    producer = _Producer()
    gatherer = ChunkGatherer(producer.send, 10.0, QUICK_S, QUICK_BELOW)  # a window no test waits out
    for tick in range(30):
        for pane in range(4):
            await gatherer.add(pane, f"run-{pane}", _chunk(tick * 4 + pane))
        await asyncio.sleep(0.01)
        assert gatherer.window_s == QUICK_S
    await asyncio.sleep(QUICK_S * 4)
    assert len(producer.records) == 120


async def test_a_trickle_goes_within_the_quick_window() -> None:
    producer = _Producer()
    gatherer = ChunkGatherer(producer.send, 10.0, QUICK_S, QUICK_BELOW)  # a window no test waits out
    for i in range(5):
        await gatherer.add(0, "run-0", _chunk(i))
        await asyncio.sleep(QUICK_S * 4)
        assert len(producer.records) == i + 1, "the chunk waited for the long window"
    assert [value for _, value, _ in producer.records] == [_chunk(i) for i in range(5)]


async def test_without_a_quick_window_every_window_is_the_same() -> None:
    producer = _Producer()
    gatherer = ChunkGatherer(producer.send, WINDOW_S)
    assert gatherer.window_s == WINDOW_S
    await gatherer.add(0, "run-0", _chunk(0))
    await gatherer.drain()
    assert gatherer.window_s == WINDOW_S
