"""The event pump: broker events -> hub (live view) and database (final record).

Chunks only touch memory.  Saving the final record happens in its own task so
a slow database never holds up the chunks of other runs.  A save that fails on the
connection (database restarted, connection dropped mid-transaction) is tried again
with backoff: it is one transaction guarded by the run's attempt and status, so a
retry either writes the whole record once or finds it already written.  The save is a span
(`run.save`) of the trace the final event came with: the worker's run, and through it the
request that queued it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from opentelemetry.trace import SpanKind
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from backend import tracing
from backend.db.engine import Database
from backend.db.runs import save_final_event
from backend.queue.base import RunQueue
from backend.queue.messages import FinalEvent
from backend.streaming.hub import RunHub
from backend.time_slice import TimeSlice
from backend.tracing import Carrier

log = logging.getLogger(__name__)

SAVE_RETRY_S = 120.0  # keep trying to save a final record this long (the database is down)
# Failures worth another try: the connection or the pool, not a bug in what we write.
TRANSIENT_DB_ERRORS = (DBAPIError, PoolTimeout, OSError, TimeoutError)


FinalHook = Callable[[FinalEvent], Awaitable[None]]


class EventPump:
    def __init__(self, broker: RunQueue, hub: RunHub, db: Database) -> None:
        self._broker = broker
        self._hub = hub
        self._db = db
        self._saves: set[asyncio.Task[None]] = set()
        # Called after a final result is saved (the LLM judge stores its verdict then).
        self.after_save: FinalHook | None = None

    async def run(self) -> None:
        # Neither the queue's get (with events waiting) nor the hub's apply suspends: without the
        # slice a backlog of thousands of chunks was applied in one go (issue 15: 200-500 ms).
        budget = TimeSlice()
        async for event, trace in self._broker.traced_events():
            if budget.spent():
                await budget.pause()
            live = self._hub.fold(event)
            if live is None:
                continue
            # A started run is marked running in the database by the worker's claim
            # (backend/db/leases.py), so only final events are written here.
            if isinstance(event, FinalEvent):
                self._spawn(self._traced_save(event, trace))

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self._saves.add(task)
        task.add_done_callback(self._saves.discard)

    async def drain(self) -> None:
        """Wait for the saves in flight (used on shutdown and by tests)."""
        while self._saves:
            await asyncio.gather(*list(self._saves), return_exceptions=True)

    async def _traced_save(self, event: FinalEvent, trace: Carrier) -> None:
        attributes = {
            "llmdash.run_id": event.run_id,
            "llmdash.attempt": event.attempt,
            "llmdash.status": event.status,
        }
        with tracing.span("run.save", kind=SpanKind.CONSUMER, parent=trace, attributes=attributes):
            await self._save(event)

    async def _save(self, event: FinalEvent) -> None:
        deadline = time.monotonic() + SAVE_RETRY_S
        delay = 0.2
        while True:
            try:
                await self._save_once(event)
                break
            except TRANSIENT_DB_ERRORS as exc:
                if time.monotonic() + delay > deadline:
                    log.exception("could not save the result of run %s; giving up", event.run_id)
                    return
                log.warning(
                    "saving the result of run %s failed (%s); retrying in %.1f s",
                    event.run_id,
                    type(exc).__name__,
                    delay,
                )
            except Exception:
                log.exception("could not save the result of run %s", event.run_id)
                return
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)
        live = self._hub.get(event.run_id)
        if live is not None and live.attempt == event.attempt:
            live.saved = True
        if self.after_save is not None:
            try:
                await self.after_save(event)
            except Exception:  # the verdict is settled again when it is read
                log.exception("the after-save hook failed for run %s", event.run_id)

    async def _save_once(self, event: FinalEvent) -> None:
        await save_final_event(self._db, event)
