"""The queue's two sides, as the code that uses each one sees it.

`RunQueue` is what the web backend needs (send runs and stops, read events);
`WorkSource` is what a worker needs (take runs and stops, publish events).  The
embedded queue serves both in one process; Kafka serves the side its role asks
for.  What only some queues can do is a capability of its own (`RemoteWorkers`),
checked with isinstance on the protocol, so callers never name a queue class.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from backend.queue.messages import CancelRequest, ChunkEvent, FinalEvent, RunTask, StartedEvent
from backend.tracing import NO_TRACE, Carrier

AnyEvent = StartedEvent | ChunkEvent | FinalEvent


@dataclass(frozen=True, slots=True)
class Delivery:
    """A task handed to a worker; `ack` is called once its final event is published."""

    task: RunTask
    ack: Callable[[], Awaitable[None]]
    # Kafka: send the original request to the dead-letter topic with a reason (poison message).
    dead_letter: Callable[[str], Awaitable[None]] | None = None
    # The trace context the request was sent with (backend/tracing.py): the run's spans join it.
    trace: Carrier = field(default_factory=lambda: NO_TRACE)


class RunQueue(Protocol):
    """The web backend's side: runs and stop requests go out, their events come back."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def submit(self, task: RunTask) -> None: ...

    async def request_cancel(self, cancel: CancelRequest) -> None: ...

    def events(self) -> AsyncIterator[AnyEvent]: ...

    def traced_events(self) -> AsyncIterator[tuple[AnyEvent, Carrier]]:
        """The events, each with the trace context it was published in (empty for chunks, and
        while tracing is off)."""
        ...


@runtime_checkable
class WorkSource(Protocol):
    """A worker's side: runs and stop requests come in, their events go out."""

    def deliveries(self) -> AsyncIterator[Delivery]: ...

    def cancellations(self) -> AsyncIterator[CancelRequest]: ...

    async def publish(self, event: AnyEvent) -> None: ...


@runtime_checkable
class RemoteWorkers(Protocol):
    """A queue served by worker processes elsewhere, whose requests outlive this process.

    The web backend then runs no worker of its own, leaves a previous process's
    unfinished runs to those workers, and reports the queue's reachability and
    which workers sent a heartbeat lately.
    """

    name: str  # how health reports call the queue

    async def reachable(self) -> bool: ...

    def live_workers(self, max_age_s: float) -> list[str]: ...
