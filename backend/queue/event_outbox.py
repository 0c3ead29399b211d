"""A worker's run events on their way to Kafka, several to a message.

One Kafka message per token made the broker, the worker and every web backend
pay a message's fixed cost 16,000 times a second at 160 streams of 100
tokens/s, which is where the Kafka mode's extra latency came from on a small
machine.  Here every event a worker process publishes joins one ordered queue,
and one sender takes whatever has gathered while its previous message was in
flight: at low load an event goes alone at once, under load a message carries
many (natural batching, no timer to wait for).

All of a process's events go in one message stream with one key, so they stay
in order on one partition: a run's chunks never overtake its start, and its
final event never overtakes its chunks.  A run's start and final event return
only once the broker has them (the request is acknowledged after that); chunks
return at once, since a lost chunk is healed by the final event, which carries
the whole text.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from backend.queue.base import AnyEvent
from backend.queue.messages import ChunkEvent, encode_event_batch

log = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 512 * 1024  # well under Kafka's default 1 MB message limit
MAX_QUEUED_CHUNKS = 20_000  # beyond this (broker down) chunk publishers wait for room

Send = Callable[[bytes], Awaitable[None]]


class EventOutbox:
    def __init__(self, send: Send) -> None:
        self._send = send
        self._queue: list[tuple[bytes, asyncio.Future[None] | None]] = []
        self._ready = asyncio.Event()
        self._room = asyncio.Event()
        self._room.set()
        self._idle = asyncio.Event()
        self._idle.set()
        self.messages_sent = 0
        self.events_sent = 0

    async def publish(self, event: AnyEvent) -> None:
        if isinstance(event, ChunkEvent):
            await self._room.wait()
            self._put(event.to_bytes(), None)
            return
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._put(event.to_bytes(), done)
        await done

    def _put(self, data: bytes, done: asyncio.Future[None] | None) -> None:
        self._queue.append((data, done))
        self._idle.clear()
        self._ready.set()
        if len(self._queue) >= MAX_QUEUED_CHUNKS:
            self._room.clear()

    async def run(self) -> None:
        """Send until cancelled (one task per broker client)."""
        while True:
            await self._ready.wait()
            self._ready.clear()
            while self._queue:
                items = self._take()
                try:
                    await self._send(encode_event_batch([data for data, _ in items]))
                except Exception as exc:  # the send gave up retrying: tell whoever waits
                    log.warning("could not send %d run event(s) (%r)", len(items), exc)
                    for _, done in items:
                        if done is not None and not done.done():
                            done.set_exception(exc)
                else:
                    self.messages_sent += 1
                    self.events_sent += len(items)
                    for _, done in items:
                        if done is not None and not done.done():
                            done.set_result(None)
                if len(self._queue) < MAX_QUEUED_CHUNKS:
                    self._room.set()
            self._idle.set()

    def _take(self) -> list[tuple[bytes, asyncio.Future[None] | None]]:
        size, count = 0, 0
        for data, _ in self._queue:
            if count and size + len(data) > MAX_MESSAGE_BYTES:
                break
            size += len(data) + 1
            count += 1
        items, self._queue = self._queue[:count], self._queue[count:]
        return items

    async def drain(self, timeout_s: float) -> bool:
        """Wait until everything queued so far was sent (shutdown); False on timeout."""
        try:
            await asyncio.wait_for(self._idle.wait(), timeout_s)
        except TimeoutError:
            return False
        return True
