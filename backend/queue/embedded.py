"""In-process broker on asyncio queues: the laptop default.

Messages are encoded to bytes on the way in and decoded on the way out, exactly
as they would be on Kafka, so the embedded mode exercises the same contract; chunk events
alone pass as the frozen models they are: 20,000 a second at fifty streaming pages, where
their JSON round trip cost 3.5 us of the one event loop each (the Kafka path and its tests
still encode every one). A run request and a final event travel with the trace context they
were sent in, as on Kafka in the record's headers.

Chunk events wait while CHUNK_BACKLOG events are queued, until the consumer (the event pump)
has taken half of them: an instant model's workers write faster than one pump applies, and
with the pump handing the event loop over between slices (backend/time_slice.py) an unbounded
queue grew to every chunk of the largest request (issue 15), the live view seconds behind and
the garbage collector scanning all of it. Started and final events never wait: a run stopped or
shut down always gets its final event out.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from backend import tracing
from backend.observability import QUEUE_LAG
from backend.queue.base import AnyEvent, Delivery
from backend.queue.messages import CancelRequest, ChunkEvent, RunTask, decode_event
from backend.tracing import NO_TRACE, Carrier

CHUNK_BACKLOG = 1_024  # queued events past which a chunk's publisher waits for the consumer


async def _noop_ack() -> None:
    return None


class EmbeddedBroker:
    """Both sides in one process: the web backend's `RunQueue` and its in-process worker's `WorkSource`."""

    def __init__(self) -> None:
        self._tasks: asyncio.Queue[tuple[bytes, Carrier]] = asyncio.Queue()
        self._events: asyncio.Queue[tuple[bytes | ChunkEvent, Carrier]] = asyncio.Queue()
        self._room = asyncio.Event()  # set while chunk publishers need not wait
        self._room.set()
        self._cancel_listeners: list[asyncio.Queue[bytes]] = []

    async def start(self) -> None:
        QUEUE_LAG.labels("embedded").set_function(lambda: self._tasks.qsize())

    async def stop(self) -> None:
        return None

    async def submit(self, task: RunTask) -> None:
        self._tasks.put_nowait((task.to_bytes(), tracing.outgoing()))

    async def request_cancel(self, cancel: CancelRequest) -> None:
        data = cancel.to_bytes()
        for listener in self._cancel_listeners:
            listener.put_nowait(data)

    async def events(self) -> AsyncIterator[AnyEvent]:
        async for event, _ in self.traced_events():
            yield event

    async def traced_events(self) -> AsyncIterator[tuple[AnyEvent, Carrier]]:
        while True:
            data, trace = await self._events.get()
            if not self._room.is_set() and self._events.qsize() <= CHUNK_BACKLOG // 2:
                self._room.set()
            yield (data if isinstance(data, ChunkEvent) else decode_event(data)), trace

    async def deliveries(self) -> AsyncIterator[Delivery]:
        while True:
            data, trace = await self._tasks.get()
            yield Delivery(task=RunTask.from_bytes(data), ack=_noop_ack, trace=trace)

    async def cancellations(self) -> AsyncIterator[CancelRequest]:
        queue: asyncio.Queue[bytes] = asyncio.Queue()
        self._cancel_listeners.append(queue)
        try:
            while True:
                yield CancelRequest.from_bytes(await queue.get())
        finally:
            self._cancel_listeners.remove(queue)

    async def publish(self, event: AnyEvent) -> None:
        if isinstance(event, ChunkEvent):
            while self._events.qsize() >= CHUNK_BACKLOG:
                self._room.clear()
                await self._room.wait()
            self._events.put_nowait((event, NO_TRACE))
        else:
            self._events.put_nowait((event.to_bytes(), tracing.outgoing()))

    @property
    def pending_tasks(self) -> int:
        return self._tasks.qsize()
