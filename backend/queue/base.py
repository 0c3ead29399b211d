"""The broker interface shared by the embedded queue and Kafka."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from backend.queue.messages import CancelRequest, ChunkEvent, FinalEvent, RunTask, StartedEvent

AnyEvent = StartedEvent | ChunkEvent | FinalEvent


@dataclass(frozen=True, slots=True)
class Delivery:
    """A task handed to a worker; `ack` is called once its final event is published."""

    task: RunTask
    ack: Callable[[], Awaitable[None]]
    # Kafka: send the original request to the dead-letter topic with a reason (poison message).
    dead_letter: Callable[[str], Awaitable[None]] | None = None


class Broker(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    # --- web backend side -------------------------------------------------
    async def submit(self, task: RunTask) -> None: ...

    async def request_cancel(self, cancel: CancelRequest) -> None: ...

    def events(self) -> AsyncIterator[AnyEvent]: ...

    # --- worker side -------------------------------------------------------
    def deliveries(self) -> AsyncIterator[Delivery]: ...

    def cancellations(self) -> AsyncIterator[CancelRequest]: ...

    async def publish(self, event: AnyEvent) -> None: ...
