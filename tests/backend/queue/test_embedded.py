"""The in-process broker: tasks, events and cancellations, all through bytes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import TypeVar

import pytest

from backend.queue.embedded import EmbeddedBroker
from backend.queue.messages import CancelRequest, ChunkEvent, FinalEvent, RunTask, StartedEvent

T = TypeVar("T")


async def _listeners(broker: EmbeddedBroker, n: int) -> None:
    """Wait until `n` cancellation listeners are registered (they register on first wait)."""
    for _ in range(100):
        if len(broker._cancel_listeners) == n:
            return
        await asyncio.sleep(0)
    raise AssertionError(f"expected {n} listeners, have {len(broker._cancel_listeners)}")


async def _next(iterator: AsyncIterator[T], timeout: float = 1.0) -> T:
    return await asyncio.wait_for(anext(iterator), timeout)


def _task(run_id: str, attempt: int = 0) -> RunTask:
    return RunTask(run_id=run_id, comparison_id="c", attempt=attempt, model="simulated:instant", prompt="p")


async def test_submitted_tasks_are_delivered_in_order_as_equal_copies() -> None:
    broker = EmbeddedBroker()
    await broker.start()
    tasks = [_task("a"), _task("b", attempt=1), _task("c")]
    for task in tasks:
        await broker.submit(task)
    assert broker.pending_tasks == 3
    deliveries = broker.deliveries()
    received = [await _next(deliveries) for _ in tasks]
    assert [d.task for d in received] == tasks
    assert all(d.task is not t for d, t in zip(received, tasks, strict=True))  # decoded, not shared
    assert broker.pending_tasks == 0
    assert await received[0].ack() is None  # type: ignore[func-returns-value]
    await broker.stop()


async def test_events_are_decoded_to_their_types_in_publish_order() -> None:
    broker = EmbeddedBroker()
    published: list[StartedEvent | ChunkEvent | FinalEvent] = [
        StartedEvent(run_id="r", attempt=0),
        ChunkEvent(run_id="r", attempt=0, seq=0, text="Hel", elapsed_ms=1.0, output_tokens=1),
        ChunkEvent(run_id="r", attempt=0, seq=1, text="lo 🌍", elapsed_ms=2.0, output_tokens=2),
        FinalEvent(run_id="r", attempt=0, status="done", output_text="Hello 🌍", chunks=2, total_ms=3.0),
    ]
    for event in published:
        await broker.publish(event)
    events = broker.events()
    received = [await _next(events) for _ in published]
    assert received == published
    assert [type(e) for e in received] == [StartedEvent, ChunkEvent, ChunkEvent, FinalEvent]


async def test_events_wait_for_a_publish() -> None:
    broker = EmbeddedBroker()
    events = broker.events()
    pending = asyncio.ensure_future(_next(events, timeout=2.0))
    await asyncio.sleep(0.01)
    assert not pending.done()
    await broker.publish(StartedEvent(run_id="late", attempt=0))
    assert await pending == StartedEvent(run_id="late", attempt=0)


async def test_cancellation_fans_out_to_every_listener() -> None:
    broker = EmbeddedBroker()
    first, second = broker.cancellations(), broker.cancellations()
    # A listener registers when it starts waiting; start both before cancelling.
    waits = [asyncio.ensure_future(_next(first)), asyncio.ensure_future(_next(second))]
    await _listeners(broker, 2)
    cancel = CancelRequest(run_id="r1", attempt=2)
    await broker.request_cancel(cancel)
    assert await asyncio.gather(*waits) == [cancel, cancel]


async def test_cancellation_with_no_listener_is_dropped_and_closed_listeners_unregister() -> None:
    broker = EmbeddedBroker()
    await broker.request_cancel(CancelRequest(run_id="nobody", attempt=0))  # must not raise

    listener = broker.cancellations()
    wait = asyncio.ensure_future(_next(listener))
    await _listeners(broker, 1)
    await broker.request_cancel(CancelRequest(run_id="r", attempt=0))
    assert await wait == CancelRequest(run_id="r", attempt=0)
    await listener.aclose()  # type: ignore[attr-defined]
    assert broker._cancel_listeners == []
    await broker.request_cancel(CancelRequest(run_id="r", attempt=1))  # nobody left; no error


async def test_each_listener_sees_every_cancellation_in_order() -> None:
    broker = EmbeddedBroker()
    listener = broker.cancellations()
    wait = asyncio.ensure_future(_next(listener))
    await _listeners(broker, 1)
    cancels = [CancelRequest(run_id=f"r{i}", attempt=i) for i in range(3)]
    for cancel in cancels:
        await broker.request_cancel(cancel)
    got = [await wait, await _next(listener), await _next(listener)]
    assert got == cancels


@pytest.mark.parametrize("n", [1, 50])
async def test_task_queue_is_fifo_under_load(n: int) -> None:
    broker = EmbeddedBroker()
    for i in range(n):
        await broker.submit(_task(f"r{i}"))
    deliveries = broker.deliveries()
    assert [(await _next(deliveries)).task.run_id for _ in range(n)] == [f"r{i}" for i in range(n)]


async def test_chunk_publishers_wait_past_the_backlog_and_finals_never_do() -> None:
    """Back-pressure (issue 15): the event pump hands the loop over between slices, so the
    writers of a long answer must wait for it rather than queue the whole answer."""
    from backend.queue.embedded import CHUNK_BACKLOG

    broker = EmbeddedBroker()

    def chunk(seq: int) -> ChunkEvent:
        return ChunkEvent(run_id="r", attempt=0, seq=seq, text="x", elapsed_ms=0.0, output_tokens=seq + 1)

    for seq in range(CHUNK_BACKLOG):
        await asyncio.wait_for(broker.publish(chunk(seq)), 1.0)  # room: none of these waits
    blocked = asyncio.create_task(broker.publish(chunk(CHUNK_BACKLOG)))
    await asyncio.sleep(0.05)
    assert not blocked.done()
    final = FinalEvent(run_id="r", attempt=0, status="cancelled", output_text="", chunks=0)
    await asyncio.wait_for(broker.publish(final), 1.0)  # a final event goes out even now
    events = broker.events()
    for seq in range(CHUNK_BACKLOG // 2):  # the consumer takes half the backlog: room again
        assert (await _next(events)).seq == seq  # type: ignore[union-attr]
        assert not blocked.done()
    await _next(events)
    await asyncio.wait_for(blocked, 1.0)
    rest = [await _next(events) for _ in range(CHUNK_BACKLOG // 2 + 1)]
    assert isinstance(rest[-2], FinalEvent) and rest[-1].seq == CHUNK_BACKLOG  # type: ignore[union-attr]
