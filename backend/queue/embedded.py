"""In-process broker on asyncio queues: the laptop default.

Messages are encoded to bytes on the way in and decoded on the way out, exactly
as they would be on Kafka, so the embedded mode exercises the same contract.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from backend.queue.base import AnyEvent, Delivery
from backend.queue.messages import CancelRequest, RunTask, decode_event


async def _noop_ack() -> None:
    return None


class EmbeddedBroker:
    """Both sides in one process: the web backend's `RunQueue` and its in-process worker's `WorkSource`."""

    def __init__(self) -> None:
        self._tasks: asyncio.Queue[bytes] = asyncio.Queue()
        self._events: asyncio.Queue[bytes] = asyncio.Queue()
        self._cancel_listeners: list[asyncio.Queue[bytes]] = []

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def submit(self, task: RunTask) -> None:
        self._tasks.put_nowait(task.to_bytes())

    async def request_cancel(self, cancel: CancelRequest) -> None:
        data = cancel.to_bytes()
        for listener in self._cancel_listeners:
            listener.put_nowait(data)

    async def events(self) -> AsyncIterator[AnyEvent]:
        while True:
            yield decode_event(await self._events.get())

    async def deliveries(self) -> AsyncIterator[Delivery]:
        while True:
            data = await self._tasks.get()
            yield Delivery(task=RunTask.from_bytes(data), ack=_noop_ack)

    async def cancellations(self) -> AsyncIterator[CancelRequest]:
        queue: asyncio.Queue[bytes] = asyncio.Queue()
        self._cancel_listeners.append(queue)
        try:
            while True:
                yield CancelRequest.from_bytes(await queue.get())
        finally:
            self._cancel_listeners.remove(queue)

    async def publish(self, event: AnyEvent) -> None:
        self._events.put_nowait(event.to_bytes())

    @property
    def pending_tasks(self) -> int:
        return self._tasks.qsize()
